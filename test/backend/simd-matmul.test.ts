/** Our SIMD batched matMul (src/backend/simd/matmul.wat) for small batched products, against the cpu backend. */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';

async function on(backend: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => f().dataSync().slice() as unknown as void) as unknown as Float32Array;
}

describe('SIMD batched matMul on wasm', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 2, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7, 9], [5, 9, 37], false, false],
    [[2, 8, 64, 48], [2, 8, 64, 48], false, true], // Q K^T
    [[2, 8, 64, 64], [2, 8, 64, 48], false, false], // (Q K^T) V
    [[3, 48, 64], [3, 48, 16], true, false],
    [[4, 1, 3], [4, 3, 1], false, false],
  ];
  for (const [sa, sb, ta, tb] of cases) {
    it(`[${sa}]${ta ? 'T' : ''} x [${sb}]${tb ? 'T' : ''} equals the cpu backend`, async () => {
      const f = () => tf.matMul(tf.randomNormal(sa, 0, 1, 'float32', 1), tf.randomNormal(sb, 0, 1, 'float32', 2), ta, tb);
      const want = await on('cpu', f);
      const got = await on('wasm', f);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[i])));
    });
  }
});
