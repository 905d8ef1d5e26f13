/**
 * Metrics on small fixed prediction sets, against values computed by hand.
 */
import { computeMetrics, MetricsError } from '../../src/eval/metrics';

function ranked(labels: number[], rows: number[][]) {
  return { labels: Int32Array.from(labels), topk: Int32Array.from(rows.flat()), k: rows[0].length };
}

describe('computeMetrics', () => {
  // 3 classes, 7 candidates (3..6 are distractors), the 5 best per image.
  //   image  label  ranking          top-1   in top-5
  //   0      0      0 1 2 3 4        right   yes
  //   1      0      3 4 5 6 1        wrong   no
  //   2      1      1 0 2 3 4        right   yes
  //   3      1      2 1 0 3 4        wrong   yes
  //   4      1      4 3 2 0 5        wrong   no
  //   5      2      0 1 3 4 2        wrong   yes (5th)
  const P = ranked(
    [0, 0, 1, 1, 1, 2],
    [
      [0, 1, 2, 3, 4],
      [3, 4, 5, 6, 1],
      [1, 0, 2, 3, 4],
      [2, 1, 0, 3, 4],
      [4, 3, 2, 0, 5],
      [0, 1, 3, 4, 2],
    ],
  );

  it('top-1, top-5, mean per-class recall, per-class accuracy and the confusion matrix', () => {
    const m = computeMetrics(P, 3, 7, ['cat', 'dog', 'bird', 'x1', 'x2', 'x3', 'x4']);
    expect(m.numImages).toBe(6);
    expect(m.acc1).toBeCloseTo(2 / 6, 12);
    expect(m.acc5).toBeCloseTo(4 / 6, 12);
    // recalls 1/2, 1/3, 0/1
    expect(m.meanPerClassRecall).toBeCloseTo((1 / 2 + 1 / 3 + 0) / 3, 12);
    expect(m.classesWithImages).toBe(3);
    expect(m.perClass).toEqual([
      { index: 0, name: 'cat', support: 2, correct: 1, accuracy: 0.5 },
      { index: 1, name: 'dog', support: 3, correct: 1, accuracy: 1 / 3 },
      { index: 2, name: 'bird', support: 1, correct: 0, accuracy: 0 },
    ]);
    expect(m.confusion).toEqual([
      [1, 0, 0, 1, 0, 0, 0],
      [0, 1, 1, 0, 1, 0, 0],
      [1, 0, 0, 0, 0, 0, 0],
    ]);
  });

  it('classes without images do not count in the mean per-class recall', () => {
    // 4 classes, class 3 has no image (as after a --limit subset)
    const m = computeMetrics(P, 4, 7);
    expect(m.meanPerClassRecall).toBeCloseTo((1 / 2 + 1 / 3 + 0) / 3, 12);
    expect(m.classesWithImages).toBe(3);
    expect(m.perClass[3]).toEqual({ index: 3, name: '3', support: 0, correct: 0, accuracy: null });
    expect(m.confusion).toHaveLength(4);
  });

  it('no top-5 below 5 candidates', () => {
    const m = computeMetrics(ranked([0, 1, 2, 2], [[0, 1, 2], [2, 1, 0], [2, 0, 1], [1, 2, 0]]), 3, 3);
    expect(m.acc5).toBeUndefined();
    expect(m.acc1).toBeCloseTo(2 / 4, 12);
    expect(m.meanPerClassRecall).toBeCloseTo((1 + 0 + 1 / 2) / 3, 12);
    expect(m.confusion).toEqual([
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 1],
    ]);
  });

  it('exactly 5 candidates: top-5 is 1', () => {
    const m = computeMetrics(ranked([4, 0], [[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]]), 5, 5);
    expect(m.acc5).toBe(1);
    expect(m.acc1).toBe(0);
  });

  it('refuses inconsistent input', () => {
    expect(() => computeMetrics(ranked([], [[0]]), 1, 1)).toThrow(MetricsError);
    expect(() => computeMetrics(ranked([5], [[0, 1, 2, 3, 4]]), 3, 7)).toThrow(/label 5, outside \[0, 3\)/);
    expect(() => computeMetrics(ranked([0], [[9, 1, 2, 3, 4]]), 3, 7)).toThrow(/candidate 9/);
    expect(() => computeMetrics(ranked([0], [[0, 1]]), 3, 7)).toThrow(/needs the 5 best/);
    expect(() => computeMetrics({ labels: Int32Array.from([0]), topk: Int32Array.from([0, 1]), k: 3 }, 3, 7)).toThrow(/expected 1 x 3/);
    expect(() => computeMetrics(ranked([0], [[0]]), 3, 2)).toThrow(/cannot cover/);
  });
});
