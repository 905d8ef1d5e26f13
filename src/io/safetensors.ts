/**
 * A self-contained reader/writer for the safetensors format (huggingface/safetensors).
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON header
 * `{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}`,
 * then the data section. Offsets are relative to the start of the data section.
 *
 * Validation follows the Rust crate: the header is at most 100 MB, every tensor's byte
 * range matches `product(shape) * sizeof(dtype)`, the ranges sorted by offset are
 * contiguous (no holes, no overlaps) and together cover the data section exactly.
 * Every malformed input raises a {@link SafetensorsError} naming the file; nothing is
 * allocated beyond the size of the input.
 */
import * as fs from 'fs';
import { BadInputError } from '../errors';
import { notRegularFileMessage } from './bounded-read';
import { writeFileAtomic } from './atomic';

/** Element types a safetensors file may declare that this reader understands. */
export type SafeDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I64'
  | 'U64'
  | 'I32'
  | 'U32'
  | 'I16'
  | 'U16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** Element types the writer can produce (straight from the typed array, no conversion). */
export type WritableDType = Exclude<SafeDType, 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'>;

/** Float formats that are widened to Float32Array when read. */
export type FloatLikeDType = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2';

/** A tensor read from a file. `dtype` is the dtype stored in the file. */
export type SafeTensor =
  | { dtype: FloatLikeDType; shape: number[]; data: Float32Array }
  | { dtype: 'F64'; shape: number[]; data: Float64Array }
  | { dtype: 'I64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'U64'; shape: number[]; data: BigUint64Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array }
  | { dtype: 'U32'; shape: number[]; data: Uint32Array }
  | { dtype: 'I16'; shape: number[]; data: Int16Array }
  | { dtype: 'U16'; shape: number[]; data: Uint16Array }
  | { dtype: 'I8'; shape: number[]; data: Int8Array }
  | { dtype: 'U8' | 'BOOL'; shape: number[]; data: Uint8Array };

/** Typed arrays accepted by the writer. */
export type WritableArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/**
 * A tensor to write. The dtype is taken from the array type (Float32Array -> F32,
 * Int32Array -> I32, BigInt64Array -> I64, Uint8Array -> U8, ...); pass `dtype: 'BOOL'`
 * with a Uint8Array for booleans.
 */
export interface SafeTensorInput {
  shape: readonly number[];
  data: WritableArray;
  dtype?: WritableDType;
}

/** Tensors to write, by name. */
export type SafeTensorCollection =
  | ReadonlyMap<string, SafeTensorInput>
  | Readonly<Record<string, SafeTensorInput>>;

/** One header entry: where a tensor lives, without its data. */
export interface SafeTensorInfo {
  dtype: SafeDType;
  shape: number[];
  /** [begin, end) relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** The parsed and validated header of a safetensors file. */
export interface SafetensorsHeader {
  /** Entries in the order they appear in the header JSON. */
  tensors: Map<string, SafeTensorInfo>;
  metadata: Record<string, string>;
  /** N: the JSON header's byte length (including padding). */
  headerLength: number;
  /** Absolute file offset of the data section (8 + N). */
  dataStart: number;
  /** Total size of the file in bytes. */
  byteLength: number;
}

/** Decoded content of a safetensors file. */
export interface SafetensorsContent {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

export interface SafetensorsReadOptions {
  /** Only decode these tensors (all header entries are still validated). */
  names?: readonly string[];
}

/** Largest accepted JSON header, as in the Rust crate. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Any malformed safetensors input or invalid write request. */
export class SafetensorsError extends BadInputError {
  /** The file name (or a description of the in-memory source). */
  readonly source: string;
  /** The problem, without the file name. */
  readonly reason: string;

  constructor(source: string, reason: string) {
    super(`${source}: invalid safetensors file: ${reason}`, 'E_SAFETENSORS');
    this.name = 'SafetensorsError';
    this.source = source;
    this.reason = reason;
  }
}

/** Thrown for invalid arguments to the writer. */
function writeError(reason: string): SafetensorsError {
  const err = new SafetensorsError('serializeSafetensors', reason);
  err.message = `cannot write safetensors: ${reason}`;
  return err;
}

const DTYPE_SIZES: Readonly<Record<SafeDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Dtypes defined by the format that this reader does not decode. */
const KNOWN_UNSUPPORTED: ReadonlySet<string> = new Set(['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E8M0', 'C64']);

/** Size in bytes of one element of `dtype`. */
export function dtypeByteSize(dtype: SafeDType): number {
  return DTYPE_SIZES[dtype];
}

function isSafeDType(s: string): s is SafeDType {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

function hostIsLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** A non-negative safe integer (JSON `-0` is rejected, as serde does for usize). */
function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0);
}

/** Product of dims, or -1 if it is not a safe integer. */
function elementCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : -1;
}

// ---------------------------------------------------------------------------------------------
// Writing

function inferDType(data: WritableArray): WritableDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof BigUint64Array) return 'U64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint8Array) return 'U8';
  throw writeError('tensor data must be a typed array');
}

