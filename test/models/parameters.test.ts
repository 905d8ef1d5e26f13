import * as tf from '../../src/tf';
import {
  SpikeClip,
  SpikeClipImageEncoder,
  SpikeClipTextEncoder,
  describeArchitecture,
  getPreset,
  imageEncoderTensors,
  textEncoderTensors,
} from '../../src/models';
import type { Module } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const list = (m: Module, prefix = '') => m.namedTensors(prefix).map(([n, v]) => ({ name: n, shape: v.shape.slice(), trainable: v.trainable }));

describe('parameter counts of the reference model (PyTorch counting: trainable only)', () => {
  const d = describeArchitecture(getPreset('spikeclip-b'));

  test('from the config, without allocating', () => {
    expect(d.image.parameters).toBe(9_513_396);
    expect(d.text.parameters).toBe(47_358_980);
    const embeddings = d.text.tensors.filter((t) => t.name.includes('clip_embedding')).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(embeddings).toBe(25_336_320);
    expect(d.total.parameters).toBe(56_872_376);
    // BN running mean + var: 2 * (48 + 96 + 192 + 384 + 384 + 4 * (5 * 384 + 1536))
    expect(d.image.buffers).toBe(2 * (1104 + 4 * (5 * 384 + 1536)));
    expect(d.text.buffers).toBe(0);
  });

  test('breakdown: tokenizer, blocks, projection, readout', () => {
    const sum = (pred: (n: string) => boolean) =>
      d.image.tensors.filter((t) => t.trainable && pred(t.name)).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(sum((n) => n.startsWith('image.patch_embed.'))).toBe(2_201_520);
    expect(sum((n) => n.startsWith('image.block.0.'))).toBe(1_778_688);
    expect(sum((n) => n.startsWith('image.block.'))).toBe(4 * 1_778_688);
    expect(sum((n) => n.startsWith('image.proj.'))).toBe(197_120);
    expect(sum((n) => n === 'image.weights_tensor')).toBe(4);
  });

  test('dense FLOPs per image and time step match docs/method.md §8', () => {
    const f = new Map(d.image.layers.map((l) => [l.name.replace('image.', ''), l.flopsPerStep]));
    expect(f.get('patch_embed.block0_conv')).toBe(1_327_104);
    expect(f.get('patch_embed.block1_conv')).toBe(42_467_328);
    expect(f.get('patch_embed.block2_conv')).toBe(169_869_312);
    expect(f.get('patch_embed.block3_conv')).toBe(169_869_312);
    expect(f.get('patch_embed.block4_conv')).toBe(84_934_656);
    const block0 = d.image.layers.filter((l) => l.name.startsWith('image.block.0.')).reduce((s, l) => s + l.flopsPerStep, 0);
    expect(block0).toBe(116_391_936);
    expect(f.get('proj')).toBe(196_608);
    expect(Math.round(d.image.flopsPerStep / 1e6)).toBe(934);
    expect(d.text.flopsPerStep).toBe(22_020_096);
    // fan-out convention: FLOPs / input elements
    const q = d.image.layers.find((l) => l.name === 'image.block.0.attn.qk_matmul')!;
    expect(q.fanOut).toBe(64);
    expect(q.flopsPerStep).toBe(64 * 64 * 384);
  });

  test('instantiated default encoders agree (each built once, never run)', () => {
    const cfg = getPreset('spikeclip-b');
    const img = new SpikeClipImageEncoder(cfg.image, { seed: 1 });
    expect(img.parameterCount()).toBe(9_513_396);
    expect(list(img, 'image.')).toEqual(d.image.tensors);
    img.dispose();
    const txt = new SpikeClipTextEncoder(cfg.text, { seed: 2 });
    expect(txt.parameterCount()).toBe(47_358_980);
    expect(list(txt, 'text.')).toEqual(d.text.tensors);
    txt.dispose();
  });
});

describe('describeArchitecture agrees with instantiated models', () => {
  test('spikeclip-tiny: the whole model, names, shapes, order', () => {
    const cfg = getPreset('spikeclip-tiny');
    const d = describeArchitecture(cfg);
    const m = new SpikeClip(cfg, { seed: 3 });
    const tensors = list(m);
    const expected = [...d.image.tensors.filter((t) => t.trainable), ...d.text.tensors.filter((t) => t.trainable), ...d.image.tensors.filter((t) => !t.trainable), ...d.text.tensors.filter((t) => !t.trainable)];
    expect(tensors).toEqual(expected);
    expect(m.parameterCount()).toBe(d.total.parameters);
    expect(m.image.parameterCount()).toBe(d.image.parameters);
    m.dispose();
  });

  test('PLIF neurons add their learnable w; non-default sizes', () => {
    const cfg = getPreset('spikeclip-tiny');
    cfg.image = { ...cfg.image, embedDim: 32, depth: 2, heads: 2, mlpRatio: 2, timeSteps: 3, imageSize: 16, neuron: { ...cfg.image.neuron, kind: 'plif' } };
    const img = new SpikeClipImageEncoder(cfg.image, { seed: 4 });
    const specs = imageEncoderTensors(cfg.image);
    expect(list(img)).toEqual(specs);
    expect(specs.some((t) => t.name === 'block.1.attn.attn_lif.w' && t.shape.length === 0)).toBe(true);
    img.dispose();
    const text = { ...cfg.text, vocabSize: 50, width: 8, hidden: 16, contextLength: 5, maxPositions: 9, neuron: { ...cfg.text.neuron, kind: 'plif' as const } };
    const txt = new SpikeClipTextEncoder(text, { seed: 5 });
    expect(list(txt)).toEqual(textEncoderTensors(text));
    txt.dispose();
  });
});
