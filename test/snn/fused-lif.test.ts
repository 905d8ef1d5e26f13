/**
 * The fused multi-step LIF / IF kernels against MultiStepNeuron's composed path (the oracle):
 * identical spikes and input gradients within 1e-5, for every supported setting, on the wasm
 * and the pure-JS cpu backends; no tensors left behind.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { fusedKernelsEnabled, fusedLifSupports, setFusedKernels } from '../../src/snn/fused';
import { MultiStepNeuron, validateNeuronConfig } from '../../src/snn/neuron';
import { SURROGATE_NAMES, type NeuronConfig } from '../../src/snn/neuron-config';

function rand(n: number, seed: number, scale: number, offset: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * scale + offset;
  }
  return out;
}

const SHAPE = [4, 3, 5, 7]; // T, B, ... (N = 105: the SIMD backward needs N % 4 = 0 and is skipped)
const SHAPE4 = [4, 2, 6, 8]; // N = 96: the wasm SIMD kernels throughout
const N = SHAPE.reduce((p, v) => p * v, 1);

interface Run {
  spikes: Float32Array;
  grad: Float32Array;
}

/** Spikes and d(sum(spikes * w))/dx through `forward`. */
function run(n: MultiStepNeuron, fused: boolean, seed: number, shape = SHAPE): Run {
  const prev = setFusedKernels(fused);
  const size = shape.reduce((p, v) => p * v, 1);
  try {
    return tf.tidy(() => {
      const x = tf.tensor(rand(size, seed, 3, -0.5), shape);
      const w = tf.tensor(rand(size, seed + 1, 2, -1), shape);
      const f = (xx: tf.Tensor) => tf.sum(tf.mul(fused ? n.forward(xx) : n.forwardComposed(xx), w));
      const spikes = (fused ? n.forward(x) : n.forwardComposed(x)).dataSync() as Float32Array;
      const grad = tf.grad(f)(x).dataSync() as Float32Array;
      return { spikes: spikes.slice(), grad: grad.slice() } as unknown as void;
    }) as unknown as Run;
  } finally {
    setFusedKernels(prev);
  }
}

function configs(): NeuronConfig[] {
  const out: NeuronConfig[] = [];
  for (const kind of ['lif', 'if'] as const) {
    for (const vReset of [0, -0.25, null]) {
      for (const detachReset of [true, false]) {
        for (const name of SURROGATE_NAMES) {
          out.push(validateNeuronConfig({ kind, tau: kind === 'lif' ? 1.7 : 2, vThreshold: 0.8, vReset, detachReset, surrogate: { name } }));
        }
      }
    }
  }
  // the reference setting (LIF tau 2, V_th 1, hard reset 0, detach, sigmoid 4) and threshold 0.5
  out.push(validateNeuronConfig({}), validateNeuronConfig({ vThreshold: 0.5 }));
  return out;
}

function label(c: NeuronConfig): string {
  return `${c.kind} tau ${c.tau} vth ${c.vThreshold} vReset ${c.vReset} detach ${c.detachReset} ${c.surrogate.name}(${c.surrogate.alpha})`;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe.each(['cpu', 'wasm'])('fused LIF/IF on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  it('is on by default', () => {
    expect(fusedKernelsEnabled()).toBe(true);
  });

  it('supports LIF and IF, not PLIF', () => {
    expect(fusedLifSupports(validateNeuronConfig({ kind: 'lif' }))).toBe(true);
    expect(fusedLifSupports(validateNeuronConfig({ kind: 'if' }))).toBe(true);
    expect(fusedLifSupports(validateNeuronConfig({ kind: 'plif' }))).toBe(false);
  });

  it.each([['N % 4 != 0', SHAPE], ['N % 4 = 0', SHAPE4]])('equals the composed path (spikes exactly, input gradient within 1e-5) for every setting (%s)', (_, shape) => {
    let firing = 0;
    for (const [i, cfg] of configs().entries()) {
      const n = new MultiStepNeuron(cfg);
      const want = run(n, false, 100 + i, shape as number[]);
      const got = run(n, true, 100 + i, shape as number[]);
      const ds = maxAbsDiff(got.spikes, want.spikes);
      if (ds !== 0) throw new Error(`${label(cfg)}: spikes differ`);
      const dg = maxAbsDiff(got.grad, want.grad);
      if (!(dg <= 1e-5)) throw new Error(`${label(cfg)}: gradient differs by ${dg}`);
      firing += want.spikes.reduce((s, v) => s + v, 0) / want.spikes.length;
      n.dispose();
    }
    // the inputs exercise both sides of the threshold
    expect(firing / configs().length).toBeGreaterThan(0.1);
    expect(firing / configs().length).toBeLessThan(0.9);
  });

  it('gives finite gradients far below and far above the threshold (membranes of +-1000; SIMD e up to 2^126)', () => {
    // the SIMD surrogate once computed alpha e / (1 + e)^2 with alpha e and (1 + e)^2 both
    // overflowing float32 far below the threshold: Inf / Inf = NaN gradients that poisoned training
    for (const shape of [SHAPE, SHAPE4]) {
      const size = shape.reduce((p, v) => p * v, 1);
      const n = new MultiStepNeuron(validateNeuronConfig({}));
      const grads = tf.tidy(() => {
        const x = tf.tensor(rand(size, 11, 2000, -1000), shape);
        const w = tf.tensor(rand(size, 12, 2, -1), shape);
        const fused = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(n.forward(xx), w)))(x).dataSync() as Float32Array;
        const composed = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(n.forwardComposed(xx), w)))(x).dataSync() as Float32Array;
        return [fused.slice(), composed.slice()] as unknown as void;
      }) as unknown as [Float32Array, Float32Array];
      expect(grads[0].every((g) => Number.isFinite(g))).toBe(true);
      expect(maxAbsDiff(grads[0], grads[1])).toBeLessThanOrEqual(1e-5);
      n.dispose();
    }
  });

  it('casts non-float inputs and takes any rank >= 2', () => {
    const n = new MultiStepNeuron(validateNeuronConfig({ kind: 'if', vThreshold: 1 }));
    const x = tf.tensor2d([[1, 0], [0, 2], [1, 1]], [3, 2], 'int32');
    const s = n.forward(x);
    expect(Array.from(s.dataSync())).toEqual([1, 0, 0, 1, 1, 1]);
    tf.dispose([x, s]);
  });

  it('leaves no tensors behind across forward + backward', () => {
    const n = new MultiStepNeuron(validateNeuronConfig({}));
    const x = tf.tensor(rand(N, 7, 3, -0.5), SHAPE);
    const step = () => tf.tidy(() => {
      tf.grad((xx: tf.Tensor) => tf.sum(n.forward(xx)))(x).dataSync();
    });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