function tensorEntries(tensors: SafeTensorCollection): [string, SafeTensorInput][] {
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, SafeTensorInput>).entries()];
  return Object.entries(tensors as Readonly<Record<string, SafeTensorInput>>);
}

/** Little-endian bytes of a typed array (a view when the host is little-endian). */
function littleEndianBytes(data: WritableArray, dtype: WritableDType): Uint8Array {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = DTYPE_SIZES[dtype];
  if (size === 1 || hostIsLittleEndian()) return raw;
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += size) {
    for (let b = 0; b < size; b++) out[i + b] = raw[i + size - 1 - b];
  }
  return out;
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Serialise tensors (and optional string metadata) to safetensors bytes.
 *
 * Tensors are laid out by element size (largest first, which keeps every tensor aligned)
 * and then by name, so an all-F32 file is sorted by name. The header is compact JSON with
 * `__metadata__` first, padded with spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(
  tensors: SafeTensorCollection,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  interface Prepared {
    name: string;
    dtype: WritableDType;
    shape: number[];
    bytes: Uint8Array;
  }
  const prepared: Prepared[] = [];
  const seen = new Set<string>();
  for (const [name, t] of tensorEntries(tensors)) {
    if (typeof name !== 'string') throw writeError('tensor names must be strings');
    if (name === '__metadata__') throw writeError('"__metadata__" is reserved and cannot be a tensor name');
    if (seen.has(name)) throw writeError(`duplicate tensor name "${name}"`);
    seen.add(name);
    if (!isPlainObject(t) || !Array.isArray(t.shape)) {
      throw writeError(`tensor "${name}": expected {shape, data}`);
    }
    const shape = [...t.shape];
    for (const d of shape) {
      if (!isNonNegInt(d)) throw writeError(`tensor "${name}": shape ${JSON.stringify(shape)} has an entry that is not a non-negative integer`);
    }
    const natural = inferDType(t.data);
    let dtype: WritableDType = natural;
    if (t.dtype !== undefined) {
      const ok = t.dtype === natural || (t.dtype === 'BOOL' && natural === 'U8');
      if (!ok) throw writeError(`tensor "${name}": dtype ${String(t.dtype)} does not match its ${natural} data`);
      dtype = t.dtype;
    }
    const count = elementCount(shape);
    if (count !== t.data.length) {
      throw writeError(`tensor "${name}": shape ${JSON.stringify(shape)} holds ${count} elements but data has ${t.data.length}`);
    }
    prepared.push({ name, dtype, shape, bytes: littleEndianBytes(t.data, dtype) });
  }
  prepared.sort((a, b) => DTYPE_SIZES[b.dtype] - DTYPE_SIZES[a.dtype] || compareUtf8(a.name, b.name));

  const parts: string[] = [];
  const metaEntries = metadata === undefined ? [] : Object.entries(metadata);
  if (metaEntries.length > 0) {
    metaEntries.sort(([a], [b]) => compareUtf8(a, b));
    const kv: string[] = [];
    for (const [k, v] of metaEntries) {
      if (typeof v !== 'string') throw writeError(`metadata value for "${k}" must be a string, got ${describeValue(v)}`);
      kv.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${kv.join(',')}}`);
  }
  let offset = 0;
  for (const p of prepared) {
    const begin = offset;
    offset += p.bytes.length;
    parts.push(
      `${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":${JSON.stringify(p.shape)},"data_offsets":[${begin},${offset}]}`,
    );
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > SAFETENSORS_MAX_HEADER_BYTES) throw writeError(`header would be ${headerLength} bytes, over the 100 MB limit`);

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const p of prepared) {
    out.set(p.bytes, pos);
    pos += p.bytes.length;
  }
  return out;
}

