/**
 * Golden tests: the TF.js CLIP teacher against the independent plain-TypeScript reference, on
 * small random CLIP folders in Hugging Face layout, through both weight routes
 * (model.safetensors and pytorch_model.bin).
 */
import * as tf from '../../src/tf';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readPytorchFile } from '../../src/io/pytorch';
import { readSafetensorsFile } from '../../src/io/safetensors';
import { ClipConfigError, clipTensorShapes, parseHfClipConfig } from '../../src/models/clip-config';
import { ClipTeacher, activate, checkHfWeights, erfApprox } from '../../src/models/clip-teacher';
import { ClipTokenizer } from '../../src/text/tokenizer';
import { writeClipFixture, seededRandom, ClipFixtureOptions } from '../helpers/clip-fixture';
import { referenceImageFeatures, referenceTextFeatures } from '../helpers/clip-reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'clip-'));
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  let maxErr = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
    maxErr = Math.max(maxErr, Math.abs(actual[i] - expected[i]));
  }
  // relative to the vector's scale (elementwise relative error is meaningless near zero)
  expect(maxErr / maxAbs).toBeLessThan(rel);
}

function randomImages(n: number, size: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n * size * size * 3 }, () => r());
}

async function goldenCheck(opts: ClipFixtureOptions, route: 'safetensors' | 'bin'): Promise<void> {
  const fx = writeClipFixture(tmp(), opts);
  const weights = route === 'safetensors' ? (await readSafetensorsFile(path.join(fx.dir, 'model.safetensors'))).tensors : readPytorchFile(path.join(fx.dir, 'pytorch_model.bin')).tensors;
  const teacher = ClipTeacher.fromHfWeights(fx.config, weights, route);
  try {
    const S = fx.config.vision.imageSize;
    const imgs = randomImages(3, S, 7);
    const out = teacher.encodeImage(tf.tensor4d(imgs, [3, S, S, 3]));
    const got = out.arraySync();
    out.dispose();
    for (let b = 0; b < 3; b++) {
      const ref = referenceImageFeatures(fx.weights, fx.config, imgs.subarray(b * S * S * 3, (b + 1) * S * S * 3));
      expectClose(got[b], ref);
    }
    const tok = ClipTokenizer.fromHuggingFace(fx.vocab.vocabJson, fx.vocab.mergesTxt);
    const L = fx.config.text.maxPositions;
    const texts = ['a photo of a cat', 'a red square!', 'the dog', 'a photo of the blue circle of the car of the dog'];
    const ids = tok.encodeBatch(texts, L);
    const tOut = teacher.encodeText({ ids, batch: texts.length, length: L });
    const tGot = tOut.arraySync();
    tOut.dispose();
    texts.forEach((_, b) => expectClose(tGot[b], referenceTextFeatures(fx.weights, fx.config, ids.subarray(b * L, (b + 1) * L))));
  } finally {
    teacher.dispose();
  }
}

describe('CLIP teacher vs the plain-TypeScript reference (1e-4 relative)', () => {
  it.each(['safetensors', 'bin'] as const)('default tiny config (hidden 32/24, 2 layers, 4 heads, patch 8, image 32, QuickGELU) via %s', async (route) => {
    await goldenCheck({ seed: 1 }, route);
  });

  it.each(['safetensors', 'bin'] as const)('GELU, legacy eos_token_id 2 (argmax pooling), other sizes (patch 4, image 16, 3 layers, 2 heads) via %s', async (route) => {
    await goldenCheck({ seed: 2, hiddenAct: 'gelu', eos: 'legacy', patchSize: 4, imageSize: 16, visionLayers: 3, visionHeads: 2, textHeads: 2, textLayers: 1, projectionDim: 8 }, route);
  });

  it('half-precision pytorch_model.bin (F16 storages widened exactly)', async () => {
    await goldenCheck({ seed: 3, binDtype: 'F16', safetensors: false }, 'bin');
  });

  it('gelu_new (tanh approximation)', async () => {
    await goldenCheck({ seed: 4, hiddenAct: 'gelu_new' }, 'safetensors');
  });
});

