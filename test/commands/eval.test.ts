/**
 * End to end: `spikeclip eval` through the real CLI (bin/run.js over dist/, default backend: wasm
 * here) with a micro student checkpoint the test writes, on the built-in shapes set and on image
 * folders; and with a teacher checkpoint converted from a random Hugging Face CLIP folder, whose
 * predictions are checked against the independent plain-TypeScript CLIP.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { defaultClipPreprocess, preprocessClipImages } from '../../src/data/clip-preprocess';
import type { EvalResultJson, EvalRun } from '../../src/eval/results';
import { ClipTokenizer } from '../../src/text/tokenizer';
import { writeClipFixture } from '../helpers/clip-fixture';
import { referenceImageFeatures, referenceTextFeatures } from '../helpers/clip-reference';
import { tmpDir, writeImageFolder, writeMicroStudent } from '../helpers/eval-fixtures';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

let cache: string;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1', SPIKECLIP_CACHE: cache },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[]): { status: number; result: EvalRun; backend: { name: string }; warnings: string[] } {
  const r = cli([...args, '--json']);
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

function errorOf(args: string[]): { status: number; error: { message: string; fix?: string; code: string } } {
  const r = cli([...args, '--json']);
  const doc = JSON.parse(r.stdout);
  expect(doc.status).toBe(r.status);
  return doc;
}

function unit(v: ArrayLike<number>): number[] {
  const a = Array.from(v);
  const n = Math.max(Math.sqrt(a.reduce((s, x) => s + x * x, 0)), 1e-8);
  return a.map((x) => x / n);
}

let student: string;
let work: string;

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'eval.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  await tf.setBackend('cpu');
  work = tmpDir('eval-e2e-');
  cache = path.join(work, 'cache');
  student = path.join(work, 'micro-student');
  await writeMicroStudent(student, { seed: 5 });
});

describe('spikeclip eval with a student checkpoint', () => {
  it('--json on shapes: a CLIP_benchmark document with our fields, firing rates of the spiking layers', () => {
    const doc = json(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '24', '--batch-size', '10']);
    expect(doc.backend.name).toBe('wasm');
    expect(doc.result.skipped).toEqual([]);
    expect(doc.result.results).toHaveLength(1);
    const r = doc.result.results[0];
    expect(r).toMatchObject({
      dataset: 'shapes',
      model: 'micro-student',
      task: 'zeroshot_classification',
      language: 'en',
      model_kind: 'student',
      time_steps: 2,
      image_size: 32,
      student_resize: 'reference',
      split: 'test',
      num_images: 24,
      split_size: 360,
      limit: 24,
      num_classes: 36,
      num_candidates: 36,
      seed: 0,
      backend: { name: 'wasm' },
      templates: { source: 'default:shapes', kind: 'list', count: 4 },
      classnames: { mode: 'dataset', source: 'dataset' },
      renormalize: false,
    });
    expect(Object.keys(r.metrics)).toEqual(['acc1', 'acc5', 'mean_per_class_recall']);
    expect(r.checkpoint.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.templates.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.classnames.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.per_class_accuracy).toHaveLength(36);
    expect(r.per_class_accuracy.reduce((s, c) => s + c.images, 0)).toBe(24);
    expect(r.confusion_matrix.counts.flat().reduce((a, b) => a + b, 0)).toBe(24);
    expect(r.firing_rates!.length).toBeGreaterThan(5);
    expect(r.firing_rates!.every((f) => f.layer.startsWith('image.') && f.rate >= 0 && f.rate <= 1)).toBe(true);
    expect(r.mean_firing_rate!).toBeGreaterThan(0);
    expect(r.provenance).toMatchObject({ seed: 0, commandLine: expect.arrayContaining(['eval', '--limit', '24']) });
  });

  it('human output: a short table on stdout, notes on stderr; --plot writes an SVG', () => {
    const plot = path.join(work, 'plots', 'cm.svg');
    const r = cli(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '12', '--plot', plot]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^checkpoint: student .*micro-student \([0-9a-f]{12}, T=2\)$/);
    expect(r.stdout).toMatch(/dataset\s+split\s+images\s+classes\s+acc1 %\s+acc5 %\s+mean recall %/);
    expect(r.stdout).toMatch(/^shapes\s+test\s+12\s+36\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d$/m);
    expect(r.stdout).toContain(`confusion matrix in ${plot}`);
    expect(r.stderr).toMatch(/^backend: wasm/);
    expect(r.stderr).toMatch(/model: student \(spiking; image T=2/);
    expect(fs.readFileSync(plot, 'utf8')).toMatch(/^<svg /);
  });

  it('predictions equal a computation from `spikeclip embed` (image folder, templates file, W as the mean of normalised prompt embeddings)', async () => {
    const dir = path.join(work, 'folder-a');
    const files = await writeImageFolder(dir, ['red circle', 'blue square', 'green star'], 2);
    const templates = path.join(work, 'two.txt');
    fs.writeFileSync(templates, 'a photo of a {}.\na drawing of the {}.\n');
    const out = json(['eval', '--checkpoint', student, '--dataset', `folder:${dir}`, '--templates', templates]).result.results[0];
    expect(out).toMatchObject({ num_images: 6, num_classes: 3, templates: { source: templates, count: 2 } });
    expect(out.classnames.names).toEqual(['blue square', 'green star', 'red circle']);
    const names = out.classnames.names;
    const texts = names.flatMap((n) => [`a photo of a ${n}.`, `a drawing of the ${n}.`]);
    const emb = json(['embed', '--checkpoint', student, ...files.flatMap((f) => ['--image', f.file]), ...texts.flatMap((t) => ['--text', t])]).result as unknown as {
      image_embeds: number[][];
      text_embeds: number[][];
    };
    const W = names.map((_, c) => emb.text_embeds[2 * c].map((x, j) => (x + emb.text_embeds[2 * c + 1][j]) / 2));
    const expected = [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    files.forEach((f, i) => {
      const u = unit(emb.image_embeds[i]);
      const scores = W.map((w) => w.reduce((s, x, j) => s + x * u[j], 0));
      expected[f.label][scores.indexOf(Math.max(...scores))]++;
    });
    expect(out.confusion_matrix.counts).toEqual(expected);
  });

  it('--output templates and --skip-existing over several datasets: done ones are skipped, the rest evaluated', async () => {
    const dir = path.join(work, 'folder-b');
    await writeImageFolder(dir, ['cat', 'dog'], 2);
    const tpl = path.join(work, 'results', '{dataset}_{checkpoint}.json');
    const first = json(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '8', '--output', tpl, '--skip-existing']);
    const shapesFile = path.join(work, 'results', 'shapes_micro-student.json');
    expect(first.result.files).toEqual([{ dataset: 'shapes', output: shapesFile }]);
    const written = JSON.parse(fs.readFileSync(shapesFile, 'utf8')) as EvalResultJson;
    expect(written).toEqual(first.result.results[0]);
    const mtime = fs.statSync(shapesFile).mtimeMs;
    const second = json(['eval', '--checkpoint', student, '--dataset', 'shapes', '--dataset', `folder:${dir}`, '--limit', '8', '--output', tpl, '--skip-existing']);
    expect(second.result.skipped).toEqual([{ dataset: 'shapes', output: shapesFile }]);
    expect(second.result.results.map((r) => r.dataset)).toEqual([`folder:${dir}`]);
    expect(fs.statSync(shapesFile).mtimeMs).toBe(mtime);
    expect(fs.existsSync(path.join(work, 'results', 'folder-folder-b_micro-student.json'))).toBe(true);
    // everything done: nothing is loaded, nothing evaluated
    const third = cli(['eval', '--checkpoint', student, '--dataset', 'shapes', '--dataset', `folder:${dir}`, '--output', tpl, '--skip-existing']);
    expect(third.status).toBe(0);
    expect(third.stdout).toContain('skipped shapes:');
    expect(third.stdout).toContain(`skipped folder:${dir}:`);
    // the class matrix came from the cache the second time round for shapes
    const again = json(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '8']);
    expect(again.result.results[0].classifier.cached).toBe(true);
    expect(again.result.results[0].confusion_matrix).toEqual(written.confusion_matrix);
  });

  it('unseen labels: replaced names (dictionary) and an expanded candidate set with distractors (--expand)', () => {
    const replace = path.join(work, 'replace.json');
    fs.writeFileSync(replace, JSON.stringify({ 'red circle': 'crimson disc', 'blue square': 'navy box' }));
    const r1 = json(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '10', '--classnames', replace]).result.results[0];
    expect(r1.classnames).toMatchObject({ mode: 'replace', source: replace, distractors: [] });
    // shapes' classes are colour-major: blue (colour 4) square (shape 1) is 4 * 6 + 1
    expect(r1.classnames.replaced).toEqual([
      { index: 0, from: 'red circle', to: 'crimson disc' },
      { index: 25, from: 'blue square', to: 'navy box' },
    ]);
    expect(r1.confusion_matrix.rows[0]).toBe('crimson disc');

    const shapes36 = r1.classnames.names.map((n) => (n === 'crimson disc' ? 'red circle' : n === 'navy box' ? 'blue square' : n));
    const expand = path.join(work, 'expand.txt');
    fs.writeFileSync(expand, `${[...shapes36, 'pink ring', 'cyan star', 'white moon'].join('\n')}\n`);
    const bad = errorOf(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '10', '--classnames', expand]);
    expect(bad.status).toBe(4);
    expect(bad.error.message).toContain('has 39 class names but shapes has 36 classes');
    expect(bad.error.fix).toContain('--expand');
    const r2 = json(['eval', '--checkpoint', student, '--dataset', 'shapes', '--limit', '10', '--classnames', expand, '--expand']).result.results[0];
    expect(r2).toMatchObject({ num_classes: 36, num_candidates: 39, classnames: { mode: 'expand', distractors: ['pink ring', 'cyan star', 'white moon'] } });
    expect(r2.confusion_matrix.rows).toHaveLength(36);
    expect(r2.confusion_matrix.columns).toHaveLength(39);
    expect(r2.confusion_matrix.counts[0]).toHaveLength(39);
    expect(r2.classnames.hash).not.toBe(r1.classnames.hash);
  });

  it('errors through the CLI: no tokenizer (names the fix, exit 4), usage errors (exit 2); more in test/eval/run.test.ts', async () => {
    const noTok = path.join(work, 'no-tokenizer');
    await writeMicroStudent(noTok, { seed: 5, tokenizer: false });
    const e1 = errorOf(['eval', '--checkpoint', noTok, '--dataset', 'shapes']);
    expect(e1.status).toBe(4);
    // checked before the backend starts: one line on stderr
    const line = cli(['eval', '--checkpoint', noTok, '--dataset', 'shapes']);
    expect(line.stderr.trim().split('\n')).toHaveLength(1);
    expect(e1.error.message).toContain('has no tokenizer/ folder (vocab.json and merges.txt)');
    expect(e1.error.fix).toContain(path.join(noTok, 'tokenizer'));
    const human = cli(['eval', '--checkpoint', student, '--dataset', 'shapes', '--skip-existing']);
    expect(human.status).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr.trim()).toBe('Error: --skip-existing needs --output (fix: give --output FILE (e.g. "results/{dataset}_{checkpoint}.json"))');
    expect(errorOf(['eval', '--checkpoint', student]).error).toMatchObject({ code: 'E_USAGE', message: 'no dataset to evaluate' });
    expect(errorOf(['eval', '--checkpoint', student, '--dataset', 'shapes', '--expand']).error.message).toBe('--expand needs --classnames');
  });
});

describe('spikeclip eval with a teacher checkpoint', () => {
  it('CLIP zero-shot on the teacher view: predictions equal the plain-TypeScript CLIP; no T, no firing rates', async () => {
    const fx = writeClipFixture(path.join(work, 'hf'), { seed: 31, bin: false });
    const teacher = path.join(work, 'clip-teacher');
    expect(cli(['convert', 'teacher', '--from', fx.dir, '--out', teacher, '--quiet']).status).toBe(0);
    const dir = path.join(work, 'folder-t');
    const files = await writeImageFolder(dir, ['red circle', 'blue square', 'car'], 2);
    fs.writeFileSync(path.join(dir, 'test', 'car', 'broken.png'), 'not a png');
    const doc = json(['eval', '--checkpoint', teacher, '--dataset', `folder:${dir}`, '--output', path.join(work, 'teacher.json')]);
    const r = doc.result.results[0];
    expect(r).toMatchObject({ model_kind: 'teacher', model: 'clip-teacher', time_steps: null, firing_rates: null, mean_firing_rate: null, image_size: 32, num_images: 6, num_candidates: 3 });
    // an undecodable image is skipped, counted and reported
    expect(r.skipped_images).toBe(1);
    expect(doc.warnings.join('\n')).toMatch(/skipping undecodable image test\/car\/broken\.png|skipping undecodable image car\/broken\.png/);
    expect('student_resize' in r).toBe(false);
    expect(Object.keys(r.metrics)).toEqual(['acc1', 'mean_per_class_recall']);
    // the reference: W_c = normalised text features of "a photo of a {c}." (one template), images preprocessed as CLIP does
    const S = fx.config.vision.imageSize;
    const tok = ClipTokenizer.fromHuggingFace(fx.vocab.vocabJson, fx.vocab.mergesTxt);
    const W = r.classnames.names.map((n) => unit(referenceTextFeatures(fx.weights, fx.config, tok.encode(`a photo of a ${n}.`, fx.config.text.maxPositions))));
    const pixels = await preprocessClipImages(files.map((f) => ({ kind: 'file' as const, path: f.file })), defaultClipPreprocess(S), S);
    const expected = W.map(() => W.map(() => 0));
    files.forEach((f, i) => {
      const u = unit(referenceImageFeatures(fx.weights, fx.config, pixels.subarray(i * S * S * 3, (i + 1) * S * S * 3)));
      const scores = W.map((w) => w.reduce((s, x, j) => s + x * u[j], 0));
      expected[f.label][scores.indexOf(Math.max(...scores))]++;
    });
    expect(r.confusion_matrix.counts).toEqual(expected);
  });
});
