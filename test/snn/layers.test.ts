import * as tf from '../../src/tf';
import { INFERENCE, TRAINING, SpikeMonitor } from '../../src/snn';
import {
  BatchNorm,
  Conv2d,
  Embedding,
  InitRng,
  LayerNorm,
  Linear,
  TemporalReadout,
  applyTemporalReadout,
  maxPool2dTorch,
  temporalReadoutInit,
} from '../../src/snn/layers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol * Math.max(1, Math.abs(expected[i]))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

describe('BatchNorm', () => {
  // channel 0: 1,2,3,4 -> mean 2.5, biased var 1.25, unbiased 5/3
  // channel 1: 0,0,0,8 -> mean 2, biased var 12, unbiased 16
  const x = () => tf.tensor2d([1, 0, 2, 0, 3, 0, 4, 8], [4, 2]);

  function makeBn(): BatchNorm {
    const bn = new BatchNorm(2);
    bn.weight.assign(tf.tensor1d([2, 1]));
    bn.bias.assign(tf.tensor1d([0.5, -1]));
    return bn;
  }

  test('training normalises with the biased batch variance and updates running stats with the unbiased one', () => {
    const bn = makeBn();
    const input = x();
    const y = bn.forward(input, TRAINING);
    const rows = [[1, 0], [2, 0], [3, 0], [4, 8]];
    const expected = rows.flatMap(([a, b]) => [((a - 2.5) / Math.sqrt(1.25 + 1e-5)) * 2 + 0.5, ((b - 2) / Math.sqrt(12 + 1e-5)) * 1 - 1]);
    close(y.dataSync(), expected);
    close(bn.runningMean.dataSync(), [0.25, 0.2]);
    close(bn.runningVar.dataSync(), [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * 16]);
    // a second step compounds the momentum
    bn.forward(input, TRAINING).dispose();
    close(bn.runningMean.dataSync(), [0.9 * 0.25 + 0.25, 0.9 * 0.2 + 0.2]);
    close(bn.runningVar.dataSync(), [0.9 * (0.9 + 0.1 * (5 / 3)) + 0.1 * (5 / 3), 0.9 * (0.9 + 1.6) + 1.6]);
    tf.dispose([y, input]);
    bn.dispose();
  });

  test('inference uses the running statistics and leaves them alone', () => {
    const bn = makeBn();
    bn.runningMean.assign(tf.tensor1d([1, -2]));
    bn.runningVar.assign(tf.tensor1d([4, 0.25]));
    const input = x();
    const y = bn.forward(input, INFERENCE);
    const rows = [[1, 0], [2, 0], [3, 0], [4, 8]];
    close(y.dataSync(), rows.flatMap(([a, b]) => [((a - 1) / Math.sqrt(4 + 1e-5)) * 2 + 0.5, (b + 2) / Math.sqrt(0.25 + 1e-5) - 1]));
    close(bn.runningMean.dataSync(), [1, -2]);
    close(bn.runningVar.dataSync(), [4, 0.25]);
    tf.dispose([y, input]);
    bn.dispose();
  });

  test('pools statistics over every axis but the last; gradients reach weight and bias; no leaks', () => {
    const bn = new BatchNorm(3);
    const input = tf.randomNormal([2, 3, 4, 3], 0, 1, 'float32', 1);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(bn.forward(input, TRAINING))) as tf.Scalar, [bn.weight, bn.bias]);
    expect(Object.keys(grads).sort()).toEqual([bn.bias.name, bn.weight.name].sort());
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // mean of the normalised output per channel is ~0
    const y = bn.forward(input, TRAINING);
    close(tf.mean(y, [0, 1, 2]).dataSync(), [0, 0, 0], 1e-5);
    tf.dispose([y, input]);
    bn.dispose();
  });

  test('refuses a single value per channel in training, like PyTorch', () => {
    const bn = new BatchNorm(2);
    const one = tf.ones([1, 2]);
    expect(() => bn.forward(one, TRAINING)).toThrow(/more than 1 value per channel/);
    one.dispose();
    bn.dispose();
  });
});

