/**
 * A safe reader for PyTorch files written by `torch.save` (torch >= 1.6, the zip format):
 * `pytorch_model.bin`, `.pt`, `.pth`, `.pth.tar`.
 *
 * The archive holds `<root>/data.pkl` (a pickle whose persistent ids name storages),
 * `<root>/data/<key>` (each storage's raw little-endian bytes), and small files such as
 * `<root>/version` and `<root>/byteorder`. The pickle is run by the allow-list VM of
 * ./pickle.ts with only these globals: `torch._utils._rebuild_tensor_v2`,
 * `torch._utils._rebuild_parameter`, the typed storage classes (`torch.FloatStorage`,
 * `HalfStorage`, `BFloat16Storage`, `DoubleStorage`, `LongStorage`, `IntStorage`,
 * `ShortStorage`, `CharStorage`, `ByteStorage`, `BoolStorage`) and `collections.OrderedDict`.
 * Anything else (a module, an optimizer object, `os.system`) is refused with a PickleError naming
 * the global. Tensors are copied out contiguously, honouring storage offsets and strides.
 */
import * as fs from 'fs';
import { PICKLE_ATTRS, PickleError, PickleGlobals, unpickle } from './pickle';
import type { SafeTensor } from './safetensors';
import { ZipArchive, ZipError } from './zip';

/** Element types of PyTorch storages, named like safetensors dtypes. */
export type TorchDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** A storage class referenced in a persistent id (torch.FloatStorage, ...). */
export class TorchStorageType {
  constructor(
    readonly name: string,
    readonly dtype: TorchDType,
    readonly elementSize: number,
  ) {}
}

/** A storage: `numel` elements of `dtype` in archive entry `data/<key>`. */
export interface TorchStorage {
  readonly key: string;
  readonly dtype: TorchDType;
  readonly numel: number;
  readonly location: string;
}

/** A tensor as rebuilt from the pickle (data copied out contiguously). */
export class TorchTensor {
  constructor(
    readonly tensor: SafeTensor,
    readonly requiresGrad: boolean,
  ) {}
}

/** The content of a PyTorch file. */
export interface PytorchContent {
  /** The unpickled object; tensors appear as {@link TorchTensor}, dicts as Map. */
  root: unknown;
  /**
   * Every tensor reachable through dicts (and lists/tuples), by dotted path: the keys of a
   * state dict as they are (`vision_model.embeddings.class_embedding`), nested dicts joined with
   * '.' (`state_dict.conv1.weight`), list items by index.
   */
  tensors: Map<string, SafeTensor>;
  /** The non-tensor leaves (numbers, strings, booleans, null) by the same dotted paths (`epoch`, `arch`). */
  values: Map<string, unknown>;
}

const STORAGE_TYPES: [string, TorchDType, number][] = [
  ['FloatStorage', 'F32', 4],
  ['HalfStorage', 'F16', 2],
  ['BFloat16Storage', 'BF16', 2],
  ['DoubleStorage', 'F64', 8],
  ['LongStorage', 'I64', 8],
  ['IntStorage', 'I32', 4],
  ['ShortStorage', 'I16', 2],
  ['CharStorage', 'I8', 1],
  ['ByteStorage', 'U8', 1],
  ['BoolStorage', 'BOOL', 1],
];

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function orderedDict(items?: unknown): Map<unknown, unknown> {
  const m = new Map<unknown, unknown>();
  if (Array.isArray(items)) {
    for (const it of items) {
      if (!Array.isArray(it) || it.length !== 2) throw new Error('OrderedDict items must be (key, value) pairs');
      m.set(it[0], it[1]);
    }
  }
  return m;
}

/** The decoded storages, cached per file. */
type StorageReader = (s: TorchStorage) => SafeTensor['data'];

