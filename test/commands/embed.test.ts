/**
 * End to end: `spikeclip embed` through the real CLI (bin/run.js over dist/, default backend:
 * wasm here) with teacher checkpoints converted from random Hugging Face folders, checked against
 * the plain-TypeScript CLIP reference, and with a small student checkpoint.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as tf from '../../src/tf';
import { defaultClipPreprocess, preprocessClipImages } from '../../src/data/clip-preprocess';
import { DEFAULT_NEURON } from '../../src/snn/neuron-config';
import { SpikeClip } from '../../src/models/spikeclip';
import { validateConfig } from '../../src/models/config';
import { saveStudentCheckpoint } from '../../src/student/checkpoint';
import { ClipTokenizer } from '../../src/text/tokenizer';
import { ClipFixture, writeClipFixture } from '../helpers/clip-fixture';
import { referenceImageFeatures, referenceTextFeatures } from '../helpers/clip-reference';
import { smallClipVocab } from '../helpers/clip-vocab';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'embed-'));
}

async function image(file: string, w: number, h: number, seed: number): Promise<string> {
  const data = Buffer.alloc(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * (seed + 3) + seed * 31 + ((i / 3) | 0) * 7) & 0xff;
  await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  return file;
}

function normalised(v: Float32Array): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return Array.from(v, (x) => x / n);
}

function expectClose(a: number[], b: number[], tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  const err = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  expect(err).toBeLessThan(tol);
}

interface EmbedJson {
  status: number;
  backend: { name: string };
  result: {
    model: { kind: string; dim: number; contextLength: number; imageSize: number };
    images: string[];
    texts: string[];
    image_embeds: number[][];
    text_embeds: number[][];
    token_ids: number[][];
    similarity: number[][];
    similarity_rows: string;
    similarity_columns: string;
    probabilities?: number[][];
  };
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'embed.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  await tf.setBackend('cpu');
});

async function teacherCase(fxOpts: Parameters<typeof writeClipFixture>[1]): Promise<{ fx: ClipFixture; ckpt: string; imgs: string[] }> {
  const root = tmp();
  const fx = writeClipFixture(path.join(root, 'hf'), fxOpts);
  const ckpt = path.join(root, 'teacher');
  const conv = cli(['convert', 'teacher', '--from', fx.dir, '--out', ckpt, '--quiet']);
  expect(conv.status).toBe(0);
  const imgs = [await image(path.join(root, 'wide.png'), 57, 40, 1), await image(path.join(root, 'tall.png'), 32, 45, 2)];
  return { fx, ckpt, imgs };
}

describe('spikeclip embed with a teacher checkpoint', () => {
  it('--json: embeddings equal the plain-TypeScript CLIP on the preprocessed pixels (wasm backend), token ids, similarity', async () => {
    const { fx, ckpt, imgs } = await teacherCase({ seed: 21, bin: false });
    const texts = ['a photo of a cat', 'a red square', 'the dog!'];
    const r = cli(['embed', '--checkpoint', ckpt, '--image', imgs[0], '--image', imgs[1], ...texts.flatMap((t) => ['--text', t]), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as EmbedJson;
    expect(doc.backend.name).toBe('wasm');
    const res = doc.result;
    expect(res.model).toMatchObject({ kind: 'teacher', dim: 16, contextLength: 16, imageSize: 32 });
    expect(res.images).toEqual(imgs);
    expect(res.texts).toEqual(texts);
    const S = fx.config.vision.imageSize;
    const pixels = await preprocessClipImages(imgs.map((p) => ({ kind: 'file' as const, path: p })), defaultClipPreprocess(S), S);
    imgs.forEach((_, i) => expectClose(res.image_embeds[i], normalised(referenceImageFeatures(fx.weights, fx.config, pixels.subarray(i * S * S * 3, (i + 1) * S * S * 3)))));
    const tok = ClipTokenizer.fromHuggingFace(fx.vocab.vocabJson, fx.vocab.mergesTxt);
    texts.forEach((t, i) => {
      const ids = tok.encode(t, 16);
      expect(res.token_ids[i]).toEqual(Array.from(ids));
      expectClose(res.text_embeds[i], normalised(referenceTextFeatures(fx.weights, fx.config, ids)));
    });
    expect(res.similarity_rows).toBe('images');
    expect(res.similarity_columns).toBe('texts');
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) expect(res.similarity[i][j]).toBeCloseTo(res.image_embeds[i].reduce((s, v, k) => s + v * res.text_embeds[j][k], 0), 6);
      expect(res.probabilities![i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
  });

  it('GELU teacher converted from pytorch_model.bin (the erf path on wasm)', async () => {
    const { fx, ckpt, imgs } = await teacherCase({ seed: 22, safetensors: false, hiddenAct: 'gelu', eos: 'legacy' });
    const r = cli(['embed', '--checkpoint', ckpt, '--image', imgs[1], '--text', 'a blue circle', '--json']);
    expect(r.status).toBe(0);
    const res = (JSON.parse(r.stdout) as EmbedJson).result;
    const S = fx.config.vision.imageSize;
    const pixels = await preprocessClipImages([{ kind: 'file', path: imgs[1] }], defaultClipPreprocess(S), S);
    expectClose(res.image_embeds[0], normalised(referenceImageFeatures(fx.weights, fx.config, pixels)));
    const ids = ClipTokenizer.fromHuggingFace(fx.vocab.vocabJson, fx.vocab.mergesTxt).encode('a blue circle', 16);
    expectClose(res.text_embeds[0], normalised(referenceTextFeatures(fx.weights, fx.config, ids)));
    // --model, the deprecated old name of --checkpoint: the same result, one warning line on stderr
    const old = cli(['embed', '--model', ckpt, '--image', imgs[1], '--text', 'a blue circle', '--json']);
    expect(old.status).toBe(0);
    const oldDoc = JSON.parse(old.stdout) as EmbedJson & { warnings: string[] };
    expect(oldDoc.result.text_embeds).toEqual(res.text_embeds);
    expect(old.stderr).toBe('Warning: --model is deprecated and will be removed in the next release: use --checkpoint\n');
    expect(oldDoc.warnings).toEqual(['--model is deprecated and will be removed in the next release: use --checkpoint']);
  });

  it('human output: a cosine-similarity table (texts x texts when there are no images)', async () => {
    const { ckpt, imgs } = await teacherCase({ seed: 23, bin: false });
    const r = cli(['embed', '--checkpoint', ckpt, '--image', imgs[0], '--text', 'a cat', '--text', 'a dog']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^model: teacher .* \(16-d embeddings, images 32x32, 16-token texts\)/);
    expect(r.stdout).toContain('cosine similarity (rows: images, columns: texts)');
    expect(r.stdout).toMatch(/wide\.png\s+-?\d\.\d{4}\s+-?\d\.\d{4}/);
    expect(r.stdout).toContain('zero-shot probabilities');
    expect(r.stderr).toMatch(/^backend: wasm/);
    const t = cli(['embed', '--checkpoint', ckpt, '--text', 'a cat', '--text', 'a dog']);
    expect(t.stdout).toContain('cosine similarity (rows: texts, columns: texts)');
    expect(t.stdout).toMatch(/a cat\s+1\.0000\s+-?\d\.\d{4}/);
  });

  it('errors: nothing to embed (usage), not a checkpoint, an unreadable image', async () => {
    const { ckpt, imgs } = await teacherCase({ seed: 24, bin: false });
    const none = cli(['embed', '--checkpoint', ckpt]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Error: nothing to embed \(fix: give at least one --image FILE or --text "\.\.\."\)/);
    const notCk = cli(['embed', '--checkpoint', path.dirname(imgs[0]), '--text', 'x', '--json']);
    expect(notCk.status).toBe(4);
    expect(JSON.parse(notCk.stdout).error.message).toMatch(/not a spikeclip checkpoint/);
    const bad = path.join(path.dirname(imgs[0]), 'broken.jpg');
    fs.writeFileSync(bad, 'nope');
    const r = cli(['embed', '--checkpoint', ckpt, '--image', bad]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/cannot decode image .*broken\.jpg/);
  });
});

describe('spikeclip embed with a student checkpoint', () => {
  async function student(withTokenizer: boolean): Promise<string> {
    const v = smallClipVocab();
    const neuron = { ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } };
    const config = validateConfig({
      image: { embedDim: 16, depth: 1, heads: 2, mlpRatio: 2, timeSteps: 2, imageSize: 32, inChannels: 3, outputDim: 12, neuron, attnThreshold: 0.5, attnScale: 0.125 },
      text: { contextLength: 20, vocabSize: v.vocab.size, width: 8, maxPositions: 77, hidden: 16, outputDim: 12, timeSteps: 2, neuron },
    });
    const model = new SpikeClip(config, { seed: 3 });
    const dir = path.join(tmp(), 'student');
    const tokenizerFiles = withTokenizer ? new Map([['vocab.json', new TextEncoder().encode(v.vocabJson)], ['merges.txt', new TextEncoder().encode(v.mergesTxt)]]) : undefined;
    await saveStudentCheckpoint(dir, model, { tokenizerFiles });
    model.dispose();
    return dir;
  }

  it('embeds images (32x32 student view) and 20-token texts padded with the end token', async () => {
    const ckpt = await student(true);
    const img = await image(path.join(path.dirname(ckpt), 'x.png'), 50, 50, 5);
    const r = cli(['embed', '--checkpoint', ckpt, '--image', img, '--text', 'a photo of a cat', '--text', 'a dog', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = (JSON.parse(r.stdout) as EmbedJson).result;
    expect(res.model).toMatchObject({ kind: 'student', dim: 12, contextLength: 20, imageSize: 32 });
    expect(res.image_embeds).toHaveLength(1);
    expect(res.text_embeds).toHaveLength(2);
    for (const row of [...res.image_embeds, ...res.text_embeds]) {
      expect(row).toHaveLength(12);
      const n = Math.sqrt(row.reduce((s, x) => s + x * x, 0));
      // a spiking encoder can output all zeros (no spikes), which stays zero
      if (n > 0) expect(n).toBeCloseTo(1, 5);
    }
    const end = smallClipVocab().vocab.get('<|endoftext|>');
    expect(res.token_ids[1]).toHaveLength(20);
    expect(res.token_ids[1].slice(3)).toEqual(new Array(17).fill(end));
    expect(res.probabilities).toBeUndefined();
  });

  it('a student checkpoint without tokenizer files cannot embed texts (clear error), but can embed images', async () => {
    const ckpt = await student(false);
    const img = await image(path.join(path.dirname(ckpt), 'y.png'), 32, 32, 6);
    const t = cli(['embed', '--checkpoint', ckpt, '--text', 'a cat']);
    expect(t.status).toBe(4);
    expect(t.stderr).toMatch(/has no tokenizer\/ folder \(vocab\.json, merges\.txt\), so texts cannot be embedded/);
    expect(cli(['embed', '--checkpoint', ckpt, '--image', img]).status).toBe(0);
  });
});
