/**
 * Test helpers that write pickles, zip archives and torch.save files byte by byte, the way
 * CPython's pickler (protocol 2) and PyTorch's zip writer do, so the tests need no Python.
 */
import * as zlib from 'zlib';
import { crc32 } from '../../src/io/zip';

/** A pickle value description. Plain JS values map to Python values; the tagged objects build the rest. */
export type PVal =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PVal[]
  | Map<PVal, PVal>
  | { $tuple: PVal[] }
  | { $float: number }
  | { $global: string }
  | { $reduce: [PVal, PVal[]] }
  | { $newobj: [PVal, PVal[]] }
  | { $build: [PVal, PVal] }
  | { $setitems: [PVal, Map<PVal, PVal>] }
  | { $persid: PVal }
  | { $py2str: string }
  | { $raw: number[] };

export interface PickleWriteOptions {
  protocol?: number;
  /** Memoise globals and strings with BINPUT/BINGET (as CPython does). Default true. */
  memo?: boolean;
  /** Write globals as STACK_GLOBAL (protocol 4) instead of GLOBAL. */
  stackGlobal?: boolean;
}

export function pickle(value: PVal, opts: PickleWriteOptions = {}): Uint8Array {
  const out: number[] = [];
  const protocol = opts.protocol ?? 2;
  const useMemo = opts.memo ?? true;
  const memo = new Map<string, number>();
  const u32 = (n: number): void => {
    out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  };
  const put = (key: string | undefined): void => {
    if (!useMemo || key === undefined) return;
    const i = memo.size;
    memo.set(key, i);
    if (i < 256) out.push(0x71, i);
    else {
      out.push(0x72);
      u32(i);
    }
  };
  const get = (key: string): boolean => {
    if (!useMemo) return false;
    const i = memo.get(key);
    if (i === undefined) return false;
    if (i < 256) out.push(0x68, i);
    else {
      out.push(0x6a);
      u32(i);
    }
    return true;
  };
  const str = (s: string): void => {
    if (get(`s:${s}`)) return;
    const b = Buffer.from(s, 'utf8');
    if (protocol >= 4 && b.length < 256) out.push(0x8c, b.length);
    else {
      out.push(0x58);
      u32(b.length);
    }
    out.push(...b);
    put(`s:${s}`);
  };
  const int = (n: number | bigint): void => {
    if (typeof n === 'number' && n >= 0 && n < 256) out.push(0x4b, n);
    else if (typeof n === 'number' && n >= 0 && n < 65536) out.push(0x4d, n & 0xff, n >> 8);
    else if (typeof n === 'number' && n >= -(2 ** 31) && n < 2 ** 31) {
      out.push(0x4a);
      u32(n >>> 0);
    } else {
      let v = BigInt(n);
      const bytes: number[] = [];
      while (true) {
        const byte = Number(v & 0xffn);
        bytes.push(byte);
        v >>= 8n;
        if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
      }
      out.push(0x8a, bytes.length, ...bytes);
    }
  };
  const write = (v: PVal): void => {
    if (v === null) out.push(0x4e);
    else if (v === true) out.push(0x88);
    else if (v === false) out.push(0x89);
    else if (typeof v === 'number') {
      if (Number.isInteger(v)) int(v);
      else write({ $float: v });
    } else if (typeof v === 'bigint') int(v);
    else if (typeof v === 'string') str(v);
    else if (v instanceof Uint8Array) {
      if (protocol >= 3) {
        if (v.length < 256) out.push(0x43, v.length);
        else {
          out.push(0x42);
          u32(v.length);
        }
        out.push(...v);
      } else {
        // Python 3 bytes at protocol 2: _codecs.encode(latin-1 str, 'latin1')
        write({ $reduce: [{ $global: '_codecs.encode' }, [Buffer.from(v).toString('latin1'), 'latin1']] });
      }
    } else if (Array.isArray(v)) {
      out.push(0x5d);
      put(undefined);
      if (v.length > 0) {
        out.push(0x28);
        for (const x of v) write(x);
        out.push(0x65);
      }
    } else if (v instanceof Map) {
      out.push(0x7d);
      if (v.size > 0) {
        out.push(0x28);
        for (const [k, x] of v) {
          write(k);
          write(x);
        }
        out.push(0x75);
      }
    } else if ('$tuple' in v) {
      const t = v.$tuple;
      if (t.length === 0) out.push(0x29);
      else if (t.length <= 3) {
        for (const x of t) write(x);
        out.push([0x85, 0x86, 0x87][t.length - 1]);
      } else {
        out.push(0x28);
        for (const x of t) write(x);
        out.push(0x74);
      }
    } else if ('$float' in v) {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v.$float);
      out.push(0x47, ...b);
    } else if ('$global' in v) {
      if (get(`g:${v.$global}`)) return;
      const i = v.$global.lastIndexOf('.');
      const [mod, name] = [v.$global.slice(0, i), v.$global.slice(i + 1)];
      if (opts.stackGlobal) {
        str(mod);
        str(name);
        out.push(0x93);
      } else {
        out.push(0x63, ...Buffer.from(`${mod}\n${name}\n`, 'latin1'));
      }
      put(`g:${v.$global}`);
    } else if ('$reduce' in v) {
      write(v.$reduce[0]);
      write({ $tuple: v.$reduce[1] });
      out.push(0x52);
    } else if ('$newobj' in v) {
      write(v.$newobj[0]);
      write({ $tuple: v.$newobj[1] });
      out.push(0x81);
    } else if ('$build' in v) {
      write(v.$build[0]);
      write(v.$build[1]);
      out.push(0x62);
    } else if ('$setitems' in v) {
      write(v.$setitems[0]);
      if (v.$setitems[1].size > 0) {
        out.push(0x28);
        for (const [k, x] of v.$setitems[1]) {
          write(k);
          write(x);
        }
        out.push(0x75);
      }
    } else if ('$persid' in v) {
      write(v.$persid);
      out.push(0x51);
    } else if ('$py2str' in v) {
      const b = Buffer.from(v.$py2str, 'latin1');
      if (b.length < 256) out.push(0x55, b.length);
      else {
        out.push(0x54);
        u32(b.length);
      }
      out.push(...b);
    } else if ('$raw' in v) {
      out.push(...v.$raw);
    }
  };
  out.push(0x80, protocol);
  write(value);
  out.push(0x2e);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// zip

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
  /** Deflate instead of store. */
  deflate?: boolean;
}

