/**
 * End to end: a teacher built here (clip-tiny, a BPE vocabulary trained on shapes captions,
 * Hugging Face initialisation) and written with saveTeacherCheckpoint is taken by the real CLI
 * (bin/run.js over dist/, default backend: wasm here) like a converted one: inspect, embed (the
 * same features as in process) and eval on the built-in shapes set.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as tf from '../../src/tf';
import { defaultClipPreprocess, preprocessClipImages } from '../../src/data/clip-preprocess';
import { SHAPES_DEFAULT_COLOURS, SHAPES_DEFAULT_KINDS, shapesCaption } from '../../src/data/shapes';
import type { EvalRun } from '../../src/eval/results';
import { createTeacher } from '../../src/models/clip-init';
import { ClipTeacher } from '../../src/models/clip-teacher';
import { saveTeacherCheckpoint } from '../../src/teacher/save';
import { clipTokenizerFiles, trainClipBpe } from '../../src/text/bpe-train';
import { ClipTokenizer } from '../../src/text/tokenizer';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

let work: string;
let ckpt: string;
let teacher: ClipTeacher;
let tokenizer: ClipTokenizer;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(args: string[]): T {
  const r = cli([...args, '--json']);
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function unit(v: ArrayLike<number>): number[] {
  const a = Array.from(v);
  const n = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  return a.map((x) => x / n);
}

function maxDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'eval.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  await tf.setBackend('cpu');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'trained-teacher-'));
  ckpt = path.join(work, 'clip-tiny-shapes');
  const corpus = SHAPES_DEFAULT_COLOURS.flatMap((c) => SHAPES_DEFAULT_KINDS.map((k) => shapesCaption(`${c} ${k}`)));
  const bpe = trainClipBpe([...corpus, ...corpus]);
  teacher = createTeacher('clip-tiny', { vocabSize: bpe.vocabSize, seed: 3 });
  await saveTeacherCheckpoint(ckpt, teacher, {
    tokenizerFiles: clipTokenizerFiles(bpe, { contextLength: teacher.config.text.maxPositions }),
    provenance: { seed: 3, commandLine: ['spikeclip', 'pretrain', '--part', 'clip', '--target', 'teacher'] },
    extra: { training: { preset: 'clip-tiny' } },
  });
  tokenizer = ClipTokenizer.fromDir(path.join(ckpt, 'tokenizer'));
});

afterAll(() => {
  teacher.dispose();
});

describe('a teacher checkpoint written by saveTeacherCheckpoint, through the CLI', () => {
  it('inspect: a teacher with the Hugging Face tensors, tokenizer files and provenance', () => {
    const doc = json<{ result: { kind: string; total: { parameters: number; tensors: number }; tensors: { name: string; shape: number[] }[]; tokenizerFiles: string[]; provenance: Record<string, unknown> } }>(['inspect', ckpt]);
    const r = doc.result;
    expect(r.kind).toBe('teacher');
    expect(r.total).toMatchObject({ parameters: teacher.parameterCount(), tensors: 78 });
    expect(r.tensors.find((t) => t.name === 'vision_model.embeddings.patch_embedding.weight')?.shape).toEqual([128, 3, 4, 4]);
    expect(r.tokenizerFiles).toEqual(['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json']);
    expect(r.provenance).toMatchObject({ seed: 3 });
  });

  it('embed: the features the teacher computes in process (wasm vs cpu, 1e-4), texts padded to 20 tokens', async () => {
    const img = path.join(work, 'img.png');
    const raw = Buffer.alloc(40 * 30 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + ((i / 3) | 0) * 13) & 0xff;
    await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(img);
    const texts = ['a photo of a red circle.', 'a blue hexagon', 'zebra'];
    const doc = json<{ result: { model: { kind: string; dim: number; contextLength: number; imageSize: number }; image_embeds: number[][]; text_embeds: number[][]; token_ids: number[][] } }>(['embed', '--checkpoint', ckpt, '--image', img, ...texts.flatMap((t) => ['--text', t])]);
    const res = doc.result;
    expect(res.model).toMatchObject({ kind: 'teacher', dim: 512, contextLength: 20, imageSize: 32 });
    const pixels = await preprocessClipImages([{ kind: 'file', path: img }], defaultClipPreprocess(32), 32);
    const imageFeat = tf.tidy(() => teacher.encodeImage(tf.tensor4d(pixels, [1, 32, 32, 3])).dataSync());
    expect(maxDiff(res.image_embeds[0], unit(imageFeat))).toBeLessThan(1e-4);
    texts.forEach((t, i) => {
      const ids = tokenizer.encode(t, 20);
      expect(res.token_ids[i]).toEqual(Array.from(ids));
      const feat = tf.tidy(() => teacher.encodeText({ ids, batch: 1, length: 20 }).dataSync());
      expect(maxDiff(res.text_embeds[i], unit(feat))).toBeLessThan(1e-4);
    });
    // every word of the corpus is one token
    expect(res.token_ids[0].slice(0, 9)).toEqual([tokenizer.startId, ...['a', 'photo', 'of', 'a', 'red', 'circle', '.'].map((w) => tokenizer.encoder.get(`${w}</w>`)), tokenizer.endId]);
  });

  it('eval --dataset shapes --limit 20: a teacher result', () => {
    const doc = json<{ result: EvalRun }>(['eval', '--checkpoint', ckpt, '--dataset', 'shapes', '--limit', '20']);
    expect(doc.result.results).toHaveLength(1);
    const r = doc.result.results[0];
    expect(r).toMatchObject({ dataset: 'shapes', model_kind: 'teacher', num_images: 20, time_steps: null });
    expect(r.metrics.acc1).toBeGreaterThanOrEqual(0);
    expect(r.metrics.acc1).toBeLessThanOrEqual(1);
  });
});