describe('maxPool2dTorch', () => {
  test('matches PyTorch MaxPool2d(3, 2, 1) on a 5x5 example, padding with -inf', () => {
    // all values negative: zero padding would win at the borders, -inf padding must not
    const vals = Array.from({ length: 25 }, (_, i) => -(i + 1)); // x[r][c] = -(5r + c + 1)
    const x = tf.tensor4d(vals, [1, 5, 5, 1]);
    const y = maxPool2dTorch(x);
    expect(y.shape).toEqual([1, 3, 3, 1]);
    // window rows/cols for outputs 0,1,2: [0..1], [1..3], [3..4]; max = top-left element
    expect(Array.from(y.dataSync())).toEqual([-1, -2, -4, -6, -7, -9, -16, -17, -19]);
    // increasing values: max = bottom-right element of each window
    const up = tf.tensor4d(Array.from({ length: 25 }, (_, i) => i), [1, 5, 5, 1]);
    expect(Array.from(maxPool2dTorch(up).dataSync())).toEqual([6, 8, 9, 16, 18, 19, 21, 23, 24]);
    tf.dispose([x, y, up]);
  });

  test('output sizes follow floor((H + 2 - 3) / 2) + 1; channels and batch independent; differentiable', () => {
    const x = tf.randomNormal([2, 8, 7, 3]) as tf.Tensor4D;
    const y = maxPool2dTorch(x);
    expect(y.shape).toEqual([2, 4, 4, 3]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(maxPool2dTorch(a as tf.Tensor4D)))(x);
    // every output routes its gradient to exactly one input
    expect(tf.sum(g).dataSync()[0]).toBeCloseTo(2 * 4 * 4 * 3, 4);
    tf.dispose([x, y, g]);
  });
});

describe('Conv2d', () => {
  test('HWIO weight, zero padding 1, bias; matches a hand computation', () => {
    const conv = new Conv2d({ name: 'c', inChannels: 1, outChannels: 1, kernelSize: 3, padding: 1, bias: true });
    conv.weight.assign(tf.ones([3, 3, 1, 1]));
    (conv.bias as tf.Variable).assign(tf.tensor1d([0.5]));
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const y = conv.forward(x);
    // neighbourhood sums + 0.5
    expect(Array.from(y.dataSync())).toEqual([12, 21, 16, 27, 45, 33, 24, 39, 28].map((v) => v + 0.5));
    tf.dispose([x, y]);
    conv.dispose();
  });

  test('shapes, no-bias variant, PyTorch default init bounds', () => {
    const conv = new Conv2d({ name: 'c', inChannels: 4, outChannels: 6, kernelSize: 3, padding: 1, bias: false, rng: new InitRng(3) });
    expect(conv.weight.shape).toEqual([3, 3, 4, 6]);
    expect(conv.bias).toBeNull();
    expect(conv.namedParameters().map(([n]) => n)).toEqual(['weight']);
    const bound = 1 / Math.sqrt(36);
    expect(tf.max(tf.abs(conv.weight)).dataSync()[0]).toBeLessThanOrEqual(bound);
    const x = tf.zeros([2, 5, 5, 4]) as tf.Tensor4D;
    expect(conv.forward(x).shape).toEqual([2, 5, 5, 6]);
    tf.dispose(x);
    conv.dispose();
  });

  test('same seed, same weights', () => {
    const a = new Conv2d({ name: 'a', inChannels: 2, outChannels: 3, kernelSize: 3, rng: new InitRng(7) });
    const b = new Conv2d({ name: 'b', inChannels: 2, outChannels: 3, kernelSize: 3, rng: new InitRng(7) });
    expect(Array.from(a.weight.dataSync())).toEqual(Array.from(b.weight.dataSync()));
    a.dispose();
    b.dispose();
  });

  test('reports spikes to the monitor with fanOut C_out * k * k', () => {
    const conv = new Conv2d({ name: 'image.x_conv', inChannels: 2, outChannels: 5, kernelSize: 3, padding: 1, bias: false });
    const spikes = tf.tensor4d([1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1], [1, 3, 3, 2]);
    const monitor = new SpikeMonitor();
    conv.forward(spikes, { training: false, monitor }, { kind: 'ac', timeSteps: 1, samples: 1 }).dispose();
    const [rec] = monitor.observations();
    expect(rec.layer).toBe('image.x_conv');
    expect(rec.kind).toBe('ac');
    expect(rec.nonZero).toBe(7);
    expect(rec.inputElements).toBe(18);
    expect(rec.fanOut).toBe(45);
    expect(rec.flopsPerStep).toBe(3 * 3 * 5 * 2 * 9);
    expect(rec.timeSteps).toBe(1);
    expect(rec.samples).toBe(1);
    spikes.dispose();
    conv.dispose();
  });
});