export interface ZipWriteOptions {
  /** Align stored data to this many bytes with a padding extra field (PyTorch: 64). */
  align?: number;
  /** Write zip64 records (sizes and offsets in zip64 extra fields, zip64 end records). */
  zip64?: boolean;
  comment?: string;
}

export function writeZip(files: ZipFileSpec[], opts: ZipWriteOptions = {}): Uint8Array {
  const chunks: Buffer[] = [];
  let offset = 0;
  const central: Buffer[] = [];
  const push = (b: Buffer): void => {
    chunks.push(b);
    offset += b.length;
  };
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const body = f.deflate ? zlib.deflateRawSync(f.data) : Buffer.from(f.data);
    const crc = crc32(f.data);
    const headerOffset = offset;
    let extra = Buffer.alloc(0);
    if (opts.zip64) {
      extra = Buffer.alloc(20);
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(f.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
    }
    if (opts.align) {
      const base = offset + 30 + name.length + extra.length;
      const pad = (opts.align - ((base + 4) % opts.align)) % opts.align;
      const padField = Buffer.alloc(4 + pad);
      padField.writeUInt16LE(0x4246, 0); // 'FB', as PyTorch writes it
      padField.writeUInt16LE(pad, 2);
      padField.fill(0x5a, 4);
      extra = Buffer.concat([extra, padField]);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(f.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(opts.zip64 ? 0xffffffff : body.length, 18);
    local.writeUInt32LE(opts.zip64 ? 0xffffffff : f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    push(Buffer.concat([local, name, extra]));
    push(body);
    let cextra = Buffer.alloc(0);
    if (opts.zip64) {
      cextra = Buffer.alloc(28);
      cextra.writeUInt16LE(1, 0);
      cextra.writeUInt16LE(24, 2);
      cextra.writeBigUInt64LE(BigInt(f.data.length), 4);
      cextra.writeBigUInt64LE(BigInt(body.length), 12);
      cextra.writeBigUInt64LE(BigInt(headerOffset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    c.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    c.writeUInt16LE(f.deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : body.length, 20);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : f.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(cextra.length, 30);
    c.writeUInt32LE(opts.zip64 ? 0xffffffff : headerOffset, 42);
    central.push(Buffer.concat([c, name, cextra]));
  }
  const cdStart = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdStart;
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(files.length), 24);
    z.writeBigUInt64LE(BigInt(files.length), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdStart), 48);
    const zOff = offset;
    push(z);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(zOff), 8);
    loc.writeUInt32LE(1, 16);
    push(loc);
  }
  const comment = Buffer.from(opts.comment ?? '', 'utf8');
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(opts.zip64 ? 0xffff : files.length, 8);
  e.writeUInt16LE(opts.zip64 ? 0xffff : files.length, 10);
  e.writeUInt32LE(opts.zip64 ? 0xffffffff : cdSize, 12);
  e.writeUInt32LE(opts.zip64 ? 0xffffffff : cdStart, 16);
  e.writeUInt16LE(comment.length, 20);
  push(Buffer.concat([e, comment]));
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.length);
}

// ---------------------------------------------------------------------------------------------
// torch.save

export type TorchWriteDType = 'F32' | 'F16' | 'BF16' | 'I64' | 'F64';

export interface TorchTensorSpec {
  shape: number[];
  /** Values in logical (C) order. */
  values: ArrayLike<number> | BigInt64Array;
  dtype?: TorchWriteDType;
  /** Write the data transposed in storage (last two dims swapped) with strides that undo it. */
  transposedStorage?: boolean;
  /** Extra unused elements before the data (storage offset). */
  storageOffset?: number;
  /** Share a storage with another tensor: its key. */
  storageKey?: string;
}

const STORAGE_NAME: Record<TorchWriteDType, string> = {
  F32: 'torch.FloatStorage',
  F16: 'torch.HalfStorage',
  BF16: 'torch.BFloat16Storage',
  I64: 'torch.LongStorage',
  F64: 'torch.DoubleStorage',
};

function floatToHalf(f: number): number {
  const b = Buffer.alloc(4);
  b.writeFloatLE(f);
  const x = b.readUInt32LE(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >> shift;
    if ((mant >> (shift - 1)) & 1) h++;
    return sign | h;
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >> 13);
  if (mant & 0x1000) h++;
  return h;
}

function encodeStorage(values: number[] | bigint[], dtype: TorchWriteDType): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'F32':
      return new Uint8Array(Float32Array.from(values as number[]).buffer);
    case 'F64':
      return new Uint8Array(Float64Array.from(values as number[]).buffer);
    case 'I64':
      return new Uint8Array(BigInt64Array.from((values as (number | bigint)[]).map((v) => BigInt(v))).buffer);
    case 'F16': {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = floatToHalf(values[i] as number);
      return new Uint8Array(h.buffer);
    }
    case 'BF16': {
      const f = Float32Array.from(values as number[]);
      const u = new Uint32Array(f.buffer);
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = u[i] >>> 16; // truncation (exact for values that fit)
      return new Uint8Array(h.buffer);
    }
  }
}

