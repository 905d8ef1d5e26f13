/**
 * Gradients on the wasm backend with our kernels, checked against the pure-JS cpu backend.
 *
 * Tolerance: max |wasm - cpu| <= 1e-4 * max(1, max |cpu|) per gradient (float32 sums of a few
 * hundred products, in different orders).
 */
import * as tf from '../../src/tf';
import type { Tensor } from '../../src/tf';
import { initBackend } from '../../src/backend';
import {
  installTrainingKernels,
  installWasmKernels,
  trainingKernelsFor,
  uninstallTrainingKernels,
  WASM_TRAINING_KERNELS,
} from '../../src/backend/gradients';
import { batchMatMulTuning } from '../../src/backend/kernels/batch-matmul';
// (spikeclip itself uses no layer of tfjs-layers; src/tf.ts loads it for its gradient registrations)
import * as tfl from '@tensorflow/tfjs-layers';

const REL_TOL = 1e-4;

/** Deterministic pseudo-random numbers in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

interface Spec {
  shape: number[];
  seed: number;
}

const size = (shape: number[]) => shape.reduce((p, v) => p * v, 1);

/** Values of `f(...inputs)` and its gradients, computed on `backend`. */
async function gradsOn(
  backend: string,
  f: (...xs: Tensor[]) => Tensor,
  specs: Spec[],
): Promise<{ value: Float32Array; grads: Float32Array[]; shapes: number[][] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = specs.map((s) => tf.tensor(rand(size(s.shape), s.seed), s.shape));
    const { value, grads } = tf.valueAndGrads(f)(xs);
    return {
      value: value.dataSync() as Float32Array,
      grads: grads.map((g) => g.dataSync() as Float32Array),
      shapes: grads.map((g) => g.shape),
    };
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
  }
  const tol = REL_TOL * Math.max(1, maxAbs(expected));
  if (!(diff <= tol)) throw new Error(`${what}: max abs diff ${diff} > ${tol}`);
}

/** Compares value and gradients of f on wasm (ours) with those of `oracle` (default f) on cpu. */
async function compare(name: string, f: (...xs: Tensor[]) => Tensor, specs: Spec[], oracle = f): Promise<void> {
  const want = await gradsOn('cpu', oracle, specs);
  const got = await gradsOn('wasm', f, specs);
  expectClose(got.value, want.value, `${name}: value`);
  got.grads.forEach((g, i) => {
    expect(got.shapes[i]).toEqual(specs[i].shape);
    expectClose(g, want.grads[i], `${name}: gradient ${i}`);
  });
  await tf.setBackend('wasm');
}

/** A fixed random tensor used to weight an output (so that dy is not all ones). */
function weights(shape: number[], seed = 99): Tensor {
  return tf.tensor(rand(size(shape), seed), shape);
}

function weightedSum(y: Tensor, seed = 99): Tensor {
  return tf.sum(tf.mul(y, weights(y.shape, seed)));
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' }, [installTrainingKernels]);
});

afterAll(() => {
  tf.removeBackend('wasm');
});

describe('installation', () => {
  test('registers our kernels for wasm, idempotently', () => {
    for (const k of WASM_TRAINING_KERNELS) expect(tf.getKernel(k.kernelName, 'wasm')).toBe(k);
    installTrainingKernels({ tfName: 'wasm' });
    installWasmKernels();
    for (const k of WASM_TRAINING_KERNELS) expect(tf.getKernel(k.kernelName, 'wasm')).toBe(k);
    expect(trainingKernelsFor('cpu').kernels).toEqual([]);
    expect(trainingKernelsFor('wasm').kernels).toContain('Conv2DBackpropFilter');
  });

  test('does not touch the cpu kernels', () => {
    for (const k of WASM_TRAINING_KERNELS) {
      const cpu = tf.getKernel(k.kernelName, 'cpu');
      expect(cpu).toBeDefined();
      expect(cpu.backendName).toBe('cpu');
    }
  });

  test('uninstall restores the built-in kernels; install again', async () => {
    await tf.setBackend('wasm');
    uninstallTrainingKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('BatchMatMul', 'wasm')).not.toBe(WASM_TRAINING_KERNELS[2]);
    // The built-in BatchMatMul still works.
    const r = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2]), true).arraySync());
    expect(r).toEqual([
      [1, 3],
      [2, 4],
    ]);
    installTrainingKernels({ tfName: 'wasm' });
    for (const k of WASM_TRAINING_KERNELS) expect(tf.getKernel(k.kernelName, 'wasm')).toBe(k);
  });
});

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  x: number[];
  f: number[];
  stride: number | [number, number];
  pad: Pad;
  rounding?: 'floor' | 'round' | 'ceil';
}

