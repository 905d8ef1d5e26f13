import * as tf from '../../src/tf';
import {
  ScratchClip,
  SpikeClip,
  SpikeClipImageEncoder,
  SpikeClipTextEncoder,
  fromPytorchStateDict,
  getPreset,
  permute,
  toPytorchStateDict,
} from '../../src/models';
import { INFERENCE, TRAINING, type TensorData } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const smallImage = () => ({ ...getPreset('spikeclip-tiny').image, embedDim: 32, heads: 2, imageSize: 16 });
const smallText = () => ({ ...getPreset('spikeclip-tiny').text, contextLength: 4, vocabSize: 20, width: 8, maxPositions: 6, hidden: 16 });

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('state dict round trip', () => {
  test('image encoder: save -> load into a fresh model -> identical outputs (incl. BN running stats)', () => {
    const a = new SpikeClipImageEncoder(smallImage(), { seed: 1 });
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 3);
    a.forward(x, TRAINING).dispose(); // move the running stats away from 0 / 1
    const sd = a.stateDict();
    const b = new SpikeClipImageEncoder(smallImage(), { seed: 2 });
    const ya = a.forward(x, INFERENCE);
    const yb0 = b.forward(x, INFERENCE);
    expect(maxDiff(ya, yb0)).toBeGreaterThan(1e-3);
    b.loadStateDict(sd);
    const yb = b.forward(x, INFERENCE);
    expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
    tf.dispose([x, ya, yb0, yb]);
    a.dispose();
    b.dispose();
  });

  test('whole model: names carry image./text. prefixes; round trip; strict loading reports problems', () => {
    const cfg = getPreset('spikeclip-tiny');
    cfg.image = smallImage();
    cfg.text = { ...smallText(), outputDim: cfg.image.outputDim };
    const a = new SpikeClip(cfg, { seed: 5 });
    const names = a.namedTensors().map(([n]) => n);
    expect(names.every((n) => n.startsWith('image.') || n.startsWith('text.'))).toBe(true);
    expect(names).toContain('image.block.0.attn.q_conv.weight');
    expect(names).toContain('text.clip_embedding.token_embedding.weight');
    const sd = a.stateDict();
    const b = new SpikeClip(cfg, { seed: 6 });
    b.loadStateDict(sd);
    const img = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 4);
    const ids = tf.tensor2d([[1, 2, 3, 19], [0, 0, 5, 5]], [2, 4], 'int32');
    expect(Array.from(b.encodeImage(img).dataSync())).toEqual(Array.from(a.encodeImage(img).dataSync()));
    expect(Array.from(b.encodeText(ids).dataSync())).toEqual(Array.from(a.encodeText(ids).dataSync()));
    const missing = new Map(sd);
    missing.delete('image.proj.bias');
    expect(() => b.loadStateDict(missing)).toThrow(/missing tensor: image.proj.bias/);
    tf.dispose([img, ids]);
    a.dispose();
    b.dispose();
  });
});

