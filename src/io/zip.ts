/**
 * A small read-only ZIP reader: the central directory, stored (method 0) and deflated (method 8)
 * entries, and zip64 sizes and offsets. Enough for PyTorch's `torch.save` archives (stored
 * entries, 64-byte aligned data) and ordinary zips.
 *
 * Reads are random access: only the central directory is read up front and each entry is read
 * when asked for, so a 600 MB `pytorch_model.bin` is never read twice. Every size in the file is
 * checked against the real file size before anything is allocated. Every problem is a
 * {@link ZipError} whose message starts with the file name.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { BadInputError } from '../errors';
import { requireRegularFileSync } from './bounded-read';
import { oneLine } from './one-line';

export class ZipError extends BadInputError {
  /** The file (or a description of the in-memory source). */
  readonly source: string;
  readonly reason: string;

  constructor(source: string, reason: string) {
    super(oneLine(`${source}: invalid zip archive: ${reason}`), 'E_ZIP');
    this.name = 'ZipError';
    this.source = source;
    this.reason = reason;
  }
}

/** One central-directory entry. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** Offset of the entry's local file header. */
  localHeaderOffset: number;
  /** True for directory entries (name ends with '/'). */
  isDirectory: boolean;
}

/** Random access to the bytes of a file or a buffer. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (the caller checks the range). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, offset + length),
    close: () => undefined,
  };
}

export function fileSource(file: string): ByteSource {
  const fd = fs.openSync(file, 'r');
  const size = fs.fstatSync(fd).size;
  let open = true;
  return {
    size,
    read(offset, length) {
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new Error(`${file}: unexpected end of file`);
        done += n;
      }
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Deflate's largest possible expansion (258-byte matches in 2-bit codes: ~1032:1). */
const MAX_DEFLATE_RATIO = 1032;

let CRC_TABLE: Uint32Array | undefined;

/** CRC-32 (IEEE), as stored in zip headers. */
export function crc32(bytes: Uint8Array, start = 0): number {
  if (CRC_TABLE === undefined) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = ~start >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(view: DataView, off: number, what: string, source: string): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(source, `${what} ${v} is too large`);
  return Number(v);
}

export class ZipArchive {
  readonly source: string;
  /** Entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  private readonly bytes: ByteSource;

  private constructor(source: string, bytes: ByteSource, entries: Map<string, ZipEntry>) {
    this.source = source;
    this.bytes = bytes;
    this.entries = entries;
  }

  /** Opens a zip file for random access; call close() when done. */
  static open(file: string): ZipArchive {
    requireRegularFileSync(file, (m) => new ZipError(file, m.slice(file.length + 1)));
    const src = fileSource(file);
    try {
      return ZipArchive.fromSource(src, file);
    } catch (err) {
      src.close();
      throw err;
    }
  }

  /** Reads a zip held in memory. */
  static fromBytes(bytes: Uint8Array, source = '<zip bytes>'): ZipArchive {
    // A plain Uint8Array view (a Buffer's subarray/slice would share memory in surprising ways).
    return ZipArchive.fromSource(bufferSource(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)), source);
  }

  static fromSource(src: ByteSource, source: string): ZipArchive {
    return new ZipArchive(source, src, readCentralDirectory(src, source));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Byte offset of an entry's data inside the archive (after its local header). */
  dataOffset(name: string): number {
    const e = this.entry(name);
    return this.locateData(e);
  }

  /** The declared uncompressed size of an entry (checked against the data when it is read). */
  size(name: string): number {
    return this.entry(name).uncompressedSize;
  }

  /**
   * The uncompressed bytes of an entry, CRC-checked. `maxBytes` refuses an entry that declares
   * more, before anything is read or inflated.
   */
  read(name: string, opts: { maxBytes?: number } = {}): Uint8Array {
    const e = this.entry(name);
    if (opts.maxBytes !== undefined && e.uncompressedSize > opts.maxBytes) {
      throw new ZipError(this.source, `entry ${name} declares ${e.uncompressedSize} bytes, more than the ${opts.maxBytes} allowed for it`);
    }
    const start = this.locateData(e);
    const raw = this.bytes.read(start, e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.uncompressedSize) {
        throw new ZipError(this.source, `stored entry ${name} has compressed size ${e.compressedSize} but uncompressed size ${e.uncompressedSize}`);
      }
      out = raw;
    } else if (e.method === 8) {
      try {
        const buf = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
        out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
      } catch (err) {
        throw new ZipError(this.source, `entry ${name}: corrupt deflate data (${(err as Error).message})`);
      }
      if (out.length !== e.uncompressedSize) {
        throw new ZipError(this.source, `entry ${name}: inflated to ${out.length} bytes, expected ${e.uncompressedSize}`);
      }
    } else {
      throw new ZipError(this.source, `entry ${name} uses compression method ${e.method} (only stored and deflate are supported)`);
    }
    const c = crc32(out);
    if (c !== e.crc32) throw new ZipError(this.source, `entry ${name}: CRC-32 mismatch (file says ${hex(e.crc32)}, data has ${hex(c)}); the file is corrupt`);
    return out;
  }

  close(): void {
    this.bytes.close();
  }

  private entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (e === undefined) throw new ZipError(this.source, `no entry named ${name}`);
    return e;
  }

  private locateData(e: ZipEntry): number {
    const size = this.bytes.size;
    if (e.localHeaderOffset + 30 > size) throw new ZipError(this.source, `local header of ${e.name} lies beyond the end of the file (truncated?)`);
    const h = dv(this.bytes.read(e.localHeaderOffset, 30));
    if (h.getUint32(0, true) !== SIG_LOCAL) throw new ZipError(this.source, `bad local header signature for ${e.name}`);
    const start = e.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    if (start + e.compressedSize > size) {
      throw new ZipError(this.source, `entry ${e.name} needs bytes up to ${start + e.compressedSize} but the file has ${size} (truncated?)`);
    }
    return start;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function findEocd(src: ByteSource, source: string): number {
  const size = src.size;
  if (size < EOCD_SIZE) throw new ZipError(source, `file is ${size} bytes, too small to be a zip archive`);
  const tailLen = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = size - tailLen;
  const tail = src.read(tailStart, tailLen);
  const view = dv(tail);
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) === SIG_EOCD) {
      const commentLen = view.getUint16(i + 20, true);
      if (i + EOCD_SIZE + commentLen <= tailLen) return tailStart + i;
    }
  }
  throw new ZipError(source, 'no end-of-central-directory record (not a zip file, or truncated)');
}

