/**
 * The class matrix W against a direct computation (per prompt, one at a time, in plain
 * JavaScript), renormalisation, per-class prompt lists, the on-disk cache, and predictions
 * against a plain argsort; no tensors leak.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import {
  buildClassMatrix,
  ClassifierCacheKey,
  classifierCachePath,
  classMatrixCached,
  readCachedClassMatrix,
  writeCachedClassMatrix,
  ZeroShotClassifier,
} from '../../src/eval/classifier';
import { promptsPerClass } from '../../src/eval/label-files';
import { SpikeClip } from '../../src/models/spikeclip';
import { ClipTokenizer } from '../../src/text/tokenizer';
import { smallClipVocab } from '../helpers/clip-vocab';
import { EVAL_WORDS, makeItSpike, microStudentConfig, tmpDir } from '../helpers/eval-fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function unit(v: number[]): number[] {
  const n = Math.max(Math.sqrt(v.reduce((s, x) => s + x * x, 0)), 1e-8);
  return v.map((x) => x / n);
}

/** A text "encoder" with known outputs: a lookup table. */
function tableEncoder(table: Record<string, number[]>): (texts: string[]) => tf.Tensor2D {
  return (texts) => tf.tensor2d(texts.map((t) => table[t]));
}

describe('buildClassMatrix', () => {
  const table: Record<string, number[]> = {
    'a cat': [3, 4, 0],
    'the cat': [0, 2, 0],
    'a dog': [0, 0, 5],
    'the dog': [1, 0, 0],
  };
  const prompts = [
    ['a cat', 'the cat'],
    ['a dog', 'the dog'],
  ];

  it('mean over prompts of the L2-normalised embeddings (hand-computed), not re-normalised by default', () => {
    const W = buildClassMatrix({ prompts, encodeTexts: tableEncoder(table), batchSize: 3 });
    expect(W.numClasses).toBe(2);
    expect(W.dim).toBe(3);
    // cat: ([0.6, 0.8, 0] + [0, 1, 0]) / 2; dog: ([0, 0, 1] + [1, 0, 0]) / 2
    const w = Array.from(W.weights);
    [0.3, 0.9, 0, 0.5, 0, 0.5].forEach((x, i) => expect(w[i]).toBeCloseTo(x, 6));
  });

  it('--renormalize makes every class vector unit length', () => {
    const W = buildClassMatrix({ prompts, encodeTexts: tableEncoder(table), renormalize: true });
    const w = Array.from(W.weights);
    const n = Math.sqrt(0.3 ** 2 + 0.9 ** 2);
    [0.3 / n, 0.9 / n, 0, Math.SQRT1_2, 0, Math.SQRT1_2].forEach((x, i) => expect(w[i]).toBeCloseTo(x, 6));
  });

  it('per-class prompt lists of different lengths; a zero embedding stays zero (norm clamped)', () => {
    const W = buildClassMatrix({ prompts: [['a cat'], ['a dog', 'the dog', 'zero']], encodeTexts: tableEncoder({ ...table, zero: [0, 0, 0] }) });
    const w = Array.from(W.weights);
    [0.6, 0.8, 0, 1 / 3, 0, 1 / 3].forEach((x, i) => expect(w[i]).toBeCloseTo(x, 6));
  });

  it('a real student text encoder: W equals a prompt-by-prompt computation (batches of 5, templates x class names)', () => {
    const v = smallClipVocab(EVAL_WORDS);
    const tok = ClipTokenizer.fromHuggingFace(v.vocabJson, v.mergesTxt);
    const model = new SpikeClip(microStudentConfig(v.vocab.size), { seed: 11 });
    makeItSpike(model);
    const L = model.config.text.contextLength;
    const encode = (texts: string[]) => model.encodeText(tf.tensor2d(tok.encodeBatch(texts, L), [texts.length, L], 'int32'));
    const names = ['red circle', 'blue square', 'green star'];
    const ps = promptsPerClass(names, { kind: 'list', templates: ['a photo of a {}.', 'a drawing of the {}.', '{}'] });
    const before = tf.memory().numTensors;
    const W = buildClassMatrix({ prompts: ps, encodeTexts: encode, batchSize: 5 });
    expect(tf.memory().numTensors).toBe(before);
    names.forEach((_, c) => {
      const rows = ps[c].map((p) => unit(Array.from(tf.tidy(() => encode([p])).dataSync())));
      const mean = rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
      const got = Array.from(W.weights.subarray(c * W.dim, (c + 1) * W.dim));
      got.forEach((x, j) => expect(x).toBeCloseTo(mean[j], 5));
    });
    // the classes are told apart
    expect(Array.from(W.weights.subarray(0, W.dim))).not.toEqual(Array.from(W.weights.subarray(W.dim, 2 * W.dim)));
    model.dispose();
  });
});