/** Serialise and write atomically (temp file + fsync + rename). */
export async function writeSafetensorsFile(
  filePath: string,
  tensors: SafeTensorCollection,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(filePath, serializeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** Read the header length N from the first 8 bytes and check it against the cap and file size. */
function checkHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(source, `file is ${fileSize} bytes, too short to hold the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError(source, `header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (corrupt file or not safetensors)`);
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new SafetensorsError(source, `header length ${len} is larger than the ${fileSize - 8} bytes that follow it (truncated or not safetensors)`);
  }
  return len;
}

/**
 * Validate header bytes (the N bytes after the length field) against a data section of
 * `dataLength` bytes.
 */
function decodeHeader(headerBytes: Uint8Array, dataLength: number, source: string): Omit<SafetensorsHeader, 'byteLength' | 'dataStart' | 'headerLength'> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(source, 'header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new SafetensorsError(source, `header is not valid JSON (${msg})`);
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsError(source, `header must be a JSON object, got ${describeValue(parsed)}`);
  }

  const metadataPairs: [string, string][] = [];
  const tensors = new Map<string, SafeTensorInfo>();
  for (const key of Object.keys(parsed)) {
    const value = parsed[key];
    if (key === '__metadata__') {
      if (value === null) continue;
      if (!isPlainObject(value)) throw new SafetensorsError(source, `__metadata__ must be an object of strings, got ${describeValue(value)}`);
      for (const mk of Object.keys(value)) {
        const mv = value[mk];
        if (typeof mv !== 'string') {
          throw new SafetensorsError(source, `__metadata__ value for "${mk}" must be a string, got ${describeValue(mv)}`);
        }
        metadataPairs.push([mk, mv]);
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(key)}`;
    if (!isPlainObject(value)) throw new SafetensorsError(source, `${where}: entry must be an object, got ${describeValue(value)}`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string') throw new SafetensorsError(source, `${where}: dtype must be a string, got ${describeValue(dtype)}`);
    if (!isSafeDType(dtype)) {
      const why = KNOWN_UNSUPPORTED.has(dtype) ? 'unsupported' : 'unknown';
      throw new SafetensorsError(source, `${where}: ${why} dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape)) throw new SafetensorsError(source, `${where}: shape must be an array, got ${describeValue(shape)}`);
    for (const d of shape) {
      if (!isNonNegInt(d)) throw new SafetensorsError(source, `${where}: shape entries must be non-negative integers, got ${describeValue(d)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isNonNegInt(offsets[0]) || !isNonNegInt(offsets[1])) {
      throw new SafetensorsError(source, `${where}: data_offsets must be [begin, end] with non-negative integers`);
    }
    tensors.set(key, { dtype, shape: shape as number[], dataOffsets: [offsets[0], offsets[1]] });
  }

  // Sorted by offsets, the byte ranges must tile [0, dataLength) exactly.
  const byOffset = [...tensors.entries()].sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let expected = 0;
  for (const [name, info] of byOffset) {
    const [begin, end] = info.dataOffsets;
    const where = `tensor ${JSON.stringify(name)}`;
    if (end < begin) throw new SafetensorsError(source, `${where}: data_offsets [${begin}, ${end}] are reversed`);
    if (begin !== expected) {
      const kind = begin < expected ? 'overlaps the previous tensor' : `leaves a hole of ${begin - expected} bytes before it`;
      throw new SafetensorsError(source, `${where}: data_offsets [${begin}, ${end}] ${kind} (tensors must be contiguous)`);
    }
    const count = elementCount(info.shape);
    const nbytes = count * DTYPE_SIZES[info.dtype];
    if (count < 0 || !Number.isSafeInteger(nbytes) || nbytes !== end - begin) {
      throw new SafetensorsError(
        source,
        `${where}: ${info.dtype} shape ${JSON.stringify(info.shape)} needs ${count < 0 ? 'too many' : nbytes} bytes but data_offsets give ${end - begin}`,
      );
    }
    if (end > dataLength) {
      throw new SafetensorsError(source, `${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section (truncated file?)`);
    }
    expected = end;
  }
  if (expected !== dataLength) {
    throw new SafetensorsError(source, `tensors cover ${expected} bytes but the data section has ${dataLength} (extra or missing data)`);
  }
  return { tensors, metadata: Object.fromEntries(metadataPairs) };
}

/** Parse and validate the header of an in-memory safetensors file. */
export function parseSafetensorsHeader(bytes: Uint8Array, source: string): SafetensorsHeader {
  const headerLength = checkHeaderLength(bytes, bytes.length, source);
  const dataStart = 8 + headerLength;
  const { tensors, metadata } = decodeHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, source);
  return { tensors, metadata, headerLength, dataStart, byteLength: bytes.length };
}

// ---------------------------------------------------------------------------------------------
// Decoding tensor data

/** Decodes tensor bytes; holds the lazily built half-precision lookup table for one file. */
class TensorDecoder {
  private f16Table: Float32Array | undefined;
  private readonly littleEndian = hostIsLittleEndian();

  private halfTable(): Float32Array {
    if (this.f16Table === undefined) {
      const t = new Float32Array(65536);
      for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
      this.f16Table = t;
    }
    return this.f16Table;
  }

  decode(info: SafeTensorInfo, bytes: Uint8Array): SafeTensor {
    const shape = [...info.shape];
    const n = bytes.length / DTYPE_SIZES[info.dtype];
    switch (info.dtype) {
      case 'F32':
        return { dtype: 'F32', shape, data: this.view(bytes, 4, (b, o, l) => new Float32Array(b, o, l)) };
      case 'F64':
        return { dtype: 'F64', shape, data: this.view(bytes, 8, (b, o, l) => new Float64Array(b, o, l)) };
      case 'I64':
        return { dtype: 'I64', shape, data: this.view(bytes, 8, (b, o, l) => new BigInt64Array(b, o, l)) };
      case 'U64':
        return { dtype: 'U64', shape, data: this.view(bytes, 8, (b, o, l) => new BigUint64Array(b, o, l)) };
      case 'I32':
        return { dtype: 'I32', shape, data: this.view(bytes, 4, (b, o, l) => new Int32Array(b, o, l)) };
      case 'U32':
        return { dtype: 'U32', shape, data: this.view(bytes, 4, (b, o, l) => new Uint32Array(b, o, l)) };
      case 'I16':
        return { dtype: 'I16', shape, data: this.view(bytes, 2, (b, o, l) => new Int16Array(b, o, l)) };
      case 'U16':
        return { dtype: 'U16', shape, data: this.view(bytes, 2, (b, o, l) => new Uint16Array(b, o, l)) };
      case 'I8':
        return { dtype: 'I8', shape, data: new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length) };
      case 'U8':
      case 'BOOL':
        return { dtype: info.dtype, shape, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) };
      case 'F16': {
        const table = this.halfTable();
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
        return { dtype: 'F16', shape, data: out };
      }
      case 'BF16': {
        // bf16 is the top half of an f32: place the 16 bits in the high half of each word.
        const out = new Float32Array(n);
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) bits[i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
        return { dtype: 'BF16', shape, data: out };
      }
      case 'F8_E5M2': {
        const table = this.halfTable();
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = table[bytes[i] << 8];
        return { dtype: 'F8_E5M2', shape, data: out };
      }
      case 'F8_E4M3': {
        const lut = new Float32Array(256);
        for (let b = 0; b < 256; b++) lut[b] = e4m3ToFloat(b);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = lut[bytes[i]];
        return { dtype: 'F8_E4M3', shape, data: out };
      }
    }
  }

  /**
   * A typed-array view of little-endian bytes: zero-copy when the host is little-endian and
   * the bytes are aligned, a copy into a fresh (aligned) buffer when they are not, and an
   * element-wise decode on big-endian hosts.
   */
  private view<A>(bytes: Uint8Array, size: number, make: (buf: ArrayBufferLike, byteOffset: number, length: number) => A): A {
    const n = bytes.length / size;
    if (this.littleEndian && bytes.byteOffset % size === 0) return make(bytes.buffer, bytes.byteOffset, n);
    const copy = bytes.slice();
    if (!this.littleEndian) {
      for (let i = 0; i < copy.length; i += size) {
        for (let b = 0; b < size; b++) copy[i + b] = bytes[i + size - 1 - b];
      }
    }
    return make(copy.buffer, 0, n);
  }
}

/** IEEE 754 binary16 bit pattern to number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** OCP FP8 E4M3 (the "fn" variant: no infinities, S.1111.111 is NaN) to number. */
function e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const mant = b & 0x7;
  if (exp === 0xf && mant === 0x7) return NaN;
  if (exp === 0) return sign * (mant / 8) * 2 ** -6;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

function selectNames(header: Map<string, SafeTensorInfo>, names: readonly string[] | undefined, source: string): string[] {
  if (names === undefined) return [...header.keys()];
  for (const name of names) {
    if (!header.has(name)) {
      throw new SafetensorsError(source, `no tensor named ${JSON.stringify(name)} (the file has ${header.size} tensors)`);
    }
  }
  return [...new Set(names)];
}

/**
 * Parse an in-memory safetensors file. Aligned tensors are returned as views that share
 * memory with `bytes`; unaligned ones are copied. F16/BF16/F8 are widened to Float32Array.
 */
export function parseSafetensors(bytes: Uint8Array, source: string, opts: SafetensorsReadOptions = {}): SafetensorsContent {
  const header = parseSafetensorsHeader(bytes, source);
  const decoder = new TensorDecoder();
  const tensors = new Map<string, SafeTensor>();
  for (const name of selectNames(header.tensors, opts.names, source)) {
    const info = header.tensors.get(name) as SafeTensorInfo;
    const [begin, end] = info.dataOffsets;
    tensors.set(name, decoder.decode(info, bytes.subarray(header.dataStart + begin, header.dataStart + end)));
  }
  return { tensors, metadata: header.metadata };
}

// ---------------------------------------------------------------------------------------------
// Files

/** Largest tensor the file reader will allocate (typed arrays are limited to 2^32 bytes here). */
const MAX_TENSOR_BYTES = 2 ** 32 - 1;
const READ_CHUNK = 1 << 30;

async function readExactly(handle: fs.promises.FileHandle, into: Uint8Array, position: number, source: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, Math.min(READ_CHUNK, into.length - done), position + done);
    if (bytesRead === 0) throw new SafetensorsError(source, `unexpected end of file at byte ${position + done} (file changed while reading?)`);
    done += bytesRead;
  }
}

