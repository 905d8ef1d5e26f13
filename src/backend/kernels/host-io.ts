/**
 * Kernels written as plain JS loops over Float32Arrays, for the wasm and the pure-JS cpu
 * backends alike.
 *
 * - wasm: inputs are zero-copy views into the wasm heap (`typedArrayFromHeap`); outputs are
 *   allocated on the heap (`makeOutput`) and written in place. An allocation may grow the heap,
 *   which detaches every earlier view: allocate all outputs first, then take the input views
 *   (`hostKernel` does it in that order).
 * - cpu: inputs are the backend's own value arrays (`readSync`, no copy); outputs are new
 *   Float32Arrays handed over with `makeTensorInfo`.
 * Other backends (tensorflow) are not supported: callers check `hostKernelBackends`.
 */
import type { DataId, DataType, TensorInfo } from '../../tf';

/** Backends (TF.js registry names) our host kernels register for. */
export const HOST_KERNEL_BACKENDS = ['wasm', 'cpu'] as const;

interface WasmLike {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}
interface CpuLike {
  readSync(dataId: DataId): unknown;
  makeTensorInfo(shape: number[], dtype: DataType, values?: unknown): TensorInfo;
}

function isWasm(backend: unknown): backend is WasmLike {
  return typeof (backend as WasmLike).typedArrayFromHeap === 'function' && typeof (backend as WasmLike).makeOutput === 'function';
}

const size = (shape: number[]): number => shape.reduce((p, v) => p * v, 1);

/** Float32 view of a float32 tensor's values (no copy on wasm and cpu). */
export function f32View(backend: unknown, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`host kernel: expected a float32 tensor, got ${t.dtype}`);
  if (isWasm(backend)) return backend.typedArrayFromHeap(t) as Float32Array;
  const v = (backend as CpuLike).readSync(t.dataId);
  if (v instanceof Float32Array) return v;
  // the cpu backend's int32 -> float32 cast keeps the Int32Array
  if (ArrayBuffer.isView(v)) return Float32Array.from(v as unknown as ArrayLike<number>);
  throw new Error('host kernel: the backend returned no numeric array');
}

/**
 * Runs `compute(inputViews, outputViews)` with float32 outputs of `outShapes` (uninitialised:
 * compute must write every element) and returns the outputs' TensorInfos.
 */
export function hostKernel(
  backend: unknown,
  inputs: TensorInfo[],
  outShapes: number[][],
  compute: (ins: Float32Array[], outs: Float32Array[]) => void,
): TensorInfo[] {
  if (isWasm(backend)) {
    const outs = outShapes.map((s) => backend.makeOutput(s, 'float32'));
    // views after every allocation (an allocation may grow and detach the heap)
    const outViews = outs.map((o) => backend.typedArrayFromHeap(o) as Float32Array);
    const inViews = inputs.map((t) => f32View(backend, t));
    compute(inViews, outViews);
    return outs;
  }
  const cpu = backend as CpuLike;
  if (typeof cpu.readSync !== 'function' || typeof cpu.makeTensorInfo !== 'function') {
    throw new Error('host kernel: unsupported backend');
  }
  const inViews = inputs.map((t) => f32View(backend, t));
  const outViews = outShapes.map((s) => new Float32Array(size(s)));
  compute(inViews, outViews);
  return outShapes.map((s, i) => cpu.makeTensorInfo(s, 'float32', outViews[i]));
}

/** A reusable scratch buffer that grows (never shrinks) to the largest size asked for. */
export class Scratch {
  private buf = new Float32Array(0);
  get(n: number): Float32Array {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf.length === n ? this.buf : this.buf.subarray(0, n);
  }
  /** Frees the memory (a later `get` allocates again). */
  release(): void {
    this.buf = new Float32Array(0);
  }
}
