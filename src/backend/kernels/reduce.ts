/**
 * Sum and Mean for the wasm backend over leading or middle axes without a transpose.
 *
 * tfjs-backend-wasm 4.22 reduces only innermost axes: for any other axes it first transposes
 * the whole tensor (a full copy with a strided read), then reduces. BatchNorm over [N, ..., C]
 * (statistics per channel, the last axis) and every bias gradient reduce over the leading axes,
 * and a training step of the image encoder spent ~20% of its time there (~11 ns per element).
 * Here the input is viewed as [A, R, C] with the reduced axes R contiguous in the layout, and
 * out[a, c] = sum_r x[a, r, c] is accumulated row by row (contiguous reads, float64 running
 * sums). Reductions over the innermost axes only (C = 1), non-contiguous axis sets and
 * non-float32 tensors go to the built-in kernel.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { builtin, WASM, WasmBackendLike } from './wasm-ops';

/** [A, R, C] of `shape` reduced over `axes`, or null when the axes are not one contiguous block. */
export function reductionView(shape: number[], axes: number[]): [number, number, number] | null {
  const r = shape.length;
  const sorted = [...new Set(axes.map((a) => (a < 0 ? a + r : a)))].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return null;
  const lo = sorted[0];
  const hi = sorted[sorted.length - 1];
  if (lo < 0 || hi >= r) return null;
  const prod = (xs: number[]) => xs.reduce((p, v) => p * v, 1);
  return [prod(shape.slice(0, lo)), prod(shape.slice(lo, hi + 1)), prod(shape.slice(hi + 1))];
}

let acc = new Float64Array(0);

/** out[a*C + c] = scale * sum_r x[(a*R + r)*C + c]. */
export function reduceMiddle(x: Float32Array, out: Float32Array, A: number, R: number, C: number, scale: number): void {
  if (acc.length < C) acc = new Float64Array(C);
  for (let a = 0; a < A; a++) {
    acc.fill(0, 0, C);
    let base = a * R * C;
    for (let r = 0; r < R; r++, base += C) {
      for (let c = 0; c < C; c++) acc[c] += x[base + c];
    }
    const o = a * C;
    for (let c = 0; c < C; c++) out[o + c] = acc[c] * scale;
  }
}

function makeReduce(name: typeof tf.Sum | typeof tf.Mean): KernelFunc {
  const mean = name === tf.Mean;
  return (({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo => {
    const x = inputs.x as TensorInfo;
    const a = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(a.axis, x.shape);
    const view = x.dtype === 'float32' && x.shape.length > 0 ? reductionView(x.shape, axes) : null;
    if (!view || view[2] === 1 || view[1] === 0) {
      const k = builtin(name);
      if (!k) throw new Error(`wasm ${name} is not registered`);
      return (k.kernelFunc as KernelFunc)({ inputs, backend, attrs }) as TensorInfo;
    }
    const [A, R, C] = view;
    const norm = axes.map((ax) => (ax < 0 ? ax + x.shape.length : ax));
    const outShape = a.keepDims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
    const be = backend as WasmBackendLike;
    const out = be.makeOutput(outShape, 'float32');
    const o = be.typedArrayFromHeap(out) as Float32Array;
    const xv = be.typedArrayFromHeap(x) as Float32Array;
    reduceMiddle(xv, o, A, R, C, mean ? 1 / R : 1);
    return out;
  }) as unknown as KernelFunc;
}

export const sumConfig: KernelConfig = { kernelName: tf.Sum, backendName: WASM, kernelFunc: makeReduce(tf.Sum) };
export const meanConfig: KernelConfig = { kernelName: tf.Mean, backendName: WASM, kernelFunc: makeReduce(tf.Mean) };