const convCases: ConvCase[] = [
  { x: [2, 5, 5, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 1, pad: 'valid' },
  { x: [3, 7, 7, 2], f: [3, 3, 2, 5], stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 4], stride: 2, pad: 'same' },
  { x: [2, 8, 9, 3], f: [3, 3, 3, 4], stride: 2, pad: 'valid' },
  { x: [2, 9, 7, 2], f: [3, 3, 2, 3], stride: [2, 1], pad: 'same' },
  { x: [2, 5, 5, 6], f: [1, 1, 6, 4], stride: 1, pad: 'same' },
  { x: [2, 5, 7, 4], f: [1, 1, 4, 6], stride: 1, pad: 'valid' },
  { x: [2, 7, 7, 3], f: [1, 1, 3, 5], stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], f: [1, 1, 3, 5], stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 3], f: [2, 2, 3, 4], stride: 2, pad: 'valid' },
  { x: [2, 9, 9, 2], f: [5, 5, 2, 3], stride: 1, pad: 'same' },
  { x: [2, 6, 7, 2], f: [3, 1, 2, 3], stride: 1, pad: 'same' },
  { x: [2, 6, 6, 2], f: [3, 3, 2, 3], stride: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { x: [2, 7, 7, 2], f: [3, 3, 2, 3], stride: 2, pad: [[0, 0], [0, 1], [2, 0], [0, 0]] },
  { x: [2, 7, 7, 2], f: [3, 3, 2, 3], stride: 2, pad: 1 },
  { x: [1, 1, 1, 3], f: [1, 1, 3, 2], stride: 1, pad: 'valid' },
  // Batch >= 16: the filter gradient runs as one forward conv (smaller batches: per-tap matMuls).
  { x: [16, 5, 5, 2], f: [3, 3, 2, 3], stride: 1, pad: 'same' },
  { x: [16, 6, 7, 2], f: [3, 3, 2, 3], stride: 1, pad: 'valid' },
  { x: [16, 7, 7, 2], f: [3, 3, 2, 3], stride: 2, pad: 'same' },
  { x: [16, 8, 9, 2], f: [3, 3, 2, 2], stride: [2, 1], pad: 'valid' },
  { x: [16, 6, 6, 2], f: [3, 3, 2, 3], stride: 2, pad: [[0, 0], [0, 1], [2, 0], [0, 0]] },
  { x: [16, 4, 4, 3], f: [1, 1, 3, 2], stride: 2, pad: 'valid' },
];

describe('conv2d gradients (filter and input) vs cpu', () => {
  test.each(convCases.map((c) => [`x${c.x} f${c.f} s${c.stride} ${JSON.stringify(c.pad)}${c.rounding ?? ''}`, c] as const))(
    '%s',
    async (_name, c) => {
      const f = (x: Tensor, w: Tensor) =>
        weightedSum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad, 'NHWC', 1, c.rounding));
      await compare('conv2d', f, [
        { shape: c.x, seed: 1 },
        { shape: c.f, seed: 2 },
      ]);
    },
  );

  test('conv2dTranspose (Conv2DBackpropInput forward, and its gradients)', async () => {
    const f = (dy: Tensor, w: Tensor) => weightedSum(tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, [2, 9, 9, 3], 2, 'same'));
    await compare('conv2dTranspose', f, [
      { shape: [2, 5, 5, 4], seed: 3 },
      { shape: [3, 3, 3, 4], seed: 4 },
    ]);
  });

  /** Runs both backprop kernels directly on `backend`; `attrs` may differ per backend. */
  const runKernels = async (backend: string, xShape: number[], dyShape: number[], fShape: number[], attrs: Record<string, unknown>) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor(rand(size(xShape), 5), xShape);
      const dy = tf.tensor(rand(size(dyShape), 6), dyShape);
      const w = tf.tensor(rand(size(fShape), 7), fShape);
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape } as unknown as tf.NamedAttrMap) as Tensor;
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap) as Tensor;
      return [dw.shape, dw.dataSync(), dx.shape, dx.dataSync()] as const;
    });
  };

  test('NCHW data format (kernels called directly)', async () => {
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', dimRoundingMode: undefined };
    const want = await runKernels('cpu', [2, 3, 6, 5], [2, 4, 3, 3], [3, 3, 3, 4], attrs);
    const got = await runKernels('wasm', [2, 3, 6, 5], [2, 4, 3, 3], [3, 3, 3, 4], attrs);
    expect(got[0]).toEqual(want[0]);
    expect(got[2]).toEqual(want[2]);
    expectClose(got[1], want[1], 'NCHW filter gradient');
    expectClose(got[3], want[3], 'NCHW input gradient');
  });

  test("dimRoundingMode 'ceil': the output size is read from dy (kernels called directly)", async () => {
    // pad 1, stride 2, width 8: 'ceil' gives 5 output columns ('floor' 4), i.e. the explicit
    // padding [1, 2] on the width. (tfjs-core's conv2d gradient drops dimRoundingMode, and the
    // wasm forward conv ignores 'ceil', so this is tested on the kernels only.)
    const ceil = { strides: [2, 2], pad: 1, dataFormat: 'NHWC', dimRoundingMode: 'ceil' };
    const explicit = { strides: [2, 2], pad: [[0, 0], [1, 1], [1, 2], [0, 0]], dataFormat: 'NHWC' };
    const want = await runKernels('cpu', [2, 7, 8, 2], [2, 4, 5, 3], [3, 3, 2, 3], explicit);
    const got = await runKernels('wasm', [2, 7, 8, 2], [2, 4, 5, 3], [3, 3, 2, 3], ceil);
    expect(got[0]).toEqual(want[0]);
    expect(got[2]).toEqual(want[2]);
    expectClose(got[1], want[1], 'ceil filter gradient');
    expectClose(got[3], want[3], 'ceil input gradient');
  });
});

