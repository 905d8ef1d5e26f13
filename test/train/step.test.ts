import * as tf from '../../src/tf';
import { InitRng, Linear } from '../../src/snn/layers';
import { Adam } from '../../src/train/optimizer';
import { NonFiniteLossError, trainStep } from '../../src/train/step';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('trainStep', () => {
  it('fits a linear map (loss falls by orders of magnitude) and returns the loss before the update', () => {
    const layer = new Linear({ name: 'l', inFeatures: 3, outFeatures: 2, rng: new InitRng(1) });
    const opt = new Adam(layer.namedParameters(), { lr: 0.2 });
    const x = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]);
    const y = tf.tensor2d([[1, 2], [3, 4], [5, 6], [9, 12]]);
    const loss = (): tf.Scalar => tf.losses.meanSquaredError(y, layer.forward(x)) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    expect(trainStep(layer, opt, loss)).toBeCloseTo(first, 5);
    let last = first;
    for (let i = 0; i < 800; i++) last = trainStep(layer, opt, loss);
    expect(last).toBeLessThan(first * 1e-3);
    expect(opt.step).toBe(801);
  });

  it('keeps the tensor count flat over many steps', () => {
    const layer = new Linear({ name: 'l', inFeatures: 4, outFeatures: 4, rng: new InitRng(2) });
    const opt = new Adam(layer.namedParameters(), { lr: 0.01 });
    const x = tf.randomNormal([8, 4], 0, 1, 'float32', 3);
    const loss = (): tf.Scalar => tf.mean(tf.square(layer.forward(x))) as tf.Scalar;
    trainStep(layer, opt, loss); // creates the optimiser slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) trainStep(layer, opt, loss);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a NaN loss without touching the weights or the optimiser', () => {
    const layer = new Linear({ name: 'l', inFeatures: 2, outFeatures: 1, rng: new InitRng(4) });
    const opt = new Adam(layer.namedParameters(), { lr: 0.1 });
    const w = Array.from(layer.weight.dataSync());
    const before = tf.memory().numTensors;
    const nanLoss = (): tf.Scalar => tf.mul(tf.sum(layer.forward(tf.ones([1, 2]))), Number.NaN) as tf.Scalar;
    expect(() => trainStep(layer, opt, nanLoss)).toThrow(NonFiniteLossError);
    expect(() => trainStep(layer, opt, nanLoss)).toThrow('the loss became NaN at step 1; nothing was updated');
    expect(Array.from(layer.weight.dataSync())).toEqual(w);
    expect(opt.step).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
