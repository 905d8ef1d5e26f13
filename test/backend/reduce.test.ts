/**
 * Our wasm Sum / Mean (reductions over leading or middle axes without a transpose) and the
 * copy-free Identity, against the pure-JS cpu backend.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { meanConfig, reductionView, sumConfig } from '../../src/backend/kernels/reduce';
import { identityConfig } from '../../src/backend/kernels/identity';

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 4294967296) * 4 - 2;
  }
  return out;
}

async function on(backend: string, f: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const y = f();
    return { shape: y.shape, data: y.dataSync().slice() as Float32Array } as unknown as void;
  }) as unknown as { shape: number[]; data: Float32Array };
}

describe('wasm Sum/Mean over leading and middle axes', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  it('are registered for wasm', () => {
    expect(tf.getKernel('Sum', 'wasm')).toBe(sumConfig);
    expect(tf.getKernel('Mean', 'wasm')).toBe(meanConfig);
    expect(tf.getKernel('Identity', 'wasm')).toBe(identityConfig);
  });

  it('views contiguous axis blocks as [A, R, C]', () => {
    expect(reductionView([2, 3, 4, 5], [0, 1, 2])).toEqual([1, 24, 5]);
    expect(reductionView([2, 3, 4, 5], [1, 2])).toEqual([2, 12, 5]);
    expect(reductionView([2, 3, 4, 5], [-1])).toEqual([24, 5, 1]);
    expect(reductionView([2, 3, 4, 5], [0, 2])).toBeNull();
  });

  const shape = [3, 5, 7, 6];
  const x = values(3 * 5 * 7 * 6, 9);
  const cases: [string, number | number[], boolean][] = [
    ['leading (BatchNorm)', [0, 1, 2], false],
    ['leading, keepDims', [0, 1, 2], true],
    ['axis 0', 0, false],
    ['middle', [1, 2], true],
    ['negative axes', [-3, -2], false],
    ['innermost (built-in)', [3], false],
    ['all', [0, 1, 2, 3], false],
    ['non-contiguous (built-in)', [0, 2], true],
  ];
  for (const [name, axis, keepDims] of cases) {
    for (const op of ['sum', 'mean'] as const) {
      it(`${op} ${name} equals the cpu backend`, async () => {
        const f = () => (op === 'sum' ? tf.sum : tf.mean)(tf.tensor(x, shape), axis, keepDims);
        const want = await on('cpu', f);
        const got = await on('wasm', f);
        expect(got.shape).toEqual(want.shape);
        for (let i = 0; i < want.data.length; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThanOrEqual(1e-4);
      });
    }
  }

  it('int32 goes to the built-in', () => {
    const s = tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0);
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.dataSync())).toEqual([4, 6]);
    s.dispose();
  });

  it('clone shares the data and stays valid after the original is disposed', () => {
    const a = tf.tensor1d([1, 2, 3]);
    const before = tf.backend().numDataIds();
    const b = tf.clone(a);
    expect(tf.backend().numDataIds()).toBe(before); // no copy
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
  });
});