function rebuildTensor(readStorage: StorageReader) {
  return (storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad?: unknown): TorchTensor => {
    if (typeof storage !== 'object' || storage === null || !('key' in storage) || !('numel' in storage)) {
      throw new Error('the first argument must be a storage');
    }
    const st = storage as TorchStorage;
    if (!isNonNegInt(offset)) throw new Error('storage offset must be a non-negative integer');
    if (!Array.isArray(size) || !size.every(isNonNegInt)) throw new Error('size must be a tuple of non-negative integers');
    if (!Array.isArray(stride) || stride.length !== size.length || !stride.every(isNonNegInt)) {
      throw new Error('stride must be a tuple of non-negative integers, one per dimension');
    }
    const shape = size as number[];
    const strides = stride as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > 0) {
      let last = offset;
      for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * strides[d];
      if (last >= st.numel) {
        throw new Error(`tensor of shape [${shape.join(', ')}] (offset ${offset}, stride [${strides.join(', ')}]) reaches element ${last} of storage ${st.key}, which has ${st.numel} elements`);
      }
    }
    const src = readStorage(st);
    const out = stridedCopy(src, offset, shape, strides, n);
    return new TorchTensor({ dtype: st.dtype, shape: shape.slice(), data: out } as SafeTensor, requiresGrad === true);
  };
}

