/**
 * The fused training-mode BatchNorm (src/snn/fused/batch-norm.ts) against the composed path:
 * output, running statistics and the gradients of x, weight and bias within 1e-5 (relative to
 * the largest value), on wasm and cpu; no tensors left behind.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { setFusedKernels } from '../../src/snn/fused';
import { BatchNorm } from '../../src/snn/layers/batch-norm';
import { TRAINING } from '../../src/snn/module';

function values(n: number, seed: number, scale: number, offset: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * scale + offset;
  }
  return out;
}

interface Out {
  y: Float32Array;
  rm: Float32Array;
  rv: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

function run(fused: boolean, shape: number[]): Out {
  const prev = setFusedKernels(fused);
  const c = shape[shape.length - 1];
  const bn = new BatchNorm(c);
  try {
    tf.tidy(() => {
      bn.weight.assign(tf.tensor1d(values(c, 3, 1, 1)));
      bn.bias.assign(tf.tensor1d(values(c, 4, 1, 0)));
    });
    return tf.tidy(() => {
      const n = shape.reduce((p, v) => p * v, 1);
      const x = tf.tensor(values(n, 5, 6, 2), shape);
      const w = tf.tensor(values(n, 6, 2, 0), shape);
      const y = bn.forward(x, TRAINING).dataSync().slice();
      const rm = bn.runningMean.dataSync().slice();
      const rv = bn.runningVar.dataSync().slice();
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.forward(x, TRAINING), w)) as tf.Scalar, [bn.weight, bn.bias]);
      const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(bn.forward(xx, TRAINING), w)))(x).dataSync().slice();
      return { y, rm, rv, dx, dw: grads[bn.weight.name].dataSync().slice(), db: grads[bn.bias.name].dataSync().slice() } as unknown as void;
    }) as unknown as Out;
  } finally {
    setFusedKernels(prev);
    bn.dispose();
  }
}

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  let d = 0;
  let m = 1;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  if (!(d <= 1e-5 * m)) throw new Error(`${what}: max diff ${d} (scale ${m})`);
}

describe.each(['cpu', 'wasm'])('fused BatchNorm on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, threads: 1, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  for (const shape of [[6, 5], [4, 3, 3, 7], [2, 2, 8, 16], [3, 50, 12], [2, 70, 48]]) {
    it(`equals the composed path for [${shape.join(', ')}]`, () => {
      const want = run(false, shape);
      const got = run(true, shape);
      for (const k of ['y', 'rm', 'rv', 'dx', 'dw', 'db'] as const) expectClose(got[k], want[k], k);
    });
  }

  it('leaves no tensors behind', () => {
    run(true, [4, 6]);
    const before = tf.memory().numTensors;
    run(true, [4, 6]);
    run(true, [4, 6]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