function fsError(source: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e && e.code === 'ENOENT') return new SafetensorsError(source, 'no such file');
  if (e && e.code === 'EISDIR') return new SafetensorsError(source, 'is a directory, not a .safetensors file');
  return err instanceof Error ? err : new Error(String(err));
}

async function openForRead(filePath: string): Promise<fs.promises.FileHandle> {
  try {
    // Before open: opening a FIFO for reading blocks until a writer comes.
    const st = await fs.promises.stat(filePath);
    if (st.isDirectory()) throw new SafetensorsError(filePath, 'is a directory, not a .safetensors file');
    const msg = notRegularFileMessage(filePath, st);
    if (msg !== undefined) throw new SafetensorsError(filePath, msg.slice(filePath.length + 1));
    return await fs.promises.open(filePath, 'r');
  } catch (err) {
    throw fsError(filePath, err);
  }
}

async function readHeaderFrom(handle: fs.promises.FileHandle, source: string): Promise<SafetensorsHeader> {
  const stat = await handle.stat();
  if (stat.isDirectory()) throw new SafetensorsError(source, 'is a directory, not a .safetensors file');
  const size = stat.size;
  const prefix = new Uint8Array(8);
  if (size >= 8) await readExactly(handle, prefix, 0, source);
  const headerLength = checkHeaderLength(prefix, size, source);
  const headerBytes = new Uint8Array(headerLength);
  await readExactly(handle, headerBytes, 8, source);
  const dataStart = 8 + headerLength;
  const { tensors, metadata } = decodeHeader(headerBytes, size - dataStart, source);
  return { tensors, metadata, headerLength, dataStart, byteLength: size };
}