function stridedCopy(src: SafeTensor['data'], offset: number, shape: number[], strides: number[], n: number): SafeTensor['data'] {
  const Ctor = src.constructor as new (n: number) => SafeTensor['data'];
  // Contiguous fast path.
  let contiguous = true;
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  if (contiguous) return src.slice(offset, offset + n) as SafeTensor['data'];
  const out = new Ctor(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const o = out as unknown as { [k: number]: number | bigint };
  const s = src as unknown as { [k: number]: number | bigint };
  for (let i = 0; i < n; i++) {
    let off = offset;
    for (let d = 0; d < rank; d++) off += idx[d] * strides[d];
    o[i] = s[off];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function decodeStorage(bytes: Uint8Array, dtype: TorchDType, numel: number): SafeTensor['data'] {
  const copy = new Uint8Array(bytes); // an aligned copy (Buffer.prototype.slice would be a view)
  const buf = copy.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf, 0, numel);
    case 'F64':
      return new Float64Array(buf, 0, numel);
    case 'I64':
      return new BigInt64Array(buf, 0, numel);
    case 'I32':
      return new Int32Array(buf, 0, numel);
    case 'I16':
      return new Int16Array(buf, 0, numel);
    case 'I8':
      return new Int8Array(buf, 0, numel);
    case 'U8':
    case 'BOOL':
      return copy;
    case 'F16': {
      const h = new Uint16Array(buf, 0, numel);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = halfToFloat(h[i]);
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(buf, 0, numel);
      const out = new Float32Array(numel);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) u[i] = h[i] << 16;
      return out;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The allow-list for torch.save pickles, with the tensor rebuilder bound to a storage reader. */
export function torchGlobals(readStorage: StorageReader): PickleGlobals {
  const g = new Map<string, unknown>();
  const rebuild = rebuildTensor(readStorage);
  g.set('torch._utils._rebuild_tensor_v2', rebuild);
  g.set('torch._utils._rebuild_tensor', rebuild);
  g.set('torch._utils._rebuild_parameter', (data: unknown, requiresGrad: unknown) => {
    if (!(data instanceof TorchTensor)) throw new Error('_rebuild_parameter expects a tensor');
    return new TorchTensor(data.tensor, requiresGrad === true);
  });
  g.set('collections.OrderedDict', orderedDict);
  for (const [name, dtype, size] of STORAGE_TYPES) g.set(`torch.${name}`, new TorchStorageType(`torch.${name}`, dtype, size));
  return g;
}

/** data.pkl holds the structure only (names, shapes, storage keys): a few MB at most in practice. */
const MAX_PICKLE_BYTES = 256 * 2 ** 20;
const MAX_DEFLATED_STORAGE_BYTES = 256 * 2 ** 20;
/** One storage; also the largest typed array a tensor becomes (2^31 - 1 bytes). */
const MAX_STORAGE_BYTES = 2 ** 31 - 1;

/** Finds `<root>/data.pkl` (the root directory's name varies with the torch version and file name). */
function findRoot(zip: ZipArchive, file: string): string {
  const pkls = zip.names().filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  const top = pkls.filter((n) => n.split('/').length <= 2);
  if (top.length === 0) {
    throw new PickleError(file, 'not a PyTorch zip checkpoint: no data.pkl in the archive');
  }
  if (top.length > 1) throw new PickleError(file, `ambiguous PyTorch archive: several data.pkl entries (${top.join(', ')})`);
  return top[0].slice(0, top[0].length - 'data.pkl'.length);
}

/** Bytes that start a legacy (torch < 1.6) torch.save file: a pickled magic number. */
function isLegacyTorchFile(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1] <= 5;
}

/**
 * Zip-level problems surface as PickleErrors too (the message keeps "invalid zip archive: ..."), so
 * every bad PyTorch file is one error class for callers and the CLI.
 */
function asPickleError(err: unknown): unknown {
  if (err instanceof ZipError) {
    const e = new PickleError(err.source, `invalid zip archive: ${err.reason}`);
    e.stack = err.stack;
    return e;
  }
  return err;
}

/** Reads a PyTorch zip checkpoint from disk. */
export function readPytorchFile(file: string): PytorchContent {
  try {
    return readPytorchFileInner(file);
  } catch (err) {
    throw asPickleError(err);
  }
}

function readPytorchFileInner(file: string): PytorchContent {
  let zip: ZipArchive;
  try {
    zip = ZipArchive.open(file);
  } catch (err) {
    if (err instanceof ZipError) {
      let head = new Uint8Array(0);
      try {
        const fd = fs.openSync(file, 'r');
        head = new Uint8Array(2);
        fs.readSync(fd, head, 0, 2, 0);
        fs.closeSync(fd);
      } catch {
        // keep the zip error
      }
      if (isLegacyTorchFile(head)) {
        throw new PickleError(file, 'this is a legacy (torch < 1.6) torch.save file, which is not supported: re-save it with torch >= 1.6 or convert it to safetensors');
      }
    }
    throw err;
  }
  try {
    return readPytorchArchive(zip, file);
  } finally {
    zip.close();
  }
}

/** Reads a PyTorch zip checkpoint held in memory. */
export function readPytorchBytes(bytes: Uint8Array, source = '<pytorch bytes>'): PytorchContent {
  try {
    return readPytorchArchive(ZipArchive.fromBytes(bytes, source), source);
  } catch (err) {
    throw asPickleError(err);
  }
}

function readPytorchArchive(zip: ZipArchive, file: string): PytorchContent {
  const root = findRoot(zip, file);
  if (zip.has(`${root}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${root}byteorder`)).trim();
    if (order !== 'little') throw new PickleError(file, `storages are stored ${order}-endian; only little-endian files are supported`);
  }
  const storages = new Map<string, TorchStorage>();
  const decoded = new Map<string, SafeTensor['data']>();
  const readStorage: StorageReader = (s) => {
    const hit = decoded.get(s.key);
    if (hit !== undefined) return hit;
    const entry = `${root}data/${s.key}`;
    if (!zip.has(entry)) throw new PickleError(file, `storage ${s.key} is missing from the archive (no entry ${entry})`);
    const size = STORAGE_TYPES.find((t) => t[1] === s.dtype)?.[2] ?? 1;
    // The declared size against what the pickle needs, before a byte is read or inflated.
    const declared = zip.size(entry);
    if (declared !== s.numel * size) {
      throw new PickleError(file, `size mismatch: storage ${s.key} has ${declared} bytes but ${s.numel} elements of ${s.dtype} need ${s.numel * size}`);
    }
    if (declared > MAX_STORAGE_BYTES) throw new PickleError(file, `storage ${s.key} is ${declared} bytes, too large to load (limit ${MAX_STORAGE_BYTES})`);
    // torch.save stores storages uncompressed; a large deflated one is a zip bomb, not a checkpoint.
    if (zip.entries.get(entry)?.method === 8 && declared > MAX_DEFLATED_STORAGE_BYTES) {
      throw new PickleError(file, `storage ${s.key} is deflated to expand to ${declared} bytes (torch.save stores storages uncompressed; at most ${MAX_DEFLATED_STORAGE_BYTES} deflated bytes are inflated)`);
    }
    const bytes = zip.read(entry);
    const data = decodeStorage(bytes, s.dtype, s.numel);
    decoded.set(s.key, data);
    return data;
  };
  const persistentLoad = (pid: unknown): TorchStorage => {
    // ('storage', storage_type, key, location, numel)
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      throw new PickleError(file, `unsupported persistent id ${JSON.stringify(describePid(pid))} (expected a storage)`);
    }
    const [, type, key, location, numel] = pid;
    if (!(type instanceof TorchStorageType)) throw new PickleError(file, 'storage persistent id without a storage type');
    if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) throw new PickleError(file, `invalid storage key ${JSON.stringify(key)}`);
    if (!isNonNegInt(numel)) throw new PickleError(file, `invalid element count for storage ${key}`);
    const prev = storages.get(key);
    if (prev !== undefined) {
      if (prev.dtype !== type.dtype) throw new PickleError(file, `storage ${key} is used with two dtypes (${prev.dtype}, ${type.dtype})`);
      return prev;
    }
    const s: TorchStorage = { key, dtype: type.dtype, numel, location: typeof location === 'string' ? location : 'cpu' };
    storages.set(key, s);
    return s;
  };
  const pkl = zip.read(`${root}data.pkl`, { maxBytes: MAX_PICKLE_BYTES });
  let value: unknown;
  try {
    value = unpickle(pkl, { source: file, globals: torchGlobals(readStorage), persistentLoad });
  } catch (err) {
    if (err instanceof ZipError || err instanceof PickleError) throw err;
    throw new PickleError(file, (err as Error).message);
  }
  const tensors = new Map<string, SafeTensor>();
  const values = new Map<string, unknown>();
  flatten(value, '', tensors, values, new Set());
  return { root: value, tensors, values };
}

