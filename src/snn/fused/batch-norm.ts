/**
 * Fused BatchNorm for training, over x viewed as [R, C] (C = the last axis, R = everything else:
 * statistics pooled over time, batch and space as METHOD.md asks).
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
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { HOST_KERNEL_BACKENDS, hostKernel } from '../../backend/kernels/host-io';

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
