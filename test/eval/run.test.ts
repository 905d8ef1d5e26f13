/**
 * The eval service in process (cpu backend): a micro student on the built-in shapes set; the
 * result document, the class-matrix cache, firing rates, distractors, and no leaked tensors.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { runEval } from '../../src/eval/run';
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
});
