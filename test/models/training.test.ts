/**
 * End-to-end training of the tiny image encoder. Runs on the wasm backend with the project's
 * training kernels: the pure-JS cpu backend's conv filter gradient takes ~110 s per step here
 * (ENGINE-NOTES: never train on it), wasm takes ~0.15 s.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { SpikeClipImageEncoder, getPreset } from '../../src/models';
import { TRAINING } from '../../src/snn';
import { alignmentLoss } from '../../src/train/losses';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' }, [installTrainingKernels]);
});

afterAll(() => {
  releaseBackend();
});

function step(enc: SpikeClipImageEncoder, opt: tf.Optimizer, x: tf.Tensor, target: tf.Tensor): number {
  const loss = opt.minimize(() => alignmentLoss(enc.forward(x, TRAINING), target), true, enc.trainableVariables()) as tf.Scalar;
  const v = loss.dataSync()[0];
  loss.dispose();
  return v;
}

describe('training the tiny image encoder', () => {
  test('30 Adam steps on a fixed batch of 4 drive the alignment loss clearly down', () => {
    const enc = new SpikeClipImageEncoder(getPreset('spikeclip-tiny').image, { seed: 1 });
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 11);
    const target = tf.randomNormal([4, 512], 0, 1, 'float32', 12);
    const opt = tf.train.adam(1e-2);
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) losses.push(step(enc, opt, x, target));
    expect(losses.every(Number.isFinite)).toBe(true);
    // random 512-d targets: the initial loss is ~1 (cos ~ 0)
    expect(losses[0]).toBeGreaterThan(0.8);
    const last = Math.min(...losses.slice(-5));
    expect(last).toBeLessThan(0.5 * losses[0]);
    // and the encoder really learnt the targets (inference mode, running statistics)
    const evalLoss = tf.tidy(() => alignmentLoss(enc.forward(x), target).dataSync()[0]);
    expect(evalLoss).toBeLessThan(losses[0]);
    opt.dispose();
    tf.dispose([x, target]);
    enc.dispose();
  });

  test('tf.memory().numTensors stays flat over 100 training steps (batch 2)', () => {
    const enc = new SpikeClipImageEncoder(getPreset('spikeclip-tiny').image, { seed: 2 });
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 21);
    const target = tf.randomNormal([2, 512], 0, 1, 'float32', 22);
    const opt = tf.train.adam(1e-3);
    step(enc, opt, x, target); // the optimiser allocates its moments on the first step
    const after1 = tf.memory().numTensors;
    const counts: number[] = [];
    for (let i = 1; i < 100; i++) {
      step(enc, opt, x, target);
      if (i % 10 === 0) counts.push(tf.memory().numTensors);
    }
    expect(counts.every((c) => c === after1)).toBe(true);
    opt.dispose();
    tf.dispose([x, target]);
    enc.dispose();
  });
});
