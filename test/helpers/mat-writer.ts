/**
 * Writes MATLAB Level 5 MAT-files the way MATLAB does: a 128-byte header with the `IM`/`MI` endian
 * indicator, one miMATRIX per variable (array flags, dimensions, name, data), 8-byte padding,
 * the small data element form for names and data of at most 4 bytes, and with `compress` each
 * variable wrapped in a zlib miCOMPRESSED element (the v7 default). Numeric data can be stored in
 * a narrower type than the declared class, as MATLAB does (`double` labels stored as miUINT8).
 */
import * as zlib from 'zlib';

export type StoredType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'single' | 'double' | 'int64' | 'uint64';
type NumericClass = StoredType;

const MI: Record<StoredType | 'matrix' | 'compressed' | 'utf8' | 'utf16', number> = {
  int8: 1, uint8: 2, int16: 3, uint16: 4, int32: 5, uint32: 6, single: 7, double: 9, int64: 12, uint64: 13,
  matrix: 14, compressed: 15, utf8: 16, utf16: 17,
};
const CLASS_CODE: Record<NumericClass | 'cell' | 'struct' | 'char' | 'sparse', number> = {
  cell: 1, struct: 2, char: 4, sparse: 5, double: 6, single: 7, int8: 8, uint8: 9, int16: 10, uint16: 11, int32: 12, uint32: 13, int64: 14, uint64: 15,
};
const SIZE: Record<StoredType, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, single: 4, double: 8, int64: 8, uint64: 8 };

export type MatValue =
  | { kind?: 'numeric'; class?: NumericClass; stored?: StoredType; dims?: number[]; values: number[]; imag?: number[]; logical?: boolean; global?: boolean }
  | { kind: 'char'; text: string; stored?: 'utf16' | 'utf8' }
  | { kind: 'cell'; dims?: number[]; cells: MatValue[] }
  | { kind: 'struct'; fields: Record<string, MatValue> }
  | { kind: 'sparse'; rows: number; cols: number };

export interface MatVariable {
  name: string;
  value: MatValue;
}

export interface MatWriteOptions {
  /** Wrap every variable in a miCOMPRESSED element (MATLAB's -v7 default). */
  compress?: boolean;
  endian?: 'little' | 'big';
  /** Header text (default like MATLAB's). */
  header?: string;
}

class Out {
  parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }
  /** A padded element, in the small form when it fits in 4 bytes (and `small` is allowed). */
  element(type: number, data: Buffer, small = true): Buffer {
    if (small && data.length <= 4 && data.length > 0) {
      const b = Buffer.alloc(8);
      const word = ((data.length << 16) | type) >>> 0;
      if (this.le) b.writeUInt32LE(word);
      else b.writeUInt32BE(word);
      data.copy(b, 4);
      return b;
    }
    const pad = (8 - (data.length % 8)) % 8;
    return Buffer.concat([this.u32(type), this.u32(data.length), data, Buffer.alloc(pad)]);
  }
  numbers(type: StoredType, values: number[]): Buffer {
    const size = SIZE[type];
    const b = Buffer.alloc(values.length * size);
    values.forEach((v, i) => {
      const o = i * size;
      const le = this.le;
      switch (type) {
        case 'int8':
          b.writeInt8(v, o);
          break;
        case 'uint8':
          b.writeUInt8(v, o);
          break;
        case 'int16':
          le ? b.writeInt16LE(v, o) : b.writeInt16BE(v, o);
          break;
        case 'uint16':
          le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o);
          break;
        case 'int32':
          le ? b.writeInt32LE(v, o) : b.writeInt32BE(v, o);
          break;
        case 'uint32':
          le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o);
          break;
        case 'single':
          le ? b.writeFloatLE(v, o) : b.writeFloatBE(v, o);
          break;
        case 'double':
          le ? b.writeDoubleLE(v, o) : b.writeDoubleBE(v, o);
          break;
        case 'int64':
          le ? b.writeBigInt64LE(BigInt(v), o) : b.writeBigInt64BE(BigInt(v), o);
          break;
        case 'uint64':
          le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o);
          break;
      }
    });
    return b;
  }
}

