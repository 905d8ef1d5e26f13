import * as tf from '../../src/tf';
import { SpikeClipImageEncoder, getPreset, imageEncoderLayers } from '../../src/models';
import { INFERENCE, SpikeMonitor, TRAINING } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny = () => getPreset('spikeclip-tiny').image;

function images(b: number, seed: number, size = 32): tf.Tensor4D {
  return tf.randomNormal([b, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

describe('SpikeClipImageEncoder', () => {
  test('names follow the reference Vision_Encoder', () => {
    const enc = new SpikeClipImageEncoder(tiny(), { seed: 1 });
    const names = enc.namedParameters().map(([n]) => n);
    expect(names.slice(0, 4)).toEqual(['weights_tensor', 'patch_embed.block0_conv.weight', 'patch_embed.block0_bn.weight', 'patch_embed.block0_bn.bias']);
    expect(names).toContain('block.0.attn.q_conv.weight');
    expect(names).not.toContain('block.0.attn.q_conv.bias');
    expect(names).toContain('block.0.attn.proj_conv.bias');
    expect(names).toContain('block.0.mlp.mlp2_conv.bias');
    expect(names.slice(-2)).toEqual(['proj.weight', 'proj.bias']);
    expect(enc.namedBuffers().map(([n]) => n)).toContain('patch_embed.block4_bn.running_var');
    expect(Array.from(enc.weights_tensor.dataSync())).toEqual([Math.fround(Math.log(0.4)), Math.fround(Math.log(0.8))]);
    expect(enc.proj.weight.shape).toEqual([64, 512]);
    expect(Array.from((enc.proj.bias as tf.Variable).dataSync()).every((v) => v === 0)).toBe(true);
    enc.dispose();
  });

  test('shapes: [B, 32, 32, 3] -> [T, B, 64, D] features -> [B, 512]; deterministic in inference', () => {
    const enc = new SpikeClipImageEncoder(tiny(), { seed: 2 });
    const x = images(3, 1);
    const tokens = enc.patch_embed.forward(x, INFERENCE);
    expect(tokens.shape).toEqual([2, 3, 64, 64]);
    const f = enc.features(x, INFERENCE);
    expect(f.shape).toEqual([2, 3, 64]);
    const y1 = enc.forward(x, INFERENCE);
    const y2 = enc.forward(x, INFERENCE);
    expect(y1.shape).toEqual([3, 512]);
    expect(Array.from(y1.dataSync())).toEqual(Array.from(y2.dataSync()));
    // samples are independent in inference mode (BN uses running stats)
    const one = enc.forward(tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1]), INFERENCE);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(one, tf.slice(y1, [1, 0], [1, -1])))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-5);
    expect(() => enc.forward(images(1, 2, 16))).toThrow(/expected images \[B, 32, 32, 3\] \(NHWC\), got \[1, 16, 16, 3\]/);
    tf.dispose([x, tokens, f, y1, y2, one]);
    enc.dispose();
  });

  test('training mode updates BN running stats and does not leak', () => {
    const enc = new SpikeClipImageEncoder(tiny(), { seed: 3 });
    const x = images(2, 4);
    const before = tf.memory().numTensors;
    const y = enc.forward(x, TRAINING);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const rm = enc.patch_embed.bns[0].runningMean.dataSync();
    expect(Array.from(rm).some((v) => v !== 0)).toBe(true);
    x.dispose();
    enc.dispose();
  });

  test('monitor: one record per synaptic layer, agreeing with imageEncoderLayers and a manual spike count', () => {
    const cfg = tiny();
    const enc = new SpikeClipImageEncoder(cfg, { seed: 4 });
    const b = 2;
    const x = images(b, 5);
    const monitor = new SpikeMonitor();
    enc.forward(x, { training: false, monitor }).dispose();
    const recs = monitor.observations();
    const expected = imageEncoderLayers(cfg, 'image');
    expect(recs.map((r) => r.layer)).toEqual(expected.map((l) => l.name));
    recs.forEach((r, i) => {
      expect(r.kind).toBe(expected[i].kind);
      expect(r.flopsPerStep).toBe(expected[i].flopsPerStep);
      expect(r.fanOut).toBe(expected[i].fanOut);
      expect(r.timeSteps).toBe(expected[i].timeSteps);
      expect(r.samples).toBe(b);
      expect(r.inputElements * r.fanOut).toBe(r.flopsPerStep * r.timeSteps * r.samples);
    });
    // the first conv sees the real-valued frame T times; block1_conv sees the block1_lif spikes
    const conv0 = recs[0];
    expect(conv0.kind).toBe('mac');
    expect(conv0.inputElements).toBe(cfg.timeSteps * b * 32 * 32 * 3);
    const manual = tf.tidy(() => {
      const t = cfg.timeSteps;
      const y0 = enc.patch_embed.bns[0].forward(enc.patch_embed.convs[0].forward(tf.tile(x, [t, 1, 1, 1]) as tf.Tensor4D), INFERENCE);
      const s = enc.patch_embed.lifs[1]!.forward(tf.reshape(y0, [t, b, 32, 32, 8]));
      return tf.sum(s).dataSync()[0];
    });
    expect(recs[1].layer).toBe('image.patch_embed.block1_conv');
    expect(recs[1].nonZero).toBe(manual);
    expect(manual).toBeGreaterThan(0);
    // the projection after the readout: MACs, once per sample
    const proj = recs[recs.length - 1];
    expect(proj).toMatchObject({ layer: 'image.proj', kind: 'mac', timeSteps: 1, inputElements: b * 64 });
    x.dispose();
    enc.dispose();
  });

  test('same seed, same model; different seeds differ', () => {
    const a = new SpikeClipImageEncoder(tiny(), { seed: 7 });
    const b = new SpikeClipImageEncoder(tiny(), { seed: 7 });
    const c = new SpikeClipImageEncoder(tiny(), { seed: 8 });
    const w = (m: SpikeClipImageEncoder) => Array.from(m.block.items[0].mlp.mlp1_conv.weight.dataSync().slice(0, 16));
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    [a, b, c].forEach((m) => m.dispose());
  });
});
