/**
 * The fine-tuning losses against hand computations: KL (sum and batchmean, temperature), CE, the
 * teacher distribution, and the gate's angle and decision.
 */
import * as tf from '../../src/tf';
import { crossEntropy, gradientAngle, klDivergence, teacherDistribution } from '../../src/train/losses';
import { dualLossTerms } from '../../src/train/tasks/dual-loss';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const softmax = (row: number[]): number[] => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

// a batch of 2 over 3 classes
const P = [
  [0.7, 0.2, 0.1],
  [0.1, 0.1, 0.8],
];
const Z = [
  [0.5, -0.2, 0.1],
  [-0.3, 0.4, 0.9],
];

function handKl(T: number): number {
  let s = 0;
  P.forEach((p, i) => {
    const q = softmax(Z[i].map((v) => v / T));
    p.forEach((pc, c) => (s += pc * (Math.log(pc) - Math.log(q[c]))));
  });
  return s;
}

describe('fine-tuning losses', () => {
  test('KL(p || softmax(z)) summed over the batch (reference) and batchmean, to 1e-6', () => {
    const sum = tf.tidy(() => klDivergence(tf.tensor2d(P), tf.tensor2d(Z), 'sum').dataSync()[0]);
    const mean = tf.tidy(() => klDivergence(tf.tensor2d(P), tf.tensor2d(Z), 'batchmean').dataSync()[0]);
    // by hand: row 1 = 0.7 ln(0.7/q0) + ..., q = softmax(z)
    expect(handKl(1)).toBeCloseTo(0.32836100, 7); // recorded with Python's math module
    expect(sum).toBeCloseTo(handKl(1), 6);
    expect(mean).toBeCloseTo(handKl(1) / 2, 6);
  });

  test('temperature divides the student logits; a zero probability contributes nothing', () => {
    const t2 = tf.tidy(() => klDivergence(tf.tensor2d(P), tf.tensor2d(Z), 'sum', 2).dataSync()[0]);
    expect(t2).toBeCloseTo(handKl(2), 6);
    const zeroP = tf.tidy(() => klDivergence(tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[0.5, -0.2, 0.1]]), 'sum').dataSync()[0]);
    expect(zeroP).toBeCloseTo(-Math.log(softmax([0.5, -0.2, 0.1])[0]), 6);
  });

  test('CE is the mean of -log softmax(z)[y]', () => {
    const ce = tf.tidy(() => crossEntropy(tf.tensor2d(Z), tf.tensor1d([0, 2], 'int32')).dataSync()[0]);
    expect(ce).toBeCloseTo((-Math.log(softmax(Z[0])[0]) - Math.log(softmax(Z[1])[2])) / 2, 6);
  });

  test('the teacher distribution is softmax(cos(f_teacher, W_c) / T) (W rows as given, features normalised)', () => {
    const W = [
      [1, 0],
      [0, 1],
      [0.6, 0.8],
    ];
    const p = tf.tidy(() => Array.from(teacherDistribution(tf.tensor2d([[3, 4]]), tf.tensor2d(W), 0.5).dataSync()));
    const cos = W.map((w) => (w[0] * 3 + w[1] * 4) / 5);
    softmax(cos.map((c) => c / 0.5)).forEach((v, i) => expect(p[i]).toBeCloseTo(v, 6));
  });

  test('dualLossTerms: z are cosines against W; kl is weighted; ce only for ce', () => {
    const W = tf.tensor2d([
      [1, 0],
      [0, 1],
      [0.6, 0.8],
    ]);
    const f = tf.tensor2d([
      [2, 0],
      [0, -1],
    ]);
    const y = tf.tensor1d([0, 2], 'int32');
    const p = tf.tensor2d(P);
    const z = [
      [1, 0, 0.6],
      [0, -1, -0.8],
    ];
    const t = dualLossTerms(f, W, y, p, { loss: 'dual', klWeight: 0.5, klReduction: 'sum', temperature: 1 });
    expect(t.ce!.dataSync()[0]).toBeCloseTo((-Math.log(softmax(z[0])[0]) - Math.log(softmax(z[1])[2])) / 2, 5);
    let kl = 0;
    P.forEach((pr, i) => pr.forEach((pc, c) => (kl += pc * (Math.log(pc) - Math.log(softmax(z[i])[c])))));
    expect(t.kl!.dataSync()[0]).toBeCloseTo(0.5 * kl, 5);
    const ce = dualLossTerms(f, W, y, p, { loss: 'ce', klWeight: 1, klReduction: 'sum', temperature: 1 });
    expect(ce.kl).toBeUndefined();
    tf.dispose([W, f, y, p, t.ce!, t.kl!, ce.ce!]);
  });

  test('the gate angle between two gradients equals the hand-computed one', () => {
    // g1 = (1, 0 | 0), g2 = (1, 1 | 0): 45 degrees; g3 = (-1, 0 | 0): 180; with a zero gradient: 90
    const a = [tf.tensor1d([1, 0]), tf.tensor1d([0])];
    const b = [tf.tensor1d([1, 1]), tf.tensor1d([0])];
    const c = [tf.tensor1d([-1, 0]), tf.tensor1d([0])];
    const zero = [tf.tensor1d([0, 0]), tf.tensor1d([0])];
    expect(gradientAngle(a, b)).toBeCloseTo(45, 6);
    expect(gradientAngle(a, c)).toBeCloseTo(180, 6);
    expect(gradientAngle(a, zero)).toBe(90);
    // spread over several tensors: (1,2 | 2) vs (2,1 | -2): cos = (2 + 2 - 4) / 9 = 0 -> 90
    expect(gradientAngle([tf.tensor1d([1, 2]), tf.tensor1d([2])], [tf.tensor1d([2, 1]), tf.tensor1d([-2])])).toBeCloseTo(90, 6);
    tf.dispose([...a, ...b, ...c, ...zero]);
  });
});