function readCentralDirectory(src: ByteSource, source: string): Map<string, ZipEntry> {
  const size = src.size;
  const eocdOff = findEocd(src, source);
  const eocd = dv(src.read(eocdOff, EOCD_SIZE));
  if (eocd.getUint16(4, true) !== 0 || eocd.getUint16(6, true) !== 0) throw new ZipError(source, 'multi-disk archives are not supported');
  let count = eocd.getUint16(10, true);
  let cdSize = eocd.getUint32(12, true);
  let cdOff = eocd.getUint32(16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOff === 0xffffffff) {
    if (eocdOff < 20) throw new ZipError(source, 'zip64 end-of-central-directory locator is missing');
    const loc = dv(src.read(eocdOff - 20, 20));
    if (loc.getUint32(0, true) !== SIG_ZIP64_LOCATOR) throw new ZipError(source, 'zip64 end-of-central-directory locator is missing');
    const z64Off = u64(loc, 8, 'zip64 record offset', source);
    if (z64Off + 56 > size) throw new ZipError(source, 'zip64 end-of-central-directory record lies beyond the end of the file (truncated?)');
    const z = dv(src.read(z64Off, 56));
    if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new ZipError(source, 'bad zip64 end-of-central-directory signature');
    count = u64(z, 32, 'entry count', source);
    cdSize = u64(z, 40, 'central directory size', source);
    cdOff = u64(z, 48, 'central directory offset', source);
  }
  if (cdOff + cdSize > size) {
    throw new ZipError(source, `central directory (${cdSize} bytes at ${cdOff}) lies beyond the end of the file (${size} bytes; truncated?)`);
  }
  if (count * 46 > cdSize) throw new ZipError(source, `central directory of ${cdSize} bytes cannot hold ${count} entries`);
  const cd = src.read(cdOff, cdSize);
  const view = dv(cd);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || view.getUint32(p, true) !== SIG_CENTRAL) throw new ZipError(source, `central directory entry ${i} is malformed`);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let uncompressedSize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) throw new ZipError(source, `central directory entry ${i} runs past the directory`);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 0xffffffff fields, in this order.
    let q = p + 46 + nameLen;
    const extraEnd = q + extraLen;
    while (q + 4 <= extraEnd) {
      const id = view.getUint16(q, true);
      const len = view.getUint16(q + 2, true);
      if (q + 4 + len > extraEnd) break;
      if (id === 0x0001) {
        let r = q + 4;
        const take = (what: string): number => {
          if (r + 8 > q + 4 + len) throw new ZipError(source, `zip64 field of ${name} is too short for ${what}`);
          const v = u64(view, r, what, source);
          r += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take('uncompressed size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
      }
      q += 4 + len;
    }
    if (entries.has(name)) throw new ZipError(source, `duplicate entry ${name}`);
    if (method === 8 && uncompressedSize > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new ZipError(source, `entry ${name} declares ${uncompressedSize} bytes from ${compressedSize} deflated bytes, more than deflate can produce (at most ${MAX_DEFLATE_RATIO}:1)`);
    }
    if (localHeaderOffset >= size) throw new ZipError(source, `entry ${name} starts beyond the end of the file (truncated?)`);
    entries.set(name, {
      name,
      method,
      compressedSize,
      uncompressedSize,
      crc32: crc,
      localHeaderOffset,
      isDirectory: name.endsWith('/'),
    });
    p = end;
  }
  return entries;
}
