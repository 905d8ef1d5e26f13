/**
 * Helpers for writing wasm kernels in plain JS by composing the wasm backend's own kernels.
 *
 * A kernel function receives TensorInfos (not Tensors) and must return TensorInfos that the
 * engine then wraps. Inside it we call other registered kernels directly (no engine, no tape)
 * and dispose every intermediate through the backend's reference counts, exactly as the wasm
 * package's own JS kernels do (see Reshape: it shares the dataId and increments its refCount).
 */
import * as tf from '../../tf';
import type { DataId, DataType, KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';

/** The parts of tfjs-backend-wasm's BackendWasm (4.22) that our kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  readSync(dataId: DataId): ArrayLike<number>;
  incRef(dataId: DataId): void;
  numDataIds(): number;
}

export const WASM = 'wasm';

/**
 * The kernels as they were registered before we replaced any of them. Our kernels call these
 * (never our own replacements), so a replacement can delegate to the kernel it replaces.
 */
const builtins = new Map<string, KernelConfig>();

/** Property of our replacement configs that holds the config they replaced. */
const REPLACED = 'spikeclipReplaced';
type Replacing = KernelConfig & { [REPLACED]?: KernelConfig };

/** Remembers the wasm backend's own kernel `name` (once; later calls keep the first one). */
export function rememberBuiltin(name: string): KernelConfig | undefined {
  const known = builtins.get(name);
  if (known) return known;
  let k = tf.getKernel(name, WASM) as Replacing | undefined;
  // Another copy of this module (src/ and dist/ in one process) may have replaced it already.
  while (k && k[REPLACED]) k = k[REPLACED] as Replacing;
  if (k) builtins.set(name, k);
  return k;
}

export function builtin(name: string): KernelConfig | undefined {
  return builtins.get(name) ?? rememberBuiltin(name);
}

/** True when the kernel currently registered for wasm under `name` is `config`. */
export function isRegistered(config: KernelConfig): boolean {
  return tf.getKernel(config.kernelName, config.backendName) === config;
}

/** Registers `config`, replacing (without the registry's warning) whatever is registered. */
export function replaceKernel(config: KernelConfig): void {
  const prev = tf.getKernel(config.kernelName, config.backendName);
  if (prev) {
    const original = rememberBuiltin(config.kernelName);
    if (original) {
      (config as Replacing)[REPLACED] = original;
      // The engine runs setupFunc for registered kernels when it (re)initialises a backend:
      // keep the built-in's wasm bindings fresh, since our kernel may delegate to it.
      if (!config.setupFunc && original.setupFunc) config.setupFunc = original.setupFunc;
      if (!config.disposeFunc && original.disposeFunc) config.disposeFunc = original.disposeFunc;
    }
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

/** Puts back the wasm backend's own kernel `name` (or removes ours where it had none). */
export function restoreBuiltin(name: string, ours: KernelConfig): void {
  if (tf.getKernel(name, WASM) !== ours) return;
  tf.unregisterKernel(name, WASM);
  const original = builtins.get(name);
  if (original) tf.registerKernel(original);
}

export type Pads = [[number, number], [number, number], [number, number], [number, number]];

/**
 * A scope of intermediate TensorInfos created by composed kernels; `dispose()` releases them
 * all except those handed out with `keep()`.
 */
export class WasmOps {
  private temps: TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  /** Runs the built-in wasm kernel `name`; the result is an intermediate of this scope. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const k = builtin(name);
    if (!k) throw new Error(`wasm kernel ${name} is not registered`);
    const out = (k.kernelFunc as KernelFunc)({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
    this.temps.push(out);
    return out;
  }

  /** A new uninitialised tensor on the wasm heap; an intermediate of this scope. */
  alloc(shape: number[], dtype: DataType = 'float32'): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype);
    this.temps.push(out);
    return out;
  }

  /** Marks `t` as a result: `dispose()` will leave it alone. */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.indexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps = [];
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  /** Transposes the last two dimensions. */
  transposeLast2(x: TensorInfo): TensorInfo {
    const r = x.shape.length;
    const perm = [...Array(r).keys()];
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return this.transpose(x, perm);
  }

  pad(x: TensorInfo, paddings: number[][], constantValue = 0): TensorInfo {
    return this.run(tf.PadV2, { x }, { paddings, constantValue });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run(tf.Slice, { x }, { begin, size });
  }

  stridedSlice(x: TensorInfo, begin: number[], end: number[], strides: number[]): TensorInfo {
    return this.run(
      tf.StridedSlice,
      { x },
      { begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 },
    );
  }

  reverse(x: TensorInfo, dims: number[]): TensorInfo {
    return this.run(tf.Reverse, { x }, { dims });
  }

  sum(x: TensorInfo, axis: number[], keepDims = false): TensorInfo {
    return this.run(tf.Sum, { x }, { axis, keepDims });
  }

  /** NHWC conv with explicit pads [[0,0],[top,bottom],[left,right],[0,0]]. */
  conv2d(x: TensorInfo, filter: TensorInfo, strides: [number, number], pads: Pads, dilations: [number, number] = [1, 1]): TensorInfo {
    return this.run(
      tf.Conv2D,
      { x, filter },
      { strides, pad: pads as unknown as number[][], dataFormat: 'NHWC', dilations, dimRoundingMode: undefined as unknown as string },
    );
  }

  /** [M, K] x [K, N] on XNNPACK's fast path (batch 1, no transpose flags). */
  matMul2d(a: TensorInfo, b: TensorInfo): TensorInfo {
    const [m, k] = a.shape;
    const [k2, n] = b.shape;
    if (k !== k2) throw new Error(`matMul2d: inner sizes ${k} and ${k2} differ`);
    const a3 = this.reshape(a, [1, m, k]);
    const b3 = this.reshape(b, [1, k, n]);
    const out = this.run(tf.BatchMatMul, { a: a3, b: b3 }, { transposeA: false, transposeB: false });
    return this.reshape(out, [m, n]);
  }

  /**
   * Pads (positive amounts) or crops (negative amounts) the two spatial dims of an NHWC tensor.
   */
  padOrCrop(x: TensorInfo, top: number, bottom: number, left: number, right: number): { x: TensorInfo; pads: Pads } {
    const [n, h, w, c] = x.shape;
    const cropT = Math.max(0, -top);
    const cropB = Math.max(0, -bottom);
    const cropL = Math.max(0, -left);
    const cropR = Math.max(0, -right);
    let y = x;
    if (cropT + cropB + cropL + cropR > 0) {
      const hh = h - cropT - cropB;
      const ww = w - cropL - cropR;
      if (hh <= 0 || ww <= 0) throw new Error('padOrCrop: nothing left after cropping');
      y = this.slice(x, [0, cropT, cropL, 0], [n, hh, ww, c]);
    }
    return {
      x: y,
      pads: [
        [0, 0],
        [Math.max(0, top), Math.max(0, bottom)],
        [Math.max(0, left), Math.max(0, right)],
        [0, 0],
      ],
    };
  }
}

/** Runs `body` with a fresh scope and disposes every intermediate it did not `keep`. */
export function withOps<T>(backend: WasmBackendLike, body: (ops: WasmOps) => T): T {
  const ops = new WasmOps(backend);
  try {
    return body(ops);
  } finally {
    ops.dispose();
  }
}