function flags(out: Out, classCode: number, bits: { complex?: boolean; global?: boolean; logical?: boolean } = {}): Buffer {
  let word = classCode;
  if (bits.complex) word |= 0x800;
  if (bits.global) word |= 0x400;
  if (bits.logical) word |= 0x200;
  return out.element(MI.uint32, Buffer.concat([out.u32(word), out.u32(0)]), false);
}

function dimsEl(out: Out, dims: number[]): Buffer {
  return out.element(MI.int32, out.numbers('int32', dims), false);
}

function nameEl(out: Out, name: string): Buffer {
  const b = Buffer.from(name, 'latin1');
  if (b.length === 0) return Buffer.concat([out.u32(MI.int8), out.u32(0)]);
  return out.element(MI.int8, b);
}

/** The miMATRIX element (tag included) for a value. */
function matrix(out: Out, name: string, v: MatValue): Buffer {
  let body: Buffer[];
  if (v.kind === 'char') {
    const chars = [...v.text];
    const data = v.stored === 'utf8' ? Buffer.from(v.text, 'utf8') : out.numbers('uint16', chars.map((c) => c.charCodeAt(0)));
    body = [flags(out, CLASS_CODE.char), dimsEl(out, [1, chars.length]), nameEl(out, name), out.element(v.stored === 'utf8' ? MI.utf8 : MI.uint16, data)];
  } else if (v.kind === 'cell') {
    const dims = v.dims ?? [1, v.cells.length];
    body = [flags(out, CLASS_CODE.cell), dimsEl(out, dims), nameEl(out, name), ...v.cells.map((c) => matrix(out, '', c))];
  } else if (v.kind === 'struct') {
    const names = Object.keys(v.fields);
    const len = Math.max(...names.map((n) => n.length)) + 1;
    const nameBytes = Buffer.alloc(len * names.length);
    names.forEach((n, i) => nameBytes.write(n, i * len, 'latin1'));
    body = [
      flags(out, CLASS_CODE.struct),
      dimsEl(out, [1, 1]),
      nameEl(out, name),
      out.element(MI.int32, out.numbers('int32', [len])),
      out.element(MI.int8, nameBytes, false),
      ...names.map((n) => matrix(out, '', v.fields[n])),
    ];
  } else if (v.kind === 'sparse') {
    body = [flags(out, CLASS_CODE.sparse), dimsEl(out, [v.rows, v.cols]), nameEl(out, name), out.element(MI.int32, Buffer.alloc(0), false), out.element(MI.int32, out.numbers('int32', new Array(v.cols + 1).fill(0)), false), out.element(MI.double, Buffer.alloc(0), false)];
  } else {
    const cls = v.class ?? 'double';
    const stored = v.stored ?? cls;
    const dims = v.dims ?? [1, v.values.length];
    body = [flags(out, CLASS_CODE[cls], { complex: v.imag !== undefined, global: v.global, logical: v.logical }), dimsEl(out, dims), nameEl(out, name), out.element(MI[stored], out.numbers(stored, v.values))];
    if (v.imag) body.push(out.element(MI[stored], out.numbers(stored, v.imag)));
  }
  const data = Buffer.concat(body);
  return Buffer.concat([out.u32(MI.matrix), out.u32(data.length), data]);
}

/** A 128-byte MAT-file header. */
export function matHeader(opts: MatWriteOptions = {}): Buffer {
  const le = (opts.endian ?? 'little') === 'little';
  const h = Buffer.alloc(128, 0x20);
  const text = opts.header ?? 'MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024';
  h.write(text.slice(0, 116), 0, 'latin1');
  h.fill(0, 116, 124); // subsystem data offset: none
  if (le) {
    h.writeUInt16LE(0x0100, 124);
    h.write('IM', 126, 'latin1');
  } else {
    h.writeUInt16BE(0x0100, 124);
    h.write('MI', 126, 'latin1');
  }
  return h;
}

/** Builds a MAT-file in memory. */
export function writeMat(vars: MatVariable[], opts: MatWriteOptions = {}): Buffer {
  const out = new Out((opts.endian ?? 'little') === 'little');
  const parts: Buffer[] = [matHeader(opts)];
  for (const v of vars) {
    const m = matrix(out, v.name, v.value);
    if (opts.compress) {
      const z = zlib.deflateSync(m);
      parts.push(out.u32(MI.compressed), out.u32(z.length), z);
    } else parts.push(m);
  }
  return Buffer.concat(parts);
}
