/**
 * The frugal backpropagation (src/backend/gradients/frugal-backprop.ts) computes the gradients
 * tfjs-core's does, leaves no tensors behind, and frees memory during the backward pass.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installFrugalBackprop, uninstallFrugalBackprop } from '../../src/backend/gradients/frugal-backprop';
import { installTrainingKernels } from '../../src/backend/gradients';
import { getPreset } from '../../src/models/config';
import { SpikeClipImageEncoder } from '../../src/models/image-encoder';
import { TRAINING } from '../../src/snn/module';
import { alignmentLoss } from '../../src/train/losses';

function encoderGrads(enc: SpikeClipImageEncoder, x: tf.Tensor, target: tf.Tensor): Map<string, Float32Array> {
  const named = enc.namedParameters();
  const { value, grads } = tf.variableGrads(() => alignmentLoss(enc.forward(x, TRAINING), target) as tf.Scalar, named.map(([, v]) => v));
  const out = new Map<string, Float32Array>();
  for (const [n, v] of named) if (grads[v.name]) out.set(n, grads[v.name].dataSync().slice() as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe.each(['cpu', 'wasm'])('frugal backprop on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, threads: 1, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => {
    installFrugalBackprop();
    releaseBackend();
  });

  // (the pure-JS cpu backend's conv filter gradient takes minutes even for the tiny preset)
  (backend === 'wasm' ? it : it.skip)('gives the same gradients as tfjs-core for the image encoder, without leaking', () => {
    const cfg = getPreset('spikeclip-tiny').image;
    const enc = new SpikeClipImageEncoder(cfg, { seed: 4 });
    const x = tf.randomNormal([3, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 1);
    const target = tf.randomNormal([3, cfg.outputDim], 0, 1, 'float32', 2);
    uninstallFrugalBackprop();
    const want = encoderGrads(enc, x, target);
    installFrugalBackprop();
    const before = tf.memory().numTensors;
    const got = encoderGrads(enc, x, target);
    expect(tf.memory().numTensors).toBe(before);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [n, g] of want) {
      const h = got.get(n) as Float32Array;
      for (let i = 0; i < g.length; i++) if (h[i] !== g[i]) throw new Error(`${n}[${i}]: ${h[i]} != ${g[i]}`);
    }
    tf.dispose([x, target]);
    enc.dispose();
  });

  it('handles pass-through gradients, a given dy, and second-order gradients', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const f = (t: tf.Tensor) => tf.add(tf.mul(t, t), tf.reshape(tf.clone(t), [3])); // Identity/Reshape pass dy through
    const g1 = tf.grad(f)(x);
    expect(Array.from(g1.dataSync())).toEqual([3, 5, 7]);
    const dy = tf.tensor1d([1, 0, 2]);
    const g2 = tf.grad(f)(x, dy);
    expect(Array.from(g2.dataSync())).toEqual([3, 0, 14]);
    expect(dy.isDisposed).toBe(false);
    const gg = tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.mul(u, u), u)))(t)))(x); // d/dx sum(3x^2) = 6x
    expect(Array.from(gg.dataSync())).toEqual([6, 12, 18]);
    tf.dispose([x, g1, dy, g2, gg]);
  });
});
