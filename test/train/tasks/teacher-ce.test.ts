/** The teacher's fine-tuning loss against a hand computation, and which parameters it trains. */
import * as tf from '../../../src/tf';
import { createTeacher } from '../../../src/models/clip-init';
import { teacherCeLoss, teacherImageParams, teacherLogitScale } from '../../../src/train/tasks/teacher-ce';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('CE of exp(s) * cos against W: features are L2-normalised, W rows are used as given', () => {
  // f = [3, 4] -> [0.6, 0.8]; f = [0, -2] -> [0, -1]; W rows [1, 0] and [0, 0.5]; scale 10
  const l = tf.tidy(() => teacherCeLoss(tf.tensor2d([[3, 4], [0, -2]]), tf.tensor2d([[1, 0], [0, 0.5]]), tf.tensor1d([1, 0], 'int32'), 10).dataSync()[0]);
  const ce = (z: number[], y: number) => Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - z[y];
  const want = (ce([6, 4], 1) + ce([0, -5], 0)) / 2;
  expect(l).toBeCloseTo(want, 5);
});

test('only the image tower and its projection train; the logit scale is exp(s) clamped at 100', () => {
  const t = createTeacher('clip-tiny', { vocabSize: 300, seed: 1 });
  try {
    const names = teacherImageParams(t).map(([n]) => n);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n.startsWith('vision_model.') || n.startsWith('visual_projection.'))).toBe(true);
    expect(names).toContain('visual_projection.weight');
    expect(teacherLogitScale(t)).toBeCloseTo(Math.exp(t.logit_scale.dataSync()[0]), 3);
    t.logit_scale.assign(tf.scalar(10));
    expect(teacherLogitScale(t)).toBeCloseTo(100, 3);
  } finally {
    t.dispose();
  }
});
