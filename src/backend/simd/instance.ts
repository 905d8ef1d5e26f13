/**
 * Our hand-written WebAssembly SIMD kernels (./*.wat, compiled into ./modules.ts by ./build.js),
 * instantiated on the TF.js wasm backend's own memory: they read and write tensors in place
 * (pointers are the tensors' heap offsets), with scratch from the backend's allocator.
 * The threaded build's memory is shared, so its instance is built from the shared variant.
 */
import { WASM_MODULES } from './modules';

// The project compiles without the DOM lib, which declares WebAssembly: the parts we use.
interface WasmMemory {
  buffer: ArrayBuffer | SharedArrayBuffer;
}
type WasmCompiledModule = object;
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmCompiledModule;
  Instance: new (m: WasmCompiledModule, imports: object) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface WasmModuleLike {
  asm?: Record<string, unknown>;
  wasmMemory?: WasmMemory;
  _malloc(n: number): number;
  _free(p: number): void;
}
interface BackendLike {
  wasm?: WasmModuleLike;
  dataIdMap?: { get(id: object): { memoryOffset: number } | undefined };
}

export interface SimdKernels {
  exports: Record<string, (...args: number[]) => number>;
  malloc(bytes: number): number;
  free(ptr: number): void;
  /** Heap byte offset of a tensor of this backend. */
  offset(dataId: object): number;
}

const compiled = new Map<string, WasmCompiledModule>();
const instances = new WeakMap<WasmMemory, Map<string, SimdKernels>>();

function memoryOf(m: WasmModuleLike): WasmMemory | undefined {
  const a = m.asm?.memory;
  if (a instanceof WA.Memory) return a as WasmMemory;
  return m.wasmMemory instanceof WA.Memory ? m.wasmMemory : undefined;
}

/** The kernels of module `name` on `backend` (a tfjs-backend-wasm backend), or null if it is not one. */
export function simdKernels(backend: unknown, name: string): SimdKernels | null {
  const be = backend as BackendLike;
  const mod = be.wasm;
  if (!mod || typeof mod._malloc !== 'function' || !be.dataIdMap) return null;
  const memory = memoryOf(mod);
  if (!memory) return null;
  let byName = instances.get(memory);
  if (!byName) {
    byName = new Map();
    instances.set(memory, byName);
  }
  const known = byName.get(name);
  if (known) return known;
  const src = WASM_MODULES[name];
  if (!src) throw new Error(`no wasm kernel module "${name}"`);
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const key = `${name}/${shared ? 'shared' : 'unshared'}`;
  let wasmModule = compiled.get(key);
  if (!wasmModule) {
    wasmModule = new WA.Module(Buffer.from(shared ? src.shared : src.unshared, 'base64'));
    compiled.set(key, wasmModule);
  }
  const instance = new WA.Instance(wasmModule, { env: { memory } });
  const dataIdMap = be.dataIdMap;
  const k: SimdKernels = {
    exports: instance.exports as unknown as SimdKernels['exports'],
    malloc: (n) => mod._malloc(n) >>> 0,
    free: (p) => mod._free(p),
    offset: (id) => {
      const d = dataIdMap.get(id);
      if (!d) throw new Error('tensor is not on this wasm backend');
      return d.memoryOffset;
    },
  };
  byName.set(name, k);
  return k;
}