describe('CLIP teacher semantics', () => {
  it('padding after the end token does not change text features (causal mask, pooled at the first end token)', async () => {
    const fx = writeClipFixture(tmp(), { seed: 5, bin: false });
    const teacher = ClipTeacher.fromHfWeights(fx.config, (await readSafetensorsFile(path.join(fx.dir, 'model.safetensors'))).tensors);
    const tok = ClipTokenizer.fromHuggingFace(fx.vocab.vocabJson, fx.vocab.mergesTxt);
    const L = fx.config.text.maxPositions;
    const a = tok.encode('a photo of a dog', L); // padded with the end token
    const b = tok.encode('a photo of a dog', L, { padId: 0 });
    const short = tok.encode('a photo of a dog', 8);
    const fa = teacher.encodeText({ ids: a, batch: 1, length: L });
    const fb = teacher.encodeText({ ids: b, batch: 1, length: L });
    const fs8 = teacher.encodeText({ ids: short, batch: 1, length: 8 });
    expectClose(fa.dataSync(), fb.dataSync(), 1e-6);
    expectClose(fa.dataSync(), fs8.dataSync(), 1e-5);
    tf.dispose([fa, fb, fs8]);
    expect(() => teacher.encodeText({ ids: new Int32Array(L + 1), batch: 1, length: L + 1 })).toThrow(/longer than the teacher's 16 positions/);
    expect(() => teacher.encodeText({ ids: Int32Array.from([0, 99999]), batch: 1, length: 2 })).toThrow(/outside the teacher's vocabulary/);
    expect(() => teacher.encodeImage(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D)).toThrow(/expects images \[B, 32, 32, 3\]/);
    teacher.dispose();
  });

  it('module tensor names are the Hugging Face names', () => {
    const config = parseHfClipConfig(writeClipFixture(tmp(), { bin: false, safetensors: false }).configJson);
    const teacher = new ClipTeacher(config, { seed: 1 });
    const names = teacher.namedTensors().map(([n]) => n).sort();
    expect(names).toEqual([...clipTensorShapes(config).keys()].sort());
    teacher.dispose();
  });

  it('the erf fallback (for backends without an Erf kernel) matches erf to 5e-7 in float32', () => {
    const x = tf.linspace(-6, 6, 241);
    const approx = erfApprox(x).dataSync();
    const exact = tf.erf(x).dataSync();
    for (let i = 0; i < 241; i++) expect(Math.abs(approx[i] - exact[i])).toBeLessThan(5e-7);
    x.dispose();
    const g = activate(tf.tensor1d([-1, 0, 1]), 'gelu').dataSync();
    expect(g[2]).toBeCloseTo(0.8413447460685429, 6);
    expect(g[0]).toBeCloseTo(-0.15865525393145707, 6);
  });
});

describe('bad configs and weights: errors naming the field, file or tensor', () => {
  const base = (patch: Record<string, unknown>) => ({ ...writeClipFixture(tmp(), { bin: false, safetensors: false }).configJson, ...patch });

  it.each([
    [{ model_type: 'siglip' }, /config\.json: model_type "siglip" is not supported/],
    [{ model_type: 'clip_vision_model' }, /this is a single tower/],
    [{ architectures: ['CLIPVisionModel'] }, /architectures \["CLIPVisionModel"\] is not supported/],
    [{ vision_config: { hidden_act: 'relu' } }, /vision_config\.hidden_act "relu" is not supported \(supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh\)/],
    [{ vision_config: { hidden_size: 30, num_attention_heads: 4 } }, /vision_config\.hidden_size 30 is not divisible by vision_config\.num_attention_heads 4/],
    [{ vision_config: { image_size: 30, patch_size: 8 } }, /vision_config\.image_size 30 is not a multiple of vision_config\.patch_size 8/],
    [{ vision_config: { num_channels: 1 } }, /vision_config\.num_channels 1 is not supported/],
    [{ text_config: { num_hidden_layers: 0 } }, /text_config\.num_hidden_layers must be a positive integer, got 0/],
    [{ projection_dim: 'x' }, /projection_dim must be a positive integer/],
  ])('%j', (patch, re) => {
    let err: unknown;
    try {
      parseHfClipConfig(base(patch));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ClipConfigError);
    expect((err as Error).name).toBe('ClipConfigError');
    expect((err as Error).message).toMatch(re);
  });

  it('older configs: text_config_dict overrides text_config, defaults fill the rest', () => {
    const c = parseHfClipConfig({ text_config_dict: { hidden_size: 64, num_attention_heads: 4 }, text_config: { hidden_size: 32 }, vision_config_dict: { patch_size: 16 } });
    expect(c.text.hiddenSize).toBe(64);
    expect(c.text.vocabSize).toBe(49408);
    expect(c.text.eosTokenId).toBe(49407);
    expect(c.vision.patchSize).toBe(16);
    expect(c.vision.hiddenSize).toBe(768);
    expect(c.projectionDim).toBe(512);
  });

  it('missing, unexpected, mis-shaped and integer tensors', async () => {
    const fx = writeClipFixture(tmp(), { bin: false });
    const { tensors } = await readSafetensorsFile(path.join(fx.dir, 'model.safetensors'));
    const drop = new Map(tensors);
    drop.delete('visual_projection.weight');
    expect(() => checkHfWeights(fx.config, drop, 'model.safetensors')).toThrow('model.safetensors: missing tensor visual_projection.weight (is this a CLIPModel checkpoint matching config.json?)');
    const extra = new Map(tensors);
    extra.set('vision_model.head.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(() => checkHfWeights(fx.config, extra, 'model.safetensors')).toThrow(/unexpected tensor vision_model\.head\.weight/);
    const bad = new Map(tensors);
    bad.set('text_projection.weight', { dtype: 'F32', shape: [24, 16], data: new Float32Array(384) });
    expect(() => checkHfWeights(fx.config, bad, 'model.safetensors')).toThrow('model.safetensors: tensor text_projection.weight has shape [24, 16] but config.json implies [16, 24]');
    const int = new Map(tensors);
    int.set('logit_scale', { dtype: 'I32', shape: [], data: new Int32Array(1) });
    expect(() => checkHfWeights(fx.config, int, 'model.safetensors')).toThrow(/logit_scale has dtype I32/);
  });
});
