/**
 * Fused BatchNorm for training, over x viewed as [R, C] (C = the last axis, R = everything else:
 * statistics pooled over time, batch and space as docs/method.md §3 asks).
 *
 * The composed path (mean, sub, square, mean, add, rsqrt, mul, sub, mul, add) runs ~10 passes
 * over x and keeps ~5 tensors of x's size for the backward pass; at batch 32 the image encoder's
 * step then needs more than the 4 GiB wasm heap. Here:
 * - `SpikeclipMoments` x -> [2, C] (mean, biased variance; two passes, float64 sums);
 * - `SpikeclipBatchNorm` (x, mean/var, weight, bias) -> y = (x - mean) * rsqrt(var + eps) * weight + bias;
 * - `SpikeclipBatchNormGrad` (dy, x, mean/var, weight) -> dx, dweight, dbias with
 *   xhat = (x - mean) * invstd, dbias = sum dy, dweight = sum dy * xhat,
 *   dx = weight * invstd / R * (R dy - dbias - xhat dweight)  (the mean and variance's own
 *   dependence on x included);
 * and only x is kept for the backward pass. JS loops over Float32Arrays, for wasm and cpu.
 * The composed path (BatchNorm with fused kernels switched off) is the tests' reference.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { HOST_KERNEL_BACKENDS, hostKernel } from '../../backend/kernels/host-io';
import type { WasmBackendLike } from '../../backend/kernels/wasm-ops';
import { simdKernels, type SimdKernels } from '../../backend/simd/instance';

/** Use the SIMD module (src/backend/simd/bn.wat) on wasm when C % 4 = 0 (switchable for tests). */
export const batchNormSimd = { enabled: true };

function simdFor(backend: unknown, c: number): SimdKernels | null {
  return batchNormSimd.enabled && c % 4 === 0 ? simdKernels(backend, 'bn') : null;
}

/** Runs `f(ptr)` with `bytes` of scratch from the wasm heap. */
function withScratch<T>(k: SimdKernels, bytes: number, f: (ptr: number) => T): T {
  const p = k.malloc(Math.max(16, bytes));
  try {
    return f(p);
  } finally {
    k.free(p);
  }
}

