/**
 * Multi-threaded wasm under Node (src/backend/threads.ts): each case runs in a process of its
 * own, so that it starts from a clean TF.js and must exit by itself.
 */
import { lastJson, runChild } from './child';

/** Initialises wasm with `threads`, computes a few things, prints them and the globals' state. */
function computeScript(threads: number | 'default', release: boolean): string {
  return `
const tf = src('tf.ts');
const os = require('os');
const { initBackend, releaseBackend } = src('backend/index.ts');
const { installTrainingKernels } = src('backend/gradients/index.ts');
const { MultiStepNeuron, validateNeuronConfig } = src('snn/neuron.ts');
const createBefore = URL.createObjectURL;
const cpusBefore = os.cpus;
const workerBefore = Object.prototype.hasOwnProperty.call(globalThis, 'Worker');
(async () => {
  const info = await initBackend({ backend: 'wasm', env: {}${threads === 'default' ? '' : `, threads: ${threads}`} }, [installTrainingKernels]);
  const a = tf.randomNormal([96, 200], 0, 1, 'float32', 1);
  const b = tf.randomNormal([200, 64], 0, 1, 'float32', 2);
  const x = tf.randomNormal([4, 10, 10, 16], 0, 1, 'float32', 3);
  const w = tf.randomNormal([3, 3, 16, 24], 0, 0.2, 'float32', 4);
  const out = tf.tidy(() => {
    const mm = tf.matMul(a, b);
    const conv = tf.conv2d(x, w, 1, 'same');
    const g = tf.grad((ww) => tf.sum(tf.square(tf.conv2d(x, ww, 1, 'same'))))(w);
    const n = new MultiStepNeuron(validateNeuronConfig({}));
    const spikes = n.forward(tf.reshape(conv, [4, 1, 10, 10, 24]));
    return { mm: Array.from(mm.dataSync()), conv: Array.from(conv.dataSync()), grad: Array.from(g.dataSync()), spikes: Array.from(spikes.dataSync()) };
  });
  const globalsRestored = URL.createObjectURL === createBefore && os.cpus === cpusBefore &&
    Object.prototype.hasOwnProperty.call(globalThis, 'Worker') === workerBefore &&
    tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') === false;
  ${release ? 'releaseBackend();' : ''}
  console.log(JSON.stringify({ info, globalsRestored, out }));
})().catch((e) => { console.error(e); process.exit(2); });
`;
}

interface ChildOut {
  info: { threads: number; simd: boolean; threadsNote?: string };
  globalsRestored: boolean;
  out: Record<string, number[]>;
}

function maxRelDiff(a: number[], b: number[]): number {
  let d = 0;
  let m = 1;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

describe('threaded wasm in Node', () => {
  let single: ChildOut;
  beforeAll(() => {
    const r = runChild(computeScript(1, true));
    expect(r.status).toBe(0);
    single = lastJson<ChildOut>(r);
  });

  it('runs one thread when asked for 1 (the single-threaded SIMD build)', () => {
    expect(single.info.threads).toBe(1);
    expect(single.info.simd).toBe(true);
    expect(single.globalsRestored).toBe(true);
  });

  it('runs 2 threads when asked, computes what 1 thread computes, restores globals, exits by itself', () => {
    const r = runChild(computeScript(2, false), 60_000);
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(0);
    const got = lastJson<ChildOut>(r);
    expect(got.info.threads).toBe(2);
    expect(got.info.threadsNote).toBeUndefined();
    expect(got.globalsRestored).toBe(true);
    for (const k of Object.keys(single.out)) {
      expect(got.out[k]).toHaveLength(single.out[k].length);
      if (!(maxRelDiff(got.out[k], single.out[k]) <= 1e-5)) throw new Error(`${k} differs between 1 and 2 threads`);
    }
    expect(got.out.spikes).toEqual(single.out.spikes);
  });

  it('says so when --threads asks for more than the threaded build has (issue 13)', () => {
    const r = runChild(`
const { initBackend, releaseBackend } = src('backend/index.ts');
process.on('warning', (w) => console.error('WARNING ' + w.message));
(async () => {
  const info = await initBackend({ backend: 'wasm', env: {}, threads: 1000 });
  console.log(JSON.stringify({ threads: info.threads }));
  releaseBackend();
})();`, 60_000);
    expect(r.status).toBe(0);
    const got = lastJson<{ threads: number }>(r);
    if (got.threads > 1) expect(r.stderr).toContain(`WARNING --threads 1000: the threaded build started ${got.threads} of 1000 threads (it has at most 8); using ${got.threads}`);
    else expect(r.stderr).toMatch(/WARNING --threads 1000: /);
  });

  it('defaults to all cores and exits after releaseBackend', () => {
    const r = runChild(computeScript('default', true), 60_000);
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(0);
    const got = lastJson<ChildOut>(r);
    const cores = require('os').availableParallelism?.() ?? require('os').cpus().length;
    expect(got.info.threads).toBe(Math.min(cores, 8));
    expect(got.globalsRestored).toBe(true);
  });
});