describe('PyTorch name mapping', () => {
  test('permute is a row-major transpose', () => {
    const t = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(permute(t, [1, 0])).toEqual({ shape: [3, 2], data: Float32Array.from([1, 4, 2, 5, 3, 6]) });
    const t3 = { shape: [2, 1, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(permute(t3, [2, 0, 1]).data)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  test('image encoder: reference names, layouts, num_batches_tracked; round trip loads back exactly', () => {
    const cfg = smallImage();
    const enc = new SpikeClipImageEncoder(cfg, { seed: 7 });
    const ours = enc.stateDict();
    const theirs = toPytorchStateDict(ours, 'image');
    const shape = (n: string) => theirs.get(n)?.shape;
    expect(shape('weights_tensor')).toEqual([1, 2, 1]);
    expect(shape('patch_embed.block0_conv.weight')).toEqual([4, 3, 3, 3]);
    expect(shape('patch_embed.block4_conv.weight')).toEqual([32, 32, 3, 3]);
    expect(shape('block.0.attn.q_conv.weight')).toEqual([32, 32, 1]);
    expect(shape('block.0.attn.proj_conv.bias')).toEqual([32]);
    expect(shape('block.0.mlp.mlp1_conv.weight')).toEqual([128, 32, 1, 1]);
    expect(shape('block.0.mlp.mlp2_conv.weight')).toEqual([32, 128, 1, 1]);
    expect(shape('proj.weight')).toEqual([512, 32]);
    expect(theirs.get('block.0.attn.q_bn.num_batches_tracked')).toMatchObject({ shape: [], dtype: 'int64' });
    // every BN got one; nothing else was added
    const bnCount = [...ours.keys()].filter((n) => n.endsWith('.running_mean')).length;
    expect(theirs.size).toBe(ours.size + bnCount);
    // element check: ours HWIO [kh, kw, i, o] == theirs OIHW [o, i, kh, kw]
    const w = ours.get('patch_embed.block1_conv.weight') as TensorData; // [3, 3, 4, 8]
    const tw = theirs.get('patch_embed.block1_conv.weight') as TensorData; // [8, 4, 3, 3]
    const [kh, kw, i, o] = [2, 1, 3, 5];
    expect(tw.data[((o * 4 + i) * 3 + kh) * 3 + kw]).toBe(w.data[((kh * 3 + kw) * 4 + i) * 8 + o]);
    const lw = ours.get('block.0.attn.k_conv.weight') as TensorData; // [in, out]
    const tlw = theirs.get('block.0.attn.k_conv.weight') as TensorData; // [out, in, 1]
    expect(tlw.data[7 * 32 + 3]).toBe(lw.data[3 * 32 + 7]);

    // back, with int64 counters and a DataParallel prefix on the way
    const wrapped = new Map([...theirs].map(([n, t]) => [`module.${n}`, n.endsWith('num_batches_tracked') ? { shape: [], data: new BigInt64Array([12n]) } : t]));
    const back = fromPytorchStateDict(wrapped, 'image');
    expect([...back.keys()].sort()).toEqual([...ours.keys()].sort());
    for (const [n, t] of ours) {
      expect(back.get(n)!.shape).toEqual(t.shape);
      expect(Array.from(back.get(n)!.data)).toEqual(Array.from(t.data));
    }
    const fresh = new SpikeClipImageEncoder(cfg, { seed: 8 });
    fresh.loadStateDict(back);
    const x = tf.randomNormal([1, 16, 16, 3], 0, 1, 'float32', 1);
    expect(Array.from(fresh.forward(x).dataSync())).toEqual(Array.from(enc.forward(x).dataSync()));
    x.dispose();
    enc.dispose();
    fresh.dispose();
  });

  test('text encoder: reference names and layouts; prefixed import into the whole model', () => {
    const enc = new SpikeClipTextEncoder(smallText(), { seed: 9 });
    const theirs = toPytorchStateDict(enc.stateDict('text.'), 'text');
    expect([...theirs.keys()].sort()).toEqual(
      ['clip_embedding.position_embedding.weight', 'clip_embedding.token_embedding.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight', 'weights_tensor'].sort(),
    );
    expect(theirs.get('fc1.weight')!.shape).toEqual([16, 32]);
    expect(theirs.get('fc2.weight')!.shape).toEqual([512, 16]);
    expect(theirs.get('clip_embedding.token_embedding.weight')!.shape).toEqual([20, 8]);
    expect(theirs.get('weights_tensor')!.shape).toEqual([1, 2, 1]);
    theirs.set('clip_embedding.position_ids', { shape: [1, 6], data: new Float32Array(6) });
    const back = fromPytorchStateDict(theirs, 'text', { prefix: 'text.' });
    const ours = enc.stateDict('text.');
    expect([...back.keys()].sort()).toEqual([...ours.keys()].sort());
    for (const [n, t] of ours) expect(Array.from(back.get(n)!.data)).toEqual(Array.from(t.data));
    enc.dispose();
  });

  test('wrong reference layouts are refused with the tensor name', () => {
    const bad = new Map([['block.0.attn.q_conv.weight', { shape: [4, 4, 3], data: new Float32Array(48) }]]);
    expect(() => fromPytorchStateDict(bad, 'image')).toThrow(/block\.0\.attn\.q_conv\.weight: unexpected PyTorch shape \[4, 4, 3\]/);
    const badT = new Map([['weights_tensor', { shape: [4], data: new Float32Array(4) }]]);
    expect(() => fromPytorchStateDict(badT, 'text')).toThrow(/weights_tensor: unexpected PyTorch shape \[4\] \(expected \[1, T, 1\]\)/);
  });

  test('ANN twin: Linear layers transpose, LayerNorm stays', () => {
    const ann = new ScratchClip(smallImage(), { seed: 10 });
    const theirs = toPytorchStateDict(ann.stateDict(), 'ann');
    expect(theirs.get('encoder.layers.0.self_attn.q_proj.weight')!.shape).toEqual([32, 32]);
    expect(theirs.get('encoder.layers.0.mlp.fc1.weight')!.shape).toEqual([128, 32]);
    expect(theirs.get('embeddings.block2_conv.weight')!.shape).toEqual([16, 8, 3, 3]);
    expect(theirs.get('pre_layrnorm.weight')!.shape).toEqual([32]);
    const back = fromPytorchStateDict(theirs, 'ann');
    const fresh = new ScratchClip(smallImage(), { seed: 11 });
    fresh.loadStateDict(back);
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 2);
    expect(tf.tidy(() => maxDiff(fresh.forward(x), ann.forward(x)))).toBe(0);
    x.dispose();
    ann.dispose();
    fresh.dispose();
  });
});