function heap(backend: unknown): ArrayBuffer {
  return (backend as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer as ArrayBuffer;
}

export const BN_MOMENTS = 'SpikeclipMoments';
export const BN_FORWARD = 'SpikeclipBatchNorm';
export const BN_BACKWARD = 'SpikeclipBatchNormGrad';

let acc = new Float64Array(0);
let acc2 = new Float64Array(0);
function accumulators(c: number): [Float64Array, Float64Array] {
  if (acc.length < c) {
    acc = new Float64Array(c);
    acc2 = new Float64Array(c);
  }
  acc.fill(0, 0, c);
  acc2.fill(0, 0, c);
  return [acc, acc2];
}

const rc = (shape: number[]): [number, number] => {
  const c = shape[shape.length - 1];
  return [shape.reduce((p, v) => p * v, 1) / c, c];
};

function moments({ inputs, backend }: { inputs: NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const [R, C] = rc(x.shape);
  const k = simdFor(backend, C);
  if (k) {
    const out = (backend as WasmBackendLike).makeOutput([2, C], 'float32');
    withScratch(k, 32 * C, (acc) => k.exports.bn_moments(k.offset(x.dataId), k.offset(out.dataId), R, C, acc));
    return out;
  }
  return hostKernel(backend, [x], [[2, C]], ([xv], [mv]) => {
    const [sum, sq] = accumulators(C);
    for (let r = 0, o = 0; r < R; r++, o += C) for (let c = 0; c < C; c++) sum[c] += xv[o + c];
    for (let c = 0; c < C; c++) sum[c] /= R;
    for (let r = 0, o = 0; r < R; r++, o += C) {
      for (let c = 0; c < C; c++) {
        const d = xv[o + c] - sum[c];
        sq[c] += d * d;
      }
    }
    for (let c = 0; c < C; c++) {
      mv[c] = sum[c];
      mv[C + c] = sq[c] / R;
    }
  })[0];
}

function forward({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const eps = Number((attrs as { eps: number }).eps);
  const [R, C] = rc(x.shape);
  const k = simdFor(backend, C);
  if (k) {
    const be = backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, 'float32');
    withScratch(k, 8 * C, (coef) => {
      // views after the allocations (an allocation may grow and detach the heap)
      const mv = be.typedArrayFromHeap(inputs.mv as TensorInfo) as Float32Array;
      const w = be.typedArrayFromHeap(inputs.weight as TensorInfo) as Float32Array;
      const b = be.typedArrayFromHeap(inputs.bias as TensorInfo) as Float32Array;
      const cv = new Float32Array(heap(backend), coef, 2 * C);
      for (let c = 0; c < C; c++) {
        const scale = w[c] / Math.sqrt(mv[C + c] + eps);
        cv[c] = scale;
        cv[C + c] = b[c] - mv[c] * scale;
      }
      k.exports.bn_affine(k.offset(x.dataId), k.offset(out.dataId), coef, R, C);
    });
    return out;
  }
  return hostKernel(backend, [x, inputs.mv as TensorInfo, inputs.weight as TensorInfo, inputs.bias as TensorInfo], [x.shape], ([xv, mv, w, b], [y]) => {
    const [scale, shift] = accumulators(C);
    for (let c = 0; c < C; c++) {
      scale[c] = w[c] / Math.sqrt(mv[C + c] + eps);
      shift[c] = b[c] - mv[c] * scale[c];
    }
    for (let r = 0, o = 0; r < R; r++, o += C) for (let c = 0; c < C; c++) y[o + c] = xv[o + c] * scale[c] + shift[c];
  })[0];
}

function backward({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo[] {
  const x = inputs.x as TensorInfo;
  const eps = Number((attrs as { eps: number }).eps);
  const [R, C] = rc(x.shape);
  const ins = [inputs.dy as TensorInfo, x, inputs.mv as TensorInfo, inputs.weight as TensorInfo];
  const k = simdFor(backend, C);
  if (k) {
    const be = backend as WasmBackendLike;
    const dx = be.makeOutput(x.shape, 'float32');
    const dw = be.makeOutput([C], 'float32');
    const db = be.makeOutput([C], 'float32');
    const mvT = inputs.mv as TensorInfo;
    withScratch(k, 16 * C + 12 * C + 16, (acc) => {
      k.exports.bn_grad_sums(k.offset((inputs.dy as TensorInfo).dataId), k.offset(x.dataId), k.offset(mvT.dataId), R, C, acc);
      const coef = acc + 16 * C;
      const buf = heap(backend);
      const sums = new Float64Array(buf, acc, 2 * C);
      const cv = new Float32Array(buf, coef, 3 * C);
      const mv = be.typedArrayFromHeap(mvT) as Float32Array;
      const w = be.typedArrayFromHeap(inputs.weight as TensorInfo) as Float32Array;
      const dwv = be.typedArrayFromHeap(dw) as Float32Array;
      const dbv = be.typedArrayFromHeap(db) as Float32Array;
      for (let c = 0; c < C; c++) {
        const invstd = 1 / Math.sqrt(mv[C + c] + eps);
        const sdy = sums[c];
        const sdyx = sums[C + c];
        dbv[c] = sdy;
        dwv[c] = sdyx * invstd;
        cv[c] = w[c] * invstd;
        cv[C + c] = (-w[c] * invstd * invstd * invstd * sdyx) / R;
        cv[2 * C + c] = (-w[c] * invstd * sdy) / R;
      }
      k.exports.bn_grad_dx(k.offset((inputs.dy as TensorInfo).dataId), k.offset(x.dataId), k.offset(mvT.dataId), k.offset(dx.dataId), coef, R, C);
    });
    return [dx, dw, db];
  }
  return hostKernel(backend, ins, [x.shape, [C], [C]], ([dy, xv, mv, w], [dx, dw, db]) => {
    const [sdy, sdyx] = accumulators(C);
    // sums of dy and dy * (x - mean)
    for (let r = 0, o = 0; r < R; r++, o += C) {
      for (let c = 0; c < C; c++) {
        const g = dy[o + c];
        sdy[c] += g;
        sdyx[c] += g * (xv[o + c] - mv[c]);
      }
    }
    const a = new Float64Array(C);
    const bb = new Float64Array(C);
    const cc = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const invstd = 1 / Math.sqrt(mv[C + c] + eps);
      db[c] = sdy[c];
      dw[c] = sdyx[c] * invstd;
      // dx = w invstd (dy - sdy/R - (x - mean) invstd^2 sdyx / R) = a dy + bb (x - mean) + cc
      a[c] = w[c] * invstd;
      bb[c] = (-w[c] * invstd * invstd * invstd * sdyx[c]) / R;
      cc[c] = (-w[c] * invstd * sdy[c]) / R;
    }
    for (let r = 0, o = 0; r < R; r++, o += C) {
      for (let c = 0; c < C; c++) dx[o + c] = a[c] * dy[o + c] + bb[c] * (xv[o + c] - mv[c]) + cc[c];
    }
  });
}

export const BATCH_NORM_KERNELS: readonly KernelConfig[] = HOST_KERNEL_BACKENDS.flatMap((backendName) => [
  { kernelName: BN_MOMENTS, backendName, kernelFunc: moments as unknown as KernelFunc },
  { kernelName: BN_FORWARD, backendName, kernelFunc: forward as unknown as KernelFunc },
  { kernelName: BN_BACKWARD, backendName, kernelFunc: backward as unknown as KernelFunc },
]);

export function registerBatchNormKernels(): void {
  for (const k of BATCH_NORM_KERNELS) if (!tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
}

export function fusedBatchNormAvailable(): boolean {
  return (HOST_KERNEL_BACKENDS as readonly string[]).includes(tf.getBackend());
}

/** Mean and biased variance per channel as [2, C]; no gradient flows through it (see below). */
const momentsOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.engine().runKernel(BN_MOMENTS, { x }, {}) as tf.Tensor, gradFunc: () => tf.zerosLike(x) };
});

const ops = new Map<number, (x: tf.Tensor, mv: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

function normaliseOp(eps: number): (x: tf.Tensor, mv: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  let f = ops.get(eps);
  if (f) return f;
  const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, mv, weight, bias] = args as tf.Tensor[];
    (args[4] as unknown as tf.GradSaveFunc)([x, mv, weight]);
    return {
      value: tf.engine().runKernel(BN_FORWARD, { x, mv, weight, bias }, { eps }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, smv, sw] = saved;
        const [dx, dw, db] = tf.engine().runKernel(BN_BACKWARD, { dy, x: sx, mv: smv, weight: sw }, { eps }) as tf.Tensor[];
        // mean and variance: their effect on x is in dx already
        return [dx, tf.zerosLike(smv), dw, db];
      },
    };
  });
  f = (x, mv, w, b) => g(x, mv, w, b);
  ops.set(eps, f);
  return f;
}

/**
 * Training-mode BatchNorm of x [..., C]: y, and the batch mean and biased variance [C] (for the
 * running statistics). Call inside a tidy; needs fusedBatchNormAvailable().
 */
export function fusedBatchNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  registerBatchNormKernels();
  const c = x.shape[x.rank - 1];
  const mv = momentsOp(x);
  const y = normaliseOp(eps)(x, mv, weight, bias);
  const [mean, variance] = tf.split(tf.reshape(mv, [2, c]), 2, 0).map((t) => tf.reshape(t, [c]));
  return { y, mean, variance };
}