describe('Linear', () => {
  test('y = x W + b over the last axis of any rank', () => {
    const lin = new Linear({ name: 'l', inFeatures: 2, outFeatures: 3 });
    lin.weight.assign(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]));
    (lin.bias as tf.Variable).assign(tf.tensor1d([0, 1, 2]));
    const x = tf.tensor3d([1, 1, 0, 2], [2, 1, 2]);
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 1, 3]);
    expect(Array.from(y.dataSync())).toEqual([5, 8, 11, 8, 11, 14]);
    tf.dispose([x, y]);
    lin.dispose();
  });

  test('trunc-normal init: std ~0.02, zero bias', () => {
    const lin = new Linear({ name: 'l', inFeatures: 200, outFeatures: 100, init: { truncNormalStd: 0.02 }, rng: new InitRng(1) });
    const m = tf.moments(lin.weight);
    expect(Math.abs(m.mean.dataSync()[0])).toBeLessThan(0.002);
    expect(Math.sqrt(m.variance.dataSync()[0])).toBeCloseTo(0.02, 3);
    expect(Array.from((lin.bias as tf.Variable).dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([m.mean, m.variance]);
    lin.dispose();
  });

  test('monitor: nonZero equals a manual count, fanOut = out features, flops per sample and step', () => {
    const lin = new Linear({ name: 'text.fc1', inFeatures: 4, outFeatures: 3, bias: true });
    // [T=2, B=3, 4] spikes
    const data = [1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1];
    const x = tf.tensor3d(data, [2, 3, 4]);
    const monitor = new SpikeMonitor();
    lin.forward(x, { training: true, monitor }, { kind: 'ac', timeSteps: 2, samples: 3 }).dispose();
    lin.forward(x, { training: true, monitor }, { kind: 'ac', timeSteps: 2, samples: 3 }).dispose();
    const [rec] = monitor.observations();
    const manual = data.filter((v) => v !== 0).length;
    expect(rec.nonZero).toBe(2 * manual);
    expect(rec.fanOut).toBe(3);
    expect(rec.flopsPerStep).toBe(12);
    expect(rec.samples).toBe(6);
    expect(rec.calls).toBe(2);
    // the firing-rate estimate agrees with the exact count for dense layers
    const fr = rec.nonZero / rec.inputElements;
    expect(fr * rec.timeSteps * rec.flopsPerStep * rec.samples).toBeCloseTo(rec.nonZero * rec.fanOut, 6);
    // no monitor: nothing reported, nothing leaked
    const before = tf.memory().numTensors;
    lin.forward(x, INFERENCE, { kind: 'ac', timeSteps: 2, samples: 3 }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    lin.dispose();
  });
});

describe('TemporalReadout', () => {
  test('init ln(0.8 * 2^-(T-1-t)): ln 0.1, 0.2, 0.4, 0.8 for T = 4', () => {
    close(temporalReadoutInit(4), [Math.log(0.1), Math.log(0.2), Math.log(0.4), Math.log(0.8)], 1e-12);
    close(temporalReadoutInit(4), [-2.3026, -1.6094, -0.9163, -0.2231], 1e-4); // the reference's constants
    close(temporalReadoutInit(1), [Math.log(0.8)], 1e-12);
    close(temporalReadoutInit(2), [Math.log(0.4), Math.log(0.8)], 1e-12);
    expect(() => temporalReadoutInit(0)).toThrow(/T must be a positive integer/);
  });

  test('weighted sum over time with raw multipliers', () => {
    const r = new TemporalReadout(2);
    r.weight.assign(tf.tensor1d([2, -1]));
    const x = tf.tensor3d([1, 2, 3, 4, 10, 20, 30, 40], [2, 2, 2]);
    const y = r.forward(x);
    expect(y.shape).toEqual([2, 2]);
    expect(Array.from(y.dataSync())).toEqual([-8, -16, -24, -32]);
    expect(r.namedParameters().map(([n]) => n)).toEqual(['weights_tensor']);
    const w = tf.tensor1d([1, 1, 1]);
    expect(() => applyTemporalReadout(x, w)).toThrow(/expected x \[3, B/);
    tf.dispose([x, y, w]);
    r.dispose();
  });
});

describe('Embedding and LayerNorm', () => {
  test('embedding lookup and row setting', () => {
    const e = new Embedding(5, 2);
    e.setRows(new Float32Array([1, 2, 3, 4]), 2);
    const ids = tf.tensor2d([[1, 0], [1, 1]], [2, 2], 'int32');
    const y = e.forward(ids);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.dataSync())).toEqual([3, 4, 1, 2, 3, 4, 3, 4]);
    expect(e.weight.shape).toEqual([5, 2]);
    tf.dispose([ids, y]);
    e.dispose();
  });

  test('layer norm matches a hand computation', () => {
    const ln = new LayerNorm(4);
    const x = tf.tensor2d([1, 2, 3, 4], [1, 4]);
    const sd = Math.sqrt(1.25 + 1e-5);
    close(ln.forward(x).dataSync(), [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd]);
    x.dispose();
    ln.dispose();
  });
});
