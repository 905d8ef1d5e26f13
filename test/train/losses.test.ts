import * as tf from '../../src/tf';
import { alignmentLoss } from '../../src/train/losses';
import { cosineSimilarity, l2Normalize } from '../../src/models/normalize';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('alignment loss', () => {
  test('mean over the batch of 1 - cos', () => {
    const s = tf.tensor2d([[1, 0], [0, 2], [3, 4], [1, 1]]);
    const t = tf.tensor2d([[2, 0], [0, -1], [4, -3], [1, 0]]);
    // cos: 1, -1, 0, 1/sqrt(2)
    expect(alignmentLoss(s, t).dataSync()[0]).toBeCloseTo((0 + 2 + 1 + (1 - Math.SQRT1_2)) / 4, 6);
    expect(Array.from(cosineSimilarity(s, t).dataSync()).map((v) => +v.toFixed(6))).toEqual([1, -1, 0, +Math.SQRT1_2.toFixed(6)]);
    tf.dispose([s, t]);
  });

  test('norms clamped at 1e-8: a zero vector gives cos 0, no NaN, finite gradient', () => {
    const s = tf.tensor2d([[0, 0, 0]]);
    const t = tf.tensor2d([[1, 2, 3]]);
    expect(alignmentLoss(s, t).dataSync()[0]).toBe(1);
    const g = tf.grad((x: tf.Tensor) => alignmentLoss(x, t))(s);
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    const n = l2Normalize(tf.tensor2d([[3, 4], [1e-12, 0]]));
    const nd = n.dataSync();
    expect(nd[0]).toBeCloseTo(0.6, 6);
    expect(nd[1]).toBeCloseTo(0.8, 6);
    expect(nd[2]).toBeCloseTo(1e-4, 9); // 1e-12 / 1e-8
    tf.dispose([s, t, g, n]);
  });

  test('refuses mismatched shapes', () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([2, 4]);
    expect(() => alignmentLoss(a, b)).toThrow(/shapes differ/);
    tf.dispose([a, b]);
  });
});