/** A tensor node for {@link torchPickle}: `_rebuild_tensor_v2(persid, offset, size, stride, False, OrderedDict())`. */
export function torchTensorNode(key: string, spec: TorchTensorSpec, numel: number): PVal {
  const dtype = spec.dtype ?? 'F32';
  const shape = spec.shape;
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d];
  }
  if (spec.transposedStorage && shape.length >= 2) {
    const r = shape.length;
    // Storage holds the tensor with the last two dims swapped, contiguous.
    const sw = shape.slice();
    [sw[r - 2], sw[r - 1]] = [sw[r - 1], sw[r - 2]];
    let t = 1;
    const st = new Array<number>(r);
    for (let d = r - 1; d >= 0; d--) {
      st[d] = t;
      t *= sw[d];
    }
    [st[r - 2], st[r - 1]] = [st[r - 1], st[r - 2]];
    for (let d = 0; d < r; d++) stride[d] = st[d];
  }
  return {
    $reduce: [
      { $global: 'torch._utils._rebuild_tensor_v2' },
      [
        { $persid: { $tuple: ['storage', { $global: STORAGE_NAME[dtype] }, key, 'cpu', numel] } },
        spec.storageOffset ?? 0,
        { $tuple: shape },
        { $tuple: stride },
        false,
        { $reduce: [{ $global: 'collections.OrderedDict' }, []] },
      ],
    ],
  };
}

