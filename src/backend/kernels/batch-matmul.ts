/**
 * BatchMatMul for the wasm backend, routed onto XNNPACK's fast path.
 *
 * tfjs-backend-wasm 4.22 runs XNNPACK (~25-30 GFLOP/s on one thread) only when neither operand
 * is transposed and both have batch size 1; everything else goes through a scalar triple loop:
 * ~2.2 GFLOP/s with transposeB or a batch, ~0.4 GFLOP/s with transposeA (the weight gradient
 * of every Linear layer), and a [B,L,D] x [D,E] product of a 3-D activation with a 2-D weight
 * is also on the slow loop. This kernel:
 * - transposes explicitly (a transpose costs about as much as reading the matrix once);
 * - folds the batch of `a` into its rows when `b` has batch size 1 ([B*M,K] x [K,N]);
 * - folds the batch of `b` into rows of `b^T` when `a` has batch size 1;
 * - sends products where both operands have the same batch > 1 through the fast path one
 *   batch entry at a time (views into the operands' memory, no copies) when the matrices are
 *   big enough for that to pay off, else to the built-in kernel with its best flags.
 * Other broadcasts (e.g. [2,1,M,K] x [1,3,K,N]) and non-float32 go to the built-in kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { builtin, WASM, WasmBackendLike, WasmOps, withOps } from './wasm-ops';

function prod(xs: number[]): number {
  return xs.reduce((p, v) => p * v, 1);
}

function callBuiltin(inputs: NamedTensorInfoMap, backend: {}, attrs: NamedAttrMap): TensorInfo {
  const k = builtin(tf.BatchMatMul);
  if (!k) throw new Error('wasm BatchMatMul is not registered');
  return (k.kernelFunc as KernelFunc)({ inputs, backend, attrs }) as TensorInfo;
}

/** a x b^T for 3-D a [B,M,K], bT [B,N,K] with equal batch B > 1. */
function batchedSameBatch(ops: WasmOps, a: TensorInfo, bT: TensorInfo): TensorInfo {
  // The built-in loop with its best memory order (both inner products contiguous).
  return ops.run(tf.BatchMatMul, { a, b: bT }, { transposeA: false, transposeB: true });
}

/** Tiles x [..batch, r, c] to the batch shape `outBatch` (a no-op when it already has it). */
function broadcastBatch(ops: WasmOps, x: TensorInfo, outBatch: number[]): TensorInfo {
  const rc = x.shape.slice(-2);
  const batch = x.shape.slice(0, -2);
  const padded = [...Array(outBatch.length - batch.length).fill(1), ...batch];
  if (tf.util.arraysEqual(padded, outBatch)) return x;
  const xr = ops.reshape(x, [...padded, ...rc]);
  return ops.run(tf.Tile, { x: xr }, { reps: [...outBatch.map((d, i) => d / padded[i]), 1, 1] });
}

function batchMatMul({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo {
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const ar = a.shape.length;
  const br = b.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || ar < 2 || br < 2) {
    return callBuiltin(inputs, backend, attrs ?? {});
  }
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const k = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const k2 = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  if (k !== k2) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${k2}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
        `transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const aBatchShape = a.shape.slice(0, -2);
  const bBatchShape = b.shape.slice(0, -2);
  const batchA = prod(aBatchShape);
  const batchB = prod(bBatchShape);
  const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
  const outShape = [...outBatchShape, m, n];
  if (m * n * k === 0) return callBuiltin(inputs, backend, attrs ?? {});
  const outBatch = prod(outBatchShape);

  return withOps(backend as WasmBackendLike, (ops) => {
    if (batchB === 1) {
      // [B*M, K] x [K, N]
      const at = transposeA ? ops.transposeLast2(a) : a;
      const a2 = ops.reshape(at, [batchA * m, k]);
      const b2 = transposeB ? ops.transpose(ops.reshape(b, [n, k]), [1, 0]) : ops.reshape(b, [k, n]);
      return ops.keep(ops.reshape(ops.matMul2d(a2, b2), outShape));
    }
    if (batchA === 1) {
      // out_i^T = b_i^T a^T:  [B*N, K] x [K, M] -> [B, N, M] -> transpose the last two.
      const bt = transposeB ? b : ops.transposeLast2(b);
      const b2 = ops.reshape(bt, [batchB * n, k]);
      const a2 = transposeA ? ops.reshape(a, [k, m]) : ops.transpose(ops.reshape(a, [m, k]), [1, 0]);
      const r = ops.reshape(ops.matMul2d(b2, a2), [batchB, n, m]);
      return ops.keep(ops.reshape(ops.transposeLast2(r), outShape));
    }
    // Both batched. The built-in mis-indexes mixed broadcasts such as [2,1] x [1,3]: tile
    // both operands to the output's batch shape first.
    const a3 = ops.reshape(broadcastBatch(ops, transposeA ? ops.transposeLast2(a) : a, outBatchShape), [outBatch, m, k]);
    const bT3 = ops.reshape(broadcastBatch(ops, transposeB ? b : ops.transposeLast2(b), outBatchShape), [outBatch, n, k]);
    return ops.keep(ops.reshape(batchedSameBatch(ops, a3, bT3), outShape));
  });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: WASM,
  kernelFunc: batchMatMul as KernelFunc,
};
