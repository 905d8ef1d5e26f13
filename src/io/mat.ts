/**
 * A reader for MATLAB Level 5 MAT-files (the format of `save -v6` / `-v7`), for the subset datasets
 * ship: Flowers-102's `imagelabels.mat` and `setid.mat` are compressed (v7) files of 1xN double
 * arrays whose values MATLAB stored as miUINT8 / miUINT16 to save space.
 *
 * Layout (MathWorks, "MAT-File Format", Level 5):
 * - a 128-byte header: 116 bytes of text, 8 bytes of subsystem offset, a 2-byte version (0x0100)
 *   and the endian indicator `IM` (little-endian writer) or `MI` (big-endian);
 * - then data elements, each an 8-byte tag (u32 data type, u32 byte count) and its data padded to 8
 *   bytes, or the 4-byte "small data element" form (byte count and type packed in the first u32,
 *   data in the next 4 bytes);
 * - top-level elements are miMATRIX (14) or miCOMPRESSED (15: a zlib stream holding one element);
 * - a miMATRIX holds sub-elements: array flags (class, complex/global/logical bits), dimensions
 *   (miINT32), the name (miINT8), then per class: the real part and the optional imaginary part
 *   (numeric), the characters (char), the cells (cell), field names and values (struct).
 *
 * Numeric data may be stored in any numeric type whatever the declared class (MATLAB stores
 * `double` labels 1..102 as miUINT8); values are returned as float64. Sparse, object, function and
 * opaque arrays are recognised and reported as unsupported rather than read. MATLAB 7.3 files are
 * HDF5 and are refused with a clear message. Every problem is a {@link MatError} naming the file.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { BadInputError } from '../errors';
import { readFileBoundedSync } from './bounded-read';

/** Dataset label files (Flowers-102's are 50 KB); a MAT-file is read whole, so it is capped. */
const MAX_MAT_FILE_BYTES = 256 * 2 ** 20;

export class MatError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_MAT');
    this.name = 'MatError';
  }
}

/** Data types of elements. */
export const MI = Object.freeze({
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
});

const MI_NAMES: Record<number, string> = {
  1: 'miINT8', 2: 'miUINT8', 3: 'miINT16', 4: 'miUINT16', 5: 'miINT32', 6: 'miUINT32', 7: 'miSINGLE', 9: 'miDOUBLE',
  12: 'miINT64', 13: 'miUINT64', 14: 'miMATRIX', 15: 'miCOMPRESSED', 16: 'miUTF8', 17: 'miUTF16', 18: 'miUTF32',
};

/** Array classes (the low byte of the array flags). */
export const MX_CLASSES = ['', 'cell', 'struct', 'object', 'char', 'sparse', 'double', 'single', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'function', 'opaque'] as const;
export type MatClass = Exclude<(typeof MX_CLASSES)[number], ''> | 'unknown';
export type MatNumericClass = 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

interface MatBase {
  name: string;
  /** Dimensions as stored (at least 2, MATLAB order). Data is column-major. */
  dims: number[];
  global: boolean;
}

export interface MatNumeric extends MatBase {
  kind: 'numeric';
  class: MatNumericClass;
  logical: boolean;
  /** Values in column-major order, converted to float64 from the stored type. */
  real: Float64Array;
  imag?: Float64Array;
  /** The element type the real part was stored as (`miUINT8`, ...). */
  storedType: string;
}

export interface MatChar extends MatBase {
  kind: 'char';
  /** One string per row (a 1xN char array is one row). */
  rows: string[];
}

export interface MatCell extends MatBase {
  kind: 'cell';
  /** Column-major cells. */
  cells: MatArray[];
}

export interface MatStruct extends MatBase {
  kind: 'struct';
  fields: string[];
  /** One record per element, column-major. */
  elements: Array<Record<string, MatArray>>;
}

export interface MatUnsupported extends MatBase {
  kind: 'unsupported';
  class: MatClass;
}

/** An empty miMATRIX (byte count 0), as MATLAB writes for empty cells. */
export interface MatEmpty extends MatBase {
  kind: 'empty';
}

export type MatArray = MatNumeric | MatChar | MatCell | MatStruct | MatUnsupported | MatEmpty;

export interface MatFile {
  /** The header's descriptive text, trailing spaces removed. */
  header: string;
  endian: 'little' | 'big';
  variables: Map<string, MatArray>;
}