function describePid(pid: unknown): unknown {
  if (Array.isArray(pid)) return pid.map((x) => (typeof x === 'object' && x !== null ? String(x.constructor?.name ?? 'object') : x));
  return typeof pid === 'object' ? String(pid) : pid;
}

function flatten(v: unknown, prefix: string, tensors: Map<string, SafeTensor>, values: Map<string, unknown>, seen: Set<unknown>): void {
  const at = (k: string): string => (prefix === '' ? k : `${prefix}.${k}`);
  if (v instanceof TorchTensor) {
    tensors.set(prefix, v.tensor);
    return;
  }
  if (v instanceof Map || Array.isArray(v)) {
    if (seen.has(v)) return;
    seen.add(v);
    const entries: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : v.map((x, i) => [i, x]);
    for (const [k, x] of entries) {
      if (typeof k !== 'string' && typeof k !== 'number') continue;
      flatten(x, at(String(k)), tensors, values, seen);
    }
    return;
  }
  if (v === null || ['number', 'string', 'boolean', 'bigint'].includes(typeof v)) {
    if (prefix !== '') values.set(prefix, v);
  }
}

/**
 * The state dict inside a checkpoint: the tensors under the first of `state_dict`, `model`,
 * `module`, `state_dict_ema` that holds tensors (timm-style training checkpoints), or all
 * top-level tensors when the file is a plain state dict. Keys have that prefix removed.
 */
export function stateDictOf(content: PytorchContent): { prefix: string; tensors: Map<string, SafeTensor> } {
  for (const key of ['state_dict', 'model', 'module', 'state_dict_ema']) {
    const p = `${key}.`;
    const sub = new Map<string, SafeTensor>();
    for (const [n, t] of content.tensors) if (n.startsWith(p)) sub.set(n.slice(p.length), t);
    if (sub.size > 0 && content.root instanceof Map && content.root.has(key)) return { prefix: key, tensors: sub };
  }
  return { prefix: '', tensors: content.tensors };
}

/** Attributes such as `_metadata` that torch attaches to a state dict, if present. */
export function stateDictAttributes(root: unknown): Map<unknown, unknown> | undefined {
  if (typeof root === 'object' && root !== null) {
    const a = (root as Record<symbol, unknown>)[PICKLE_ATTRS];
    if (a instanceof Map) return a;
  }
  return undefined;
}
