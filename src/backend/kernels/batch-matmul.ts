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
 * - sends products where both operands are batched through the fast path one batch entry at a
 *   time (views into the operands' memory, no copies) when the matrices are big enough for
 *   that to pay off (M*N*K >= batchMatMulTuning.perEntryMinMNK), else to the built-in loop;
 *   mixed broadcasts such as [2,1,M,K] x [1,3,K,N], which the built-in gets wrong, are tiled
 *   to the output's batch shape first.
 * - products where both operands are batched and the matrices are small (M*N*K up to
 *   batchMatMulTuning.simdMaxMNK: the attention heads' 64 x 64 x 48) run in one call of our
 *   SIMD kernel (src/backend/simd/matmul.wat): the per-entry path above created and packed an
 *   XNNPACK operator for each of the 256 entries and took ~150 ms per product at batch 8.
 * Non-float32 operands go to the built-in kernel.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { builtin, WASM, WasmBackendLike, WasmOps, withOps } from './wasm-ops';
import { simdKernels } from '../simd/instance';

function prod(xs: number[]): number {
  return xs.reduce((p, v) => p * v, 1);
}

function callBuiltin(inputs: NamedTensorInfoMap, backend: {}, attrs: NamedAttrMap): TensorInfo {
  const k = builtin(tf.BatchMatMul);
  if (!k) throw new Error('wasm BatchMatMul is not registered');
  return (k.kernelFunc as KernelFunc)({ inputs, backend, attrs }) as TensorInfo;
}

/** Wasm module internals used to run XNNPACK's matMul on views into a batch (4.22). */
interface WasmModuleLike {
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
  tfjs: { disposeData(id: number): void };
}
interface WasmBackendInternals extends WasmBackendLike {
  wasm?: WasmModuleLike;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined; delete(dataId: object): void };
}

type RawMatMul = (...args: unknown[]) => void;
const rawMatMul = new WeakMap<object, RawMatMul>();

function rawBatchMatMul(be: WasmBackendInternals): RawMatMul | undefined {
  const mod = be.wasm;
  if (!mod || typeof mod.cwrap !== 'function' || !mod.tfjs || typeof mod.tfjs.disposeData !== 'function') return undefined;
  let f = rawMatMul.get(mod);
  if (!f) {
    f = mod.cwrap(tf.BatchMatMul, null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    rawMatMul.set(mod, f);
  }
  return f;
}

/** Tuning knobs (mutable, for benchmarks and tests). */
export const batchMatMulTuning = {
  /**
   * Below this many multiply-adds per batch entry (M*N*K), the per-entry cost of the fast path
   * (creating an XNNPACK operator, packing b) outweighs its speed: use the built-in loop.
   */
  perEntryMinMNK: 16384,
  /** Up to this many multiply-adds per batch entry, batched products use our SIMD kernel (0: never). */
  simdMaxMNK: 1 << 19,
};

/** a [B,M,K] x b [B,K,N] (no transposes) in one call of our SIMD kernel, or undefined without it. */
function simdBatchedMatMul(ops: WasmOps, a: TensorInfo, b: TensorInfo): TensorInfo | undefined {
  const k = simdKernels(ops.backend, 'matmul');
  if (!k) return undefined;
  const [batch, m, kk] = a.shape;
  const n = b.shape[2];
  const out = ops.alloc([batch, m, n]);
  k.exports.batched_matmul(k.offset(a.dataId), k.offset(b.dataId), k.offset(out.dataId), batch, m, kk, n);
  return out;
}

/**
 * a x b for a [B,M,K], b [B,K,N] (B > 1), one XNNPACK fast-path product per batch entry on
 * views into the operands' memory (tensors registered at an offset, unregistered without
 * freeing). Returns undefined where the backend does not look like tfjs-backend-wasm 4.22.
 */
function perEntryMatMul(ops: WasmOps, a: TensorInfo, b: TensorInfo): TensorInfo | undefined {
  const be = ops.backend as WasmBackendInternals;
  const raw = rawBatchMatMul(be);
  if (!raw) return undefined;
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  const out = ops.alloc([batch, m, n]);
  const aOff = be.dataIdMap.get(a.dataId)?.memoryOffset;
  const bOff = be.dataIdMap.get(b.dataId)?.memoryOffset;
  const oOff = be.dataIdMap.get(out.dataId)?.memoryOffset;
  if (aOff === undefined || bOff === undefined || oOff === undefined) return undefined;
  const aShape = new Uint8Array(new Int32Array([1, m, k]).buffer);
  const bShape = new Uint8Array(new Int32Array([1, k, n]).buffer);
  const views: TensorInfo[] = [];
  const release = () => {
    for (const v of views) {
      const d = be.dataIdMap.get(v.dataId);
      if (d) be.wasm!.tfjs.disposeData(d.id); // also frees the XNNPACK operator cached on b
      be.dataIdMap.delete(v.dataId);
    }
    views.length = 0;
  };
  try {
    for (let i = 0; i < batch; i++) {
      const av = be.makeOutput([1, m, k], 'float32', aOff + i * m * k * 4);
      views.push(av);
      const bv = be.makeOutput([1, k, n], 'float32', bOff + i * k * n * 4);
      views.push(bv);
      const ov = be.makeOutput([1, m, n], 'float32', oOff + i * m * n * 4);
      views.push(ov);
      const id = (t: TensorInfo) => be.dataIdMap.get(t.dataId)!.id;
      raw(id(av), aShape, 3, id(bv), bShape, 3, false, false, id(ov));
      release();
    }
  } finally {
    release();
  }
  return out;
}

/** a x b for 3-D a [B,M,K], b [B,K,N] (B > 1), each possibly transposed in its last 2 dims. */
function batchedSameBatch(ops: WasmOps, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const [, m, k] = transposeA ? [a.shape[0], a.shape[2], a.shape[1]] : a.shape;
  const n = transposeB ? b.shape[1] : b.shape[2];
  if (m * n * k <= batchMatMulTuning.simdMaxMNK) {
    const r = simdBatchedMatMul(ops, transposeA ? ops.transposeLast2(a) : a, transposeB ? ops.transposeLast2(b) : b);
    if (r) return r;
  }
  if (m * n * k >= batchMatMulTuning.perEntryMinMNK) {
    const r = perEntryMatMul(ops, transposeA ? ops.transposeLast2(a) : a, transposeB ? ops.transposeLast2(b) : b);
    if (r) return r;
  }
  // The built-in loop runs at about the same speed for all flags on small matrices.
  return ops.run(tf.BatchMatMul, { a, b }, { transposeA, transposeB });
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
    const a3 = ops.reshape(broadcastBatch(ops, a, outBatchShape), [outBatch, ...a.shape.slice(-2)]);
    const b3 = ops.reshape(broadcastBatch(ops, b, outBatchShape), [outBatch, ...b.shape.slice(-2)]);
    return ops.keep(ops.reshape(batchedSameBatch(ops, a3, b3, transposeA, transposeB), outShape));
  });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: WASM,
  kernelFunc: batchMatMul as KernelFunc,
};