function storageValues(spec: TorchTensorSpec): number[] | bigint[] {
  const vals = Array.from(spec.values as ArrayLike<number | bigint>) as number[];
  let ordered = vals;
  if (spec.transposedStorage && spec.shape.length >= 2) {
    const r = spec.shape.length;
    const rows = spec.shape[r - 2];
    const cols = spec.shape[r - 1];
    const batch = vals.length / (rows * cols);
    ordered = new Array<number>(vals.length);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) ordered[b * rows * cols + j * rows + i] = vals[b * rows * cols + i * cols + j];
    }
  }
  const pad = new Array<number>(spec.storageOffset ?? 0).fill(spec.dtype === 'I64' ? 0 : 0);
  return [...pad, ...ordered];
}

export interface TorchSaveOptions {
  /** The root directory name inside the zip (torch uses "archive" since 1.13, the file stem before). */
  root?: string;
  /** Wrap the state dict: e.g. (sd) => Map{state_dict: sd, epoch: 3}. */
  wrap?: (stateDict: PVal) => PVal;
  /** Add the `_metadata` attribute torch attaches to state dicts (via BUILD). Default true. */
  metadata?: boolean;
  protocol?: number;
  /** Corrupt things for error tests. */
  dropStorage?: string;
  truncateStorage?: string;
}

/**
 * Bytes of `torch.save(state_dict)` (an OrderedDict of tensors, protocol 2, the zip format with
 * stored, 64-byte-aligned entries).
 */
export function torchSave(tensors: Map<string, TorchTensorSpec>, opts: TorchSaveOptions = {}): Uint8Array {
  const root = opts.root ?? 'archive';
  const storages = new Map<string, Uint8Array>();
  const items = new Map<PVal, PVal>();
  let next = 0;
  for (const [name, spec] of tensors) {
    const vals = storageValues(spec);
    const key = spec.storageKey ?? String(next++);
    if (!storages.has(key)) storages.set(key, encodeStorage(vals, spec.dtype ?? 'F32'));
    const numel = storages.get(key)!.length / ({ F32: 4, F64: 8, I64: 8, F16: 2, BF16: 2 } as const)[spec.dtype ?? 'F32'];
    items.set(name, torchTensorNode(key, spec, numel));
  }
  // As CPython pickles OrderedDict.__reduce__: OrderedDict(), SETITEMS of the items, BUILD with vars().
  const od: PVal = { $setitems: [{ $reduce: [{ $global: 'collections.OrderedDict' }, []] }, items] };
  const meta = new Map<PVal, PVal>([['_metadata', { $setitems: [{ $reduce: [{ $global: 'collections.OrderedDict' }, []] }, new Map<PVal, PVal>([['', new Map<PVal, PVal>([['version', 1]])]])] }]]);
  const sd: PVal = opts.metadata === false ? od : { $build: [od, meta] };
  const value = opts.wrap ? opts.wrap(sd) : sd;
  const pkl = pickle(value, { protocol: opts.protocol ?? 2 });
  const files: ZipFileSpec[] = [{ name: `${root}/data.pkl`, data: pkl }];
  for (const [key, bytes] of storages) {
    if (key === opts.dropStorage) continue;
    files.push({ name: `${root}/data/${key}`, data: key === opts.truncateStorage ? bytes.subarray(0, bytes.length - 4) : bytes });
  }
  files.push({ name: `${root}/version`, data: Buffer.from('3\n') });
  return writeZip(files, { align: 64 });
}