describe('class-matrix cache', () => {
  const key: ClassifierCacheKey = { checkpointHash: 'a'.repeat(64), tokenizerHash: 'b'.repeat(64), templatesHash: 'c', classNamesHash: 'd', renormalize: false, contextLength: 20 };
  const W = { weights: Float32Array.from([1, 2, 3, 4, 5, 6]), numClasses: 2, dim: 3 };

  it('round-trips through an atomic safetensors file keyed by checkpoint, tokenizer, templates, class names, renormalize', async () => {
    const dir = tmpDir('wcache-');
    const file = await writeCachedClassMatrix(dir, key, W);
    expect(file).toBe(classifierCachePath(dir, key));
    expect(path.dirname(file)).toBe(path.join(dir, 'classifiers'));
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]); // no temporary left behind
    expect(readCachedClassMatrix(dir, key)).toEqual(W);
    for (const other of [{ ...key, renormalize: true }, { ...key, templatesHash: 'x' }, { ...key, classNamesHash: 'x' }, { ...key, checkpointHash: 'f'.repeat(64) }, { ...key, tokenizerHash: 'x' }]) {
      expect(classifierCachePath(dir, other)).not.toBe(file);
      expect(readCachedClassMatrix(dir, other)).toBeUndefined();
    }
  });

  it('builds on a miss, reuses on a hit, rebuilds a damaged file, and works without a cache', async () => {
    const dir = tmpDir('wcache-');
    let builds = 0;
    const build = () => {
      builds++;
      return W;
    };
    const first = await classMatrixCached({ cacheDir: dir, key, expect: { numClasses: 2 }, build });
    expect(first).toMatchObject({ hit: false, file: classifierCachePath(dir, key) });
    const second = await classMatrixCached({ cacheDir: dir, key, expect: { numClasses: 2 }, build });
    expect(second.hit).toBe(true);
    expect(second.matrix).toEqual(W);
    expect(builds).toBe(1);
    fs.writeFileSync(classifierCachePath(dir, key), 'garbage');
    const third = await classMatrixCached({ cacheDir: dir, key, expect: { numClasses: 2 }, build });
    expect(third.hit).toBe(false);
    expect(builds).toBe(2);
    expect(readCachedClassMatrix(dir, key)).toEqual(W);
    const off = await classMatrixCached({ key, expect: { numClasses: 2 }, build });
    expect(off).toEqual({ matrix: W, hit: false });
  });

  it('an unwritable cache is a warning, not a failure', async () => {
    const dir = tmpDir('wcache-');
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, 'x');
    const warnings: string[] = [];
    const r = await classMatrixCached({ cacheDir: blocker, key, expect: { numClasses: 2 }, build: () => W, onWarning: (m) => warnings.push(m) });
    expect(r.hit).toBe(false);
    expect(r.file).toBeUndefined();
    expect(warnings[0]).toMatch(/could not cache the class matrix/);
  });
});

describe('ZeroShotClassifier', () => {
  it('ranks candidates by cosine similarity (= a plain argsort), counts zero embeddings, leaks nothing', () => {
    const C = 7;
    const D = 4;
    const Wd = Array.from({ length: C * D }, (_, i) => Math.sin(i * 1.7) + 0.1 * i);
    const W = { weights: Float32Array.from(Wd), numClasses: C, dim: D };
    const feats = [
      [1, 2, 3, 4],
      [-1, 0.5, 0, 2],
      [0, 0, 0, 0],
      [10, -3, 2, 1],
    ];
    const before = tf.memory().numTensors;
    const clf = new ZeroShotClassifier(W);
    const f = tf.tensor2d(feats);
    const p = clf.classify(f);
    f.dispose();
    clf.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(p.k).toBe(5);
    expect(p.zeroEmbeddings).toBe(1);
    feats.forEach((x, i) => {
      if (i === 2) return;
      const u = unit(x);
      const scores = Array.from({ length: C }, (_, c) => Wd.slice(c * D, (c + 1) * D).reduce((s, w, j) => s + w * u[j], 0));
      const order = scores.map((s, c) => [s, c]).sort((a, b) => b[0] - a[0]).map(([, c]) => c);
      expect(Array.from(p.topk.subarray(i * 5, i * 5 + 5))).toEqual(order.slice(0, 5));
    });
  });

  it('ranks all candidates when there are fewer than 5', () => {
    const clf = new ZeroShotClassifier({ weights: Float32Array.from([1, 0, 0, 1, -1, 0]), numClasses: 3, dim: 2 });
    const f = tf.tensor2d([[0.1, 1]]);
    const p = clf.classify(f);
    expect(p.k).toBe(3);
    expect(Array.from(p.topk)).toEqual([1, 0, 2]);
    const wrong = tf.tensor2d([[1, 2, 3]]);
    expect(() => clf.classify(wrong)).toThrow(/do not match the class matrix's 2 dimensions/);
    wrong.dispose();
    f.dispose();
    clf.dispose();
  });
});