/** Read and validate only the header of a file (cheap, for inspecting large files). */
export async function readSafetensorsHeader(filePath: string): Promise<SafetensorsHeader> {
  const handle = await openForRead(filePath);
  try {
    return await readHeaderFrom(handle, filePath);
  } catch (err) {
    throw fsError(filePath, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Read a safetensors file. Only the requested tensors are read from disk; each gets its own
 * freshly allocated (aligned) buffer.
 */
export async function readSafetensorsFile(filePath: string, opts: SafetensorsReadOptions = {}): Promise<SafetensorsContent> {
  const handle = await openForRead(filePath);
  try {
    const header = await readHeaderFrom(handle, filePath);
    const decoder = new TensorDecoder();
    const tensors = new Map<string, SafeTensor>();
    for (const name of selectNames(header.tensors, opts.names, filePath)) {
      const info = header.tensors.get(name) as SafeTensorInfo;
      const [begin, end] = info.dataOffsets;
      if (end - begin > MAX_TENSOR_BYTES) {
        throw new SafetensorsError(filePath, `tensor ${JSON.stringify(name)} is ${end - begin} bytes, too large to load`);
      }
      const buf = new Uint8Array(end - begin);
      await readExactly(handle, buf, header.dataStart + begin, filePath);
      tensors.set(name, decoder.decode(info, buf));
    }
    return { tensors, metadata: header.metadata };
  } catch (err) {
    throw fsError(filePath, err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Conversions

/** The tensor's values as a Float32Array (shared when already F32-like, else converted). */
export function tensorToFloat32(t: SafeTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  const out = new Float32Array(t.data.length);
  const src = t.data;
  for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}

/**
 * The tensor's values as an Int32Array (e.g. PyTorch's int64 position ids). Throws a
 * SafetensorsError (with `name` as the source) if a value is not an int32.
 */
export function tensorToInt32(t: SafeTensor, name = 'tensor'): Int32Array {
  if (t.data instanceof Int32Array) return t.data;
  const out = new Int32Array(t.data.length);
  const src = t.data;
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new SafetensorsError(name, `value ${String(src[i])} at index ${i} does not fit in int32`);
    }
    out[i] = v;
  }
  return out;
}