describe('depthwise conv2d gradients vs cpu', () => {
  const cases: ConvCase[] = [
    { x: [2, 6, 6, 3], f: [3, 3, 3, 1], stride: 1, pad: 'same' },
    { x: [2, 6, 5, 3], f: [3, 3, 3, 2], stride: 1, pad: 'valid' },
    { x: [2, 7, 7, 2], f: [3, 3, 2, 2], stride: 2, pad: 'same' },
    { x: [1, 8, 8, 2], f: [3, 3, 2, 1], stride: 2, pad: 'valid' },
  ];
  test.each(cases.map((c) => [`x${c.x} f${c.f} s${c.stride} ${c.pad}`, c] as const))('%s', async (_n, c) => {
    const f = (x: Tensor, w: Tensor) => weightedSum(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad as 'same'));
    await compare('depthwiseConv2d', f, [
      { shape: c.x, seed: 11 },
      { shape: c.f, seed: 12 },
    ]);
  });
});

describe('matMul / BatchMatMul vs cpu', () => {
  const flags = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const;
  /** Shapes of a and b for a product [.., m, k] x [.., k, n] with the given flags. */
  const shapes = (ab: number[], bb: number[], m: number, k: number, n: number, ta: boolean, tb: boolean) => [
    [...ab, ...(ta ? [k, m] : [m, k])],
    [...bb, ...(tb ? [n, k] : [k, n])],
  ];
  const batchCases: [string, number[], number[]][] = [
    ['2-D', [], []],
    ['3-D batch', [3], [3]],
    ['4-D batch', [2, 3], [2, 3]],
    ['3-D x 2-D (broadcast b)', [3], []],
    ['[1] x [3] (broadcast a)', [1], [3]],
    ['2-D x 3-D (broadcast a)', [], [3]],
    ['[2,3] x [1] (broadcast b)', [2, 3], [1]],
    ['[2,1] x [1,3] (both broadcast)', [2, 1], [1, 3]],
  ];
  for (const [label, ab, bb] of batchCases) {
    test.each(flags.map((f) => [`${label} transposeA=${f[0]} transposeB=${f[1]}`, f] as const))('%s', async (_n, [ta, tb]) => {
      const [sa, sb] = shapes(ab, bb, 5, 7, 4, ta, tb);
      const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(ab, bb);
      const f = (a: Tensor, b: Tensor) => weightedSum(tf.matMul(a, b, ta, tb));
      // Oracle: explicit broadcasting (BroadcastTo's gradient sums), then tfjs-core's product.
      const oracle = (a: Tensor, b: Tensor) => {
        const a2 = tf.broadcastTo(a, [...outBatch, ...sa.slice(-2)]);
        const b2 = tf.broadcastTo(b, [...outBatch, ...sb.slice(-2)]);
        return weightedSum(tf.matMul(a2, b2, ta, tb));
      };
      const specs = [
        { shape: sa, seed: 21 },
        { shape: sb, seed: 22 },
      ];
      await compare('matMul', f, specs, oracle);
      // Batched products once more on the per-entry XNNPACK path (normally for bigger matrices)
      // and on the built-in loop (the default above is our SIMD kernel for small matrices).
      const saved = { ...batchMatMulTuning };
      try {
        batchMatMulTuning.simdMaxMNK = 0;
        batchMatMulTuning.perEntryMinMNK = 0;
        await compare('matMul per-entry', f, specs, oracle);
        batchMatMulTuning.perEntryMinMNK = Infinity;
        await compare('matMul built-in loop', f, specs, oracle);
      } finally {
        Object.assign(batchMatMulTuning, saved);
      }
    });
  }

  test('the broadcast-aware gradient is right on cpu too (registered for all backends)', async () => {
    for (const [ab, bb] of [
      [[3], []],
      [[], [3]],
      [[2, 1], [1, 3]],
    ]) {
      for (const [ta, tb] of flags) {
        const [sa, sb] = shapes(ab, bb, 5, 7, 4, ta, tb);
        const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(ab, bb);
        const specs = [
          { shape: sa, seed: 71 },
          { shape: sb, seed: 72 },
        ];
        const got = await gradsOn('cpu', (a, b) => weightedSum(tf.matMul(a, b, ta, tb)), specs);
        const want = await gradsOn(
          'cpu',
          (a, b) =>
            weightedSum(tf.matMul(tf.broadcastTo(a, [...outBatch, ...sa.slice(-2)]), tf.broadcastTo(b, [...outBatch, ...sb.slice(-2)]), ta, tb)),
          specs,
        );
        got.grads.forEach((g, i) => expectClose(g, want.grads[i], `cpu broadcast ${ab}x${bb} ${ta} ${tb} gradient ${i}`));
      }
    }
    await tf.setBackend('wasm');
  });

  test('larger 2-D products (fast path sizes)', async () => {
    for (const [ta, tb] of flags) {
      const [sa, sb] = shapes([], [], 33, 70, 41, ta, tb);
      await compare('matMul big', (a, b) => weightedSum(tf.matMul(a, b, ta, tb)), [
        { shape: sa, seed: 23 },
        { shape: sb, seed: 24 },
      ]);
    }
  });

  test('batched products big enough for the per-entry fast path (M*N*K >= 16384)', async () => {
    for (const [ta, tb] of flags) {
      for (const [ab, bb] of [
        [[3], [3]],
        [[2, 1], [1, 3]],
      ]) {
        const [sa, sb] = shapes(ab, bb, 40, 30, 20, ta, tb);
        const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(ab, bb);
        const oracle = (a: Tensor, b: Tensor) =>
          weightedSum(tf.matMul(tf.broadcastTo(a, [...outBatch, ...sa.slice(-2)]), tf.broadcastTo(b, [...outBatch, ...sb.slice(-2)]), ta, tb));
        await compare(`matMul batched ${ab}x${bb} ${ta} ${tb}`, (a, b) => weightedSum(tf.matMul(a, b, ta, tb)), [
          { shape: sa, seed: 28 },
          { shape: sb, seed: 29 },
        ], oracle);
      }
    }
  });

  test('fused matMul with bias and relu', async () => {
    const f = (a: Tensor, b: Tensor, bias: Tensor) =>
      weightedSum(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' }));
    await compare('fused.matMul', f, [
      { shape: [6, 9], seed: 25 },
      { shape: [9, 5], seed: 26 },
      { shape: [5], seed: 27 },
    ]);
  });
});

describe('gather / embedding gradient (UnsortedSegmentSum) vs cpu', () => {
  test('embedding lookup with repeated indices', async () => {
    const ids = [
      [1, 3, 3, 0],
      [49, 3, 1, 7],
    ];
    const f = (table: Tensor) => weightedSum(tf.gather(table, tf.tensor2d(ids, [2, 4], 'int32')));
    // Oracle independent of our gather gradient: a one-hot matrix product.
    const oracle = (table: Tensor) =>
      weightedSum(tf.reshape(tf.matMul(tf.oneHot(tf.tensor1d(ids.flat(), 'int32'), 50), table), [2, 4, 8]));
    await compare('gather', f, [{ shape: [50, 8], seed: 31 }], oracle);
    await compare('gather (same gradient on cpu)', f, [{ shape: [50, 8], seed: 31 }]);
  });

  test('gather on axis 1', async () => {
    const f = (x: Tensor) => weightedSum(tf.gather(x, tf.tensor1d([2, 0, 2, 4], 'int32'), 1));
    await compare('gather axis 1', f, [{ shape: [3, 5, 2], seed: 32 }]);
  });

  test('unsortedSegmentSum forward', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor(rand(6 * 3, 33), [6, 3]);
        return tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 5, 0, 2], 'int32'), 7).arraySync() as number[][];
      });
    };
    const want = await run('cpu');
    const got = await run('wasm');
    expectClose(got.flat(), want.flat(), 'unsortedSegmentSum');
  });
});

