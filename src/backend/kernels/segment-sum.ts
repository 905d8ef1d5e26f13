/**
 * UnsortedSegmentSum for the wasm backend (missing from tfjs-backend-wasm 4.22). It is the
 * gradient of `gather`, i.e. of an embedding lookup: out[s, ...] = sum of x[i, ...] over the
 * i with segmentIds[i] = s. A plain JS loop over the wasm heap: the work is one pass over x
 * plus zero-filling the output (the dense gradient of the whole table).
 * Ids outside [0, numSegments) are dropped, as on the cpu backend.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { WASM, WasmBackendLike } from './wasm-ops';

function unsortedSegmentSum({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const ids = inputs.segmentIds as TensorInfo;
  const numSegments = Number((attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments);
  const be = backend as WasmBackendLike;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): unsupported dtype ${x.dtype}`);
  const idsRank = ids.shape.length;
  for (let d = 0; d < idsRank; d++) {
    if (ids.shape[d] !== x.shape[d]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape ${ids.shape} must be a prefix of x shape ${x.shape}`);
    }
  }
  const count = tf.util.sizeFromShape(ids.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(idsRank));
  const out = be.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
  // Views after makeOutput: an allocation may grow (and detach) the heap.
  const o = be.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xv = be.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const idv = ids.dtype === 'int32' ? (be.typedArrayFromHeap(ids) as Int32Array) : Int32Array.from(be.readSync(ids.dataId));
  o.fill(0);
  for (let i = 0; i < count; i++) {
    const s = idv[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: WASM,
  kernelFunc: unsortedSegmentSum as KernelFunc,
};