const ELEMENT_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4 };

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
    readonly source: string,
    /** Where `bytes` starts in the file, or -1 inside a decompressed element (for messages). */
    readonly base: number,
    readonly where: string,
  ) {}

  private view = (): DataView => new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);

  fail(msg: string, at: number): never {
    const loc = this.base >= 0 ? `byte ${this.base + at}` : `byte ${at} of ${this.where}`;
    throw new MatError(`${this.source}: ${msg} (at ${loc})`);
  }

  u32(at: number): number {
    if (at + 4 > this.bytes.length) this.fail('unexpected end of data (the file is truncated)', at);
    return this.view().getUint32(at, this.le);
  }

  /**
   * The element at `at`: its type, data bytes and the offset just past it. `pad` = 8-byte padding
   * after the data (sub-elements); top-level elements are not padded beyond their byte count.
   */
  element(at: number, pad: boolean): { type: number; data: Uint8Array; dataAt: number; next: number } {
    const first = this.u32(at);
    if (first >>> 16 !== 0) {
      // Small data element: byte count in the upper 16 bits, type in the lower.
      const n = first >>> 16;
      const type = first & 0xffff;
      if (n > 4) this.fail(`small data element claims ${n} bytes (at most 4)`, at);
      if (at + 8 > this.bytes.length) this.fail('unexpected end of data (the file is truncated)', at);
      return { type, data: this.bytes.subarray(at + 4, at + 4 + n), dataAt: at + 4, next: at + 8 };
    }
    const type = first;
    const n = this.u32(at + 4);
    const end = at + 8 + n;
    if (end > this.bytes.length) this.fail(`${MI_NAMES[type] ?? `type ${type}`} element of ${n} bytes runs past the end of the data (the file is truncated)`, at);
    const next = pad ? at + 8 + Math.ceil(n / 8) * 8 : end;
    return { type, data: this.bytes.subarray(at + 8, end), dataAt: at + 8, next: Math.min(next, this.bytes.length) };
  }

  /** Decodes a numeric element's data to float64. */
  numbers(type: number, data: Uint8Array, at: number): Float64Array {
    const size = ELEMENT_SIZES[type];
    if (size === undefined || type === MI.UTF8 || type === MI.UTF16 || type === MI.UTF32) this.fail(`expected numeric data, found ${MI_NAMES[type] ?? `type ${type}`}`, at);
    if (data.length % size !== 0) this.fail(`${MI_NAMES[type]} data of ${data.length} bytes is not a whole number of ${size}-byte values`, at);
    const n = data.length / size;
    const out = new Float64Array(n);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const le = this.le;
    switch (type) {
      case MI.INT8:
        for (let i = 0; i < n; i++) out[i] = v.getInt8(i);
        break;
      case MI.UINT8:
        for (let i = 0; i < n; i++) out[i] = data[i];
        break;
      case MI.INT16:
        for (let i = 0; i < n; i++) out[i] = v.getInt16(2 * i, le);
        break;
      case MI.UINT16:
        for (let i = 0; i < n; i++) out[i] = v.getUint16(2 * i, le);
        break;
      case MI.INT32:
        for (let i = 0; i < n; i++) out[i] = v.getInt32(4 * i, le);
        break;
      case MI.UINT32:
        for (let i = 0; i < n; i++) out[i] = v.getUint32(4 * i, le);
        break;
      case MI.SINGLE:
        for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, le);
        break;
      case MI.DOUBLE:
        for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, le);
        break;
      case MI.INT64:
        for (let i = 0; i < n; i++) out[i] = Number(v.getBigInt64(8 * i, le));
        break;
      case MI.UINT64:
        for (let i = 0; i < n; i++) out[i] = Number(v.getBigUint64(8 * i, le));
        break;
    }
    return out;
  }

  int32s(type: number, data: Uint8Array, at: number, what: string): number[] {
    if (type !== MI.INT32 && type !== MI.UINT32) this.fail(`${what} must be miINT32, found ${MI_NAMES[type] ?? `type ${type}`}`, at);
    return Array.from(this.numbers(type, data, at));
  }

  text(type: number, data: Uint8Array, at: number): string {
    if (type === MI.INT8 || type === MI.UINT8 || type === MI.UTF8) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    if (type === MI.UINT16 || type === MI.UTF16) {
      const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
      let s = '';
      for (let i = 0; i + 1 < data.length; i += 2) s += String.fromCharCode(v.getUint16(i, this.le));
      return s;
    }
    if (type === MI.UTF32 || type === MI.INT32 || type === MI.UINT32) {
      const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
      let s = '';
      for (let i = 0; i + 3 < data.length; i += 4) {
        const cp = v.getUint32(i, this.le);
        if (cp > 0x10ffff) this.fail(`character data holds ${cp}, which is not a Unicode code point`, at);
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    return this.fail(`character data in ${MI_NAMES[type] ?? `type ${type}`} is not supported`, at);
  }

  /** Parses the body of a miMATRIX element (`data` at offset `at` of this reader). */
  matrix(at: number, end: number, depth: number): MatArray {
    if (depth > 32) this.fail('arrays nested more than 32 deep', at);
    if (at === end) return { kind: 'empty', name: '', dims: [0, 0], global: false };
    const flags = this.element(at, true);
    if (flags.type !== MI.UINT32 || flags.data.length < 8) this.fail('array flags must be 8 bytes of miUINT32', at);
    const word = new DataView(flags.data.buffer, flags.data.byteOffset, 8).getUint32(0, this.le);
    const classCode = word & 0xff;
    const complex = (word & 0x800) !== 0;
    const global = (word & 0x400) !== 0;
    const logical = (word & 0x200) !== 0;
    const cls: MatClass = classCode > 0 && classCode < MX_CLASSES.length ? (MX_CLASSES[classCode] as MatClass) : 'unknown';
    if (cls === 'function' || cls === 'opaque' || cls === 'unknown') {
      // Their sub-element layout differs (no dimensions/name in opaque); do not parse further.
      return { kind: 'unsupported', class: cls, name: '', dims: [], global };
    }
    const dimsEl = this.element(flags.next, true);
    const dims = this.int32s(dimsEl.type, dimsEl.data, flags.next, 'dimensions');
    if (dims.length < 2 || dims.some((d) => d < 0)) this.fail(`bad dimensions [${dims.join(', ')}]`, flags.next);
    const nameEl = this.element(dimsEl.next, true);
    if (nameEl.type !== MI.INT8 && nameEl.type !== MI.UINT8 && nameEl.type !== MI.UTF8) this.fail('array name must be miINT8', dimsEl.next);
    const name = Buffer.from(nameEl.data).toString('latin1');
    const count = dims.reduce((a, b) => a * b, 1);
    let pos = nameEl.next;
    const base = { name, dims, global };
    switch (cls) {
      case 'char': {
        const el = this.element(pos, true);
        const s = this.text(el.type, el.data, pos);
        // UTF-16 data holds one unit per element; UTF-8/32 data one code point per element.
        const units = s.length === count ? s.split('') : [...s];
        if (units.length !== count) this.fail(`char array ${name} of ${count} characters holds ${units.length}`, pos);
        const rows = dims.length === 2 ? dims[0] : 1;
        const cols = rows === 0 ? 0 : count / rows;
        const out: string[] = [];
        for (let r = 0; r < rows; r++) {
          let line = '';
          for (let c = 0; c < cols; c++) line += units[c * rows + r];
          out.push(line);
        }
        return { kind: 'char', ...base, rows: out };
      }
      case 'cell': {
        const cells: MatArray[] = [];
        for (let i = 0; i < count; i++) {
          const el = this.element(pos, true);
          if (el.type !== MI.MATRIX) this.fail(`cell ${i} of ${name} is not a miMATRIX`, pos);
          cells.push(this.matrix(el.dataAt, el.dataAt + el.data.length, depth + 1));
          pos = el.next;
        }
        return { kind: 'cell', ...base, cells };
      }
      case 'struct':
      case 'object': {
        if (cls === 'object') {
          const cn = this.element(pos, true); // class name
          pos = cn.next;
        }
        const lenEl = this.element(pos, true);
        const [fieldLen] = this.int32s(lenEl.type, lenEl.data, pos, 'field name length');
        const namesEl = this.element(lenEl.next, true);
        pos = namesEl.next;
        if (!(fieldLen > 0) || namesEl.data.length % fieldLen !== 0) this.fail(`bad struct field names in ${name}`, lenEl.next);
        const fields: string[] = [];
        for (let i = 0; i < namesEl.data.length; i += fieldLen) {
          const raw = namesEl.data.subarray(i, i + fieldLen);
          const z = raw.indexOf(0);
          fields.push(Buffer.from(z < 0 ? raw : raw.subarray(0, z)).toString('latin1'));
        }
        const elements: Array<Record<string, MatArray>> = [];
        for (let e = 0; e < count; e++) {
          const rec: Record<string, MatArray> = {};
          for (const f of fields) {
            const el = this.element(pos, true);
            if (el.type !== MI.MATRIX) this.fail(`field ${f} of ${name} is not a miMATRIX`, pos);
            rec[f] = { ...this.matrix(el.dataAt, el.dataAt + el.data.length, depth + 1), name: f };
            pos = el.next;
          }
          elements.push(rec);
        }
        if (cls === 'object') return { kind: 'unsupported', class: 'object', ...base };
        return { kind: 'struct', ...base, fields, elements };
      }
      case 'sparse':
        return { kind: 'unsupported', class: 'sparse', ...base };
      default: {
        const re = this.element(pos, true);
        const real = this.numbers(re.type, re.data, pos);
        if (real.length !== count) this.fail(`${cls} array ${name || '(unnamed)'} of dimensions [${dims.join('x')}] holds ${real.length} values, expected ${count}`, pos);
        const out: MatNumeric = { kind: 'numeric', ...base, class: cls, logical, real, storedType: MI_NAMES[re.type] };
        if (complex) {
          const im = this.element(re.next, true);
          const imag = this.numbers(im.type, im.data, re.next);
          if (imag.length !== count) this.fail(`imaginary part of ${name} holds ${imag.length} values, expected ${count}`, re.next);
          out.imag = imag;
        }
        return out;
      }
    }
  }
}

function inflate(data: Uint8Array, source: string, at: number): Uint8Array {
  try {
    return zlib.inflateSync(data);
  } catch {
    try {
      // Some writers end the stream without the final block or checksum; take what is there.
      return zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new MatError(`${source}: compressed element at byte ${at} is corrupt (${(e as Error).message})`);
    }
  }
}

/** Parses a whole MAT-file held in memory. `source` names it in errors. */
export function parseMat(bytes: Uint8Array, source = '<mat>'): MatFile {
  if (bytes.length < 128) throw new MatError(`${source} is not a MATLAB 5 MAT-file: ${bytes.length} bytes is shorter than the 128-byte header`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, 116).toString('latin1');
  const indicator = String.fromCharCode(bytes[126], bytes[127]);
  if (/^MATLAB 7\.3/.test(text) || (bytes[124] === 0x02 && bytes[125] === 0x00) || (bytes[124] === 0x00 && bytes[125] === 0x02)) {
    throw new MatError(`${source} is a MATLAB 7.3 (HDF5) file, which is not supported (fix: re-save it in MATLAB with save(..., '-v7'))`);
  }
  if (indicator !== 'IM' && indicator !== 'MI') {
    throw new MatError(`${source} is not a MATLAB 5 MAT-file (no IM/MI endian indicator in the header; v4 MAT-files are not supported)`);
  }
  const le = indicator === 'IM';
  const version = new DataView(bytes.buffer, bytes.byteOffset + 124, 2).getUint16(0, le);
  if (version !== 0x0100) throw new MatError(`${source}: unsupported MAT-file version 0x${version.toString(16)} (expected 0x0100)`);
  const variables = new Map<string, MatArray>();
  const top = new Reader(bytes, le, source, 0, source);
  let pos = 128;
  while (pos + 8 <= bytes.length) {
    const el = top.element(pos, false);
    let v: MatArray;
    if (el.type === MI.COMPRESSED) {
      const inner = new Reader(inflate(el.data, source, pos), le, source, -1, `the compressed element at byte ${pos}`);
      const m = inner.element(0, false);
      if (m.type !== MI.MATRIX) inner.fail(`compressed element holds ${MI_NAMES[m.type] ?? `type ${m.type}`}, expected miMATRIX`, 0);
      v = inner.matrix(m.dataAt, m.dataAt + m.data.length, 0);
    } else if (el.type === MI.MATRIX) {
      v = top.matrix(el.dataAt, el.dataAt + el.data.length, 0);
    } else {
      v = top.fail(`top-level element is ${MI_NAMES[el.type] ?? `type ${el.type}`}, expected miMATRIX or miCOMPRESSED`, pos);
    }
    if (v.name !== '') variables.set(v.name, v);
    pos = el.next;
  }
  return { header: text.replace(/[\s\0]+$/, ''), endian: le ? 'little' : 'big', variables };
}

/** Reads and parses a MAT-file. */
export function readMatFile(file: string): MatFile {
  let bytes: Buffer;
  try {
    bytes = readFileBoundedSync(file, MAX_MAT_FILE_BYTES, (m) => new MatError(m));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MatError(`${file} does not exist`);
    throw e;
  }
  return parseMat(bytes, file);
}

/**
 * A named real numeric variable that is a vector (1xN, Nx1 or N), as float64 values. Errors name
 * the file and say what was found instead.
 */
export function matVector(mat: MatFile, name: string, source: string): Float64Array {
  const v = mat.variables.get(name);
  if (!v) {
    const have = [...mat.variables.keys()];
    throw new MatError(`${source} has no variable ${JSON.stringify(name)} (it has ${have.length ? have.map((n) => JSON.stringify(n)).join(', ') : 'none'})`);
  }
  if (v.kind !== 'numeric') throw new MatError(`${source}: variable ${name} is ${v.kind === 'unsupported' ? `a ${v.class} array` : `a ${v.kind} array`}, expected a numeric vector`);
  if (v.imag) throw new MatError(`${source}: variable ${name} is complex, expected a real vector`);
  const nonUnit = v.dims.filter((d) => d !== 1);
  if (nonUnit.length > 1) throw new MatError(`${source}: variable ${name} has dimensions ${v.dims.join('x')}, expected a vector`);
  return v.real;
}