describe('composite models vs cpu', () => {
  test('conv3x3 -> relu -> conv1x1 -> mean', async () => {
    const f = (x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor) => {
      const h = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same'), b1));
      return tf.mean(tf.conv2d(h as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'same'));
    };
    await compare('conv-relu-conv-mean', f, [
      { shape: [3, 6, 6, 3], seed: 41 },
      { shape: [3, 3, 3, 8], seed: 42 },
      { shape: [8], seed: 43 },
      { shape: [1, 1, 8, 4], seed: 44 },
    ]);
  });

  test('Dense layer (tfjs-layers) on 2-D and 3-D inputs', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const layer = tfl.layers.dense({ units: 6, activation: 'relu', inputShape: [10] });
      layer.build([null, 10]);
      layer.setWeights([tf.tensor(rand(60, 51), [10, 6]), tf.tensor(rand(6, 52), [6])]);
      const out = tf.tidy(() => {
        const x2 = tf.tensor(rand(40, 53), [4, 10]);
        const x3 = tf.tensor(rand(60, 54), [2, 3, 10]);
        const vars = layer.trainableWeights.map((w) => w.read()) as tf.Variable[];
        const { value, grads } = tf.variableGrads(
          () => tf.add(weightedSum(layer.apply(x2) as Tensor, 55), weightedSum(layer.apply(x3) as Tensor, 56)) as tf.Scalar,
          vars,
        );
        return [value.dataSync(), ...vars.map((v) => grads[v.name].dataSync())];
      });
      tf.dispose(layer.trainableWeights.map((w) => w.read()));
      return out;
    };
    const want = await run('cpu');
    const got = await run('wasm');
    got.forEach((g, i) => expectClose(g, want[i], `dense ${i}`));
  });
});

