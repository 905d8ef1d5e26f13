/**
 * The eval service in process (cpu backend): a micro student on the built-in shapes set; the
 * result document, the class-matrix cache, firing rates, distractors, and no leaked tensors.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { prepareEval, runEval } from '../../src/eval/run';
import { classifierCachePath } from '../../src/eval/classifier';
import { tmpDir, writeMicroStudent } from '../helpers/eval-fixtures';

let ckpt: string;
let cacheDir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const root = tmpDir();
  ckpt = path.join(root, 'micro');
  cacheDir = path.join(root, 'cache');
  await writeMicroStudent(ckpt, { seed: 5 });
});

describe('runEval (student, shapes)', () => {
  it('evaluates a seeded subset, fills the result document, caches W, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const notes: string[] = [];
    const run = await runEval({ checkpoint: ckpt, datasets: ['shapes'], limit: 12, seed: 1, batchSize: 5, cacheDir, onNote: (l) => notes.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    expect(run.results).toHaveLength(1);
    const r = run.results[0];
    expect(r).toMatchObject({ dataset: 'shapes', model: 'micro', task: 'zeroshot_classification', language: 'en', split: 'test', num_images: 12, split_size: 360, limit: 12, model_kind: 'student', time_steps: 2, num_classes: 36, num_candidates: 36, seed: 1 });
    expect(Object.keys(r.metrics)).toEqual(['acc1', 'acc5', 'mean_per_class_recall']);
    expect(r.classifier.cached).toBe(false);
    expect(fs.existsSync(r.classifier.cache_file as string)).toBe(true);
    expect(r.firing_rates!.length).toBeGreaterThan(3);
    for (const fr of r.firing_rates!) {
      expect(fr.layer).toMatch(/^image\./);
      expect(fr.rate).toBeGreaterThanOrEqual(0);
      expect(fr.rate).toBeLessThanOrEqual(1);
    }
    expect(r.confusion_matrix.counts.flat().reduce((a, b) => a + b, 0)).toBe(12);
    expect(notes.some((n) => n.startsWith('model: student'))).toBe(true);
    // the second run takes W from the cache and predicts the same
    const again = await runEval({ checkpoint: ckpt, datasets: ['shapes'], limit: 12, seed: 1, batchSize: 7, cacheDir });
    expect(tf.memory().numTensors).toBe(before);
    expect(again.results[0].classifier.cached).toBe(true);
    expect(again.results[0].confusion_matrix).toEqual(r.confusion_matrix);
  });

  it('a --limit subset is a pure function of the seed', async () => {
    const a = await runEval({ checkpoint: ckpt, datasets: ['shapes'], limit: 9, seed: 4, cacheDir, firingRates: false });
    const b = await runEval({ checkpoint: ckpt, datasets: ['shapes'], limit: 9, seed: 4, cacheDir, firingRates: false, batchSize: 2 });
    expect(a.results[0].per_class_accuracy).toEqual(b.results[0].per_class_accuracy);
    expect(a.results[0].firing_rates).toBeNull();
    const c = await runEval({ checkpoint: ckpt, datasets: ['shapes'], limit: 9, seed: 5, cacheDir, firingRates: false });
    expect(c.results[0].per_class_accuracy.map((x) => x.images)).not.toEqual(a.results[0].per_class_accuracy.map((x) => x.images));
  });

  it('--classes: only those classes\' images, classified among their names alone, and bad names refused', async () => {
    const held = ['red circle', 'orange square', 'yellow triangle', 'green star', 'blue hexagon', 'purple cross'];
    const sub = await runEval({ checkpoint: ckpt, datasets: ['shapes'], classes: held, cacheDir, firingRates: false });
    const r = sub.results[0];
    expect(r).toMatchObject({ num_classes: 6, num_candidates: 6, num_images: 60, split_size: 60 });
    expect(r.classnames.names).toEqual(held);
    expect(r.per_class_accuracy.map((x) => [x.name, x.images])).toEqual(held.map((n) => [n, 10]));
    expect(r.confusion_matrix.counts.flat().reduce((x, y) => x + y, 0)).toBe(60);
    await expect(prepareEval({ checkpoint: ckpt, datasets: ['shapes'], classes: ['red circle', 'violet blob'] })).rejects.toThrow(/class "violet blob" is not one of shapes's classes/);
    await expect(prepareEval({ checkpoint: ckpt, datasets: ['shapes'], classes: ['red circle', 'red circle'] })).rejects.toThrow(/named twice/);
    await expect(prepareEval({ checkpoint: ckpt, datasets: ['shapes'], classes: [] })).rejects.toThrow(/--classes names no class/);
  });

  it('checks flags, files, the checkpoint and the datasets before loading the model (prepareEval: no TF.js)', async () => {
    const dir = tmpDir('run-errors-');
    const missing = { checkpoint: path.join(dir, 'no-such-checkpoint'), datasets: ['shapes'], cacheDir };
    // flags and files first: none of these gets as far as the (missing) checkpoint
    await expect(prepareEval({ ...missing, plot: 'x.pdf' })).rejects.toThrow(/must be a \.svg or \.png file/);
    await expect(prepareEval({ ...missing, datasets: ['shapes', 'cifar10'], output: 'r.json' })).rejects.toMatchObject({ exitCode: 2, fix: expect.stringContaining('{dataset}') });
    await expect(prepareEval({ ...missing, datasets: ['shapes', 'shapes'] })).rejects.toThrow(/--dataset shapes is given twice/);
    await expect(prepareEval({ ...missing, output: 'r/{datset}.json' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('unknown placeholder {datset}'), fix: expect.stringContaining('{pretrained}') });
    await expect(prepareEval({ ...missing, limit: 0 })).rejects.toThrow(/--limit must be a positive integer/);
    const empty = path.join(dir, 'empty.txt');
    fs.writeFileSync(empty, '\n');
    await expect(prepareEval({ ...missing, templatesFile: empty })).rejects.toMatchObject({ exitCode: 4, message: expect.stringContaining('is empty') });
    // an unwritable --output or --plot, before any work (issue 13): a file where its folder should be, a folder, a read-only folder
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    await expect(prepareEval({ ...missing, output: path.join(dir, 'afile', 'r.json') })).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/--output .*r\.json cannot be written: .*afile is not a folder/) });
    await expect(prepareEval({ ...missing, plot: dir + '/' })).rejects.toThrow(/must be a \.svg or \.png file|is a directory/);
    await expect(prepareEval({ ...missing, output: dir })).rejects.toThrow(/--output .* cannot be written: .* is a directory/);
    if (process.getuid?.() !== 0) {
      const ro = path.join(dir, 'ro');
      fs.mkdirSync(ro, { mode: 0o555 });
      await expect(prepareEval({ ...missing, output: path.join(ro, 'sub', 'r.json') })).rejects.toThrow(/cannot be written: the folder .*ro is not writable/);
    }
    // then the checkpoint (config and tokenizer only)
    await expect(prepareEval(missing)).rejects.toThrow(/no-such-checkpoint/);
    await expect(prepareEval({ ...missing, checkpoint: dir })).rejects.toThrow(/not a spikeclip checkpoint/);
    // then the datasets and their class names
    const opts = { ...missing, checkpoint: ckpt };
    await expect(prepareEval({ ...opts, datasets: ['imagenet21k'] })).rejects.toThrow(/unknown dataset "imagenet21k"/);
    await expect(prepareEval({ ...opts, split: 'dev' })).rejects.toThrow(/shapes has no split "dev"/);
    const few = path.join(dir, 'few.txt');
    fs.writeFileSync(few, 'red circle\nblue square\n');
    await expect(prepareEval({ ...opts, classNamesFile: few })).rejects.toThrow(/has 2 class names but shapes has 36 classes/);
    const prep = await prepareEval({ ...opts, limit: 3 });
    expect(prep.datasets.map((d) => [d.dataset, d.split.size, d.candidates.names.length, d.prompts[0]])).toEqual([['shapes', 3, 36, ['a photo of a red circle.', 'a red circle.', 'a drawing of a red circle.', 'a rendering of a red circle.']]]);
  });

  it('--skip-existing with every output present loads nothing', async () => {
    const dir = tmpDir('run-skip-');
    fs.writeFileSync(path.join(dir, 'shapes_x.json'), '{}');
    const run = await runEval({ checkpoint: path.join(dir, 'x'), datasets: ['shapes'], output: path.join(dir, '{dataset}_{checkpoint}.json'), skipExisting: true });
    expect(run).toEqual({ results: [], files: [], skipped: [{ dataset: 'shapes', output: path.join(dir, 'shapes_x.json') }] });
  });
});
