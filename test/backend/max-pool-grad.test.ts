/**
 * Our wasm MaxPoolGrad against the pure-JS cpu backend's (random inputs: no ties). Where windows
 * overlap, several dy values add into one position in a different order: within 1e-6.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { maxPoolGradConfig } from '../../src/backend/kernels/max-pool-grad';
import { maxPool2dTorch } from '../../src/snn/layers';

async function gradOn(backend: string, f: (x: tf.Tensor4D) => tf.Tensor, shape: [number, number, number, number]): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = tf.randomNormal(f(x).shape, 0, 1, 'float32', 4);
    return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor4D), w)))(x).dataSync().slice() as unknown as void;
  }) as unknown as Float32Array;
}

describe('wasm MaxPoolGrad', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  it('is registered', () => {
    expect(tf.getKernel('MaxPoolGrad', 'wasm')).toBe(maxPoolGradConfig);
  });

  const cases: [string, (x: tf.Tensor4D) => tf.Tensor, [number, number, number, number]][] = [
    ['3x3/2 with -inf padding (the encoder)', (x) => maxPool2dTorch(x, 3, 2, 1), [2, 9, 8, 6]],
    ['2x2/2 valid', (x) => tf.maxPool(x, 2, 2, 'valid'), [2, 6, 7, 5]],
    ['3x3/2 same', (x) => tf.maxPool(x, 3, 2, 'same'), [1, 7, 7, 4]],
    ['3x3/1 numeric pad 1', (x) => tf.maxPool(x, 3, 1, 1), [1, 5, 6, 3]],
  ];
  for (const [name, f, shape] of cases) {
    it(`${name} equals the cpu backend`, async () => {
      const want = await gradOn('cpu', f, shape);
      const got = await gradOn('wasm', f, shape);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i])));
    });
  }
});