describe('memory', () => {
  test('a tidy gradient step leaks no tensors and no wasm buffers', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const x = tf.tensor(rand(2 * 8 * 8 * 3, 61), [2, 8, 8, 3]);
    const w1 = tf.variable(tf.tensor(rand(3 * 3 * 3 * 8, 62), [3, 3, 3, 8]));
    const w2 = tf.variable(tf.tensor(rand(8 * 4, 63), [1, 1, 8, 4]));
    const emb = tf.variable(tf.tensor(rand(20 * 4, 64), [20, 4]));
    const dense = tf.variable(tf.tensor(rand(4 * 5, 65), [4, 5]));
    const ids = tf.tensor1d([1, 5, 5, 19], 'int32');
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const h = tf.relu(tf.conv2d(x as tf.Tensor4D, w1 as unknown as tf.Tensor4D, 2, 'same'));
          const y = tf.conv2d(h, w2 as unknown as tf.Tensor4D, 1, 'valid'); // [2,4,4,4]
          const e = tf.gather(emb, ids); // [4,4]
          const z = tf.matMul(tf.reshape(y, [2, 16, 4]), dense); // 3-D x 2-D
          const q = tf.matMul(z, z, false, true); // batched
          return tf.add(tf.mean(q), tf.sum(tf.matMul(e, dense, false, false))) as tf.Scalar;
        });
        return tf.addN(Object.values(grads).map((g) => tf.sum(g))).dataSync()[0];
      });
    const saved = { ...batchMatMulTuning };
    batchMatMulTuning.simdMaxMNK = 0;
    batchMatMulTuning.perEntryMinMNK = 0; // the batched product on views into the batch
    step(); // warm-up
    const before = tf.memory().numTensors;
    const buffersBefore = backend.numDataIds();
    const v1 = step();
    const v2 = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(buffersBefore);
    expect(v2).toBeCloseTo(v1, 5);
    Object.assign(batchMatMulTuning, saved);
    tf.dispose([x, w1, w2, emb, dense, ids]);
  });
});
