/**
 * Writes tar archives for tests, byte for byte in the formats real archivers produce: POSIX ustar
 * (with the name/prefix split), GNU (`././@LongLink` `L`/`K` members, "ustar  " magic, base-256
 * sizes) and pax (`x`/`g` extended headers). It writes whatever it is told, including the hostile
 * members (`../x`, `/abs`, links, devices) the reader must refuse.
 */
import * as zlib from 'zlib';

export type WriterEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface WriterEntry {
  name: string;
  type?: WriterEntryType;
  data?: Uint8Array | string;
  linkname?: string;
  mode?: number;
  mtime?: number;
  /** Raw type flag, overriding `type`. */
  typeflag?: string;
  /** How to store a name longer than 100 bytes (default: the archive's format). */
  longName?: 'gnu' | 'pax' | 'prefix';
  /** Extra pax records for this member (forces an `x` header). */
  pax?: Record<string, string>;
  /** Encode the size field in GNU base-256. */
  base256Size?: boolean;
}

export interface TarWriteOptions {
  /** Header flavour: 'ustar' (POSIX, default), 'gnu' ("ustar  " magic) or 'v7' (no magic). */
  format?: 'ustar' | 'gnu' | 'v7';
  /** Pax global header records written first. */
  globalPax?: Record<string, string>;
  /** Pad the archive to a multiple of this many bytes like tar's records (default 10240). */
  recordSize?: number;
  /** Leave out the two zero end blocks. */
  noEndBlocks?: boolean;
}

const TYPEFLAGS: Record<WriterEntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' };

function bytesOf(d: Uint8Array | string | undefined): Buffer {
  if (d === undefined) return Buffer.alloc(0);
  return typeof d === 'string' ? Buffer.from(d, 'utf8') : Buffer.from(d);
}

function writeString(block: Buffer, offset: number, length: number, s: string | Buffer): void {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  if (b.length > length) throw new Error(`tar-writer: ${JSON.stringify(s)} does not fit in ${length} bytes`);
  b.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, length: number, v: number): void {
  const s = v.toString(8).padStart(length - 1, '0');
  if (s.length > length - 1) throw new Error(`tar-writer: ${v} does not fit in ${length} octal bytes`);
  block.write(s, offset, 'latin1');
  block[offset + length - 1] = 0;
}

function writeBase256(block: Buffer, offset: number, length: number, v: number): void {
  let x = BigInt(v);
  for (let i = offset + length - 1; i > offset; i--) {
    block[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  block[offset] = 0x80;
}

interface HeaderFields {
  name: string | Buffer;
  prefix?: string;
  typeflag: string;
  size: number;
  mode: number;
  mtime: number;
  linkname: string | Buffer;
  base256Size?: boolean;
}

function header(f: HeaderFields, format: 'ustar' | 'gnu' | 'v7'): Buffer {
  const b = Buffer.alloc(512);
  writeString(b, 0, 100, f.name);
  writeOctal(b, 100, 8, f.mode);
  writeOctal(b, 108, 8, 1000);
  writeOctal(b, 116, 8, 1000);
  if (f.base256Size) writeBase256(b, 124, 12, f.size);
  else writeOctal(b, 124, 12, f.size);
  writeOctal(b, 136, 12, f.mtime);
  b.fill(0x20, 148, 156);
  b.write(f.typeflag, 156, 'latin1');
  writeString(b, 157, 100, f.linkname);
  if (format === 'ustar') {
    b.write('ustar\0', 257, 'latin1');
    b.write('00', 263, 'latin1');
  } else if (format === 'gnu') {
    b.write('ustar  \0', 257, 'latin1');
  }
  if (format !== 'v7') {
    writeString(b, 265, 32, 'user');
    writeString(b, 297, 32, 'group');
    if (format === 'ustar') {
      writeOctal(b, 329, 8, 0);
      writeOctal(b, 337, 8, 0);
      if (f.prefix) writeString(b, 345, 155, f.prefix);
    }
  }
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i];
  // Like GNU tar: six octal digits, NUL, space.
  b.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

function pad(data: Buffer): Buffer {
  const rem = data.length % 512;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rem)]);
}

/** One pax record "LEN key=value\n" where LEN counts the whole record including itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let digits = String(bodyLen).length;
  while (String(bodyLen + digits).length !== digits) digits++;
  return `${bodyLen + digits}${body}`;
}

function paxMember(records: Record<string, string>, flag: 'x' | 'g', format: 'ustar' | 'gnu' | 'v7', name: string): Buffer {
  const data = Buffer.from(Object.entries(records).map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  return Buffer.concat([header({ name, typeflag: flag, size: data.length, mode: 0o644, mtime: 0, linkname: '' }, format), pad(data)]);
}

function splitPrefix(name: string): { prefix: string; name: string } | null {
  for (let i = name.length - 1; i >= 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return null;
}

/** The first 100 bytes of a UTF-8 name (what real archivers store in the header). */
function truncate(name: string | Buffer): Buffer {
  return Buffer.from(typeof name === 'string' ? Buffer.from(name, 'utf8') : name).subarray(0, 100);
}

/** Builds a tar archive in memory. */
export function writeTar(entries: WriterEntry[], opts: TarWriteOptions = {}): Buffer {
  const format = opts.format ?? 'ustar';
  const parts: Buffer[] = [];
  if (opts.globalPax) parts.push(paxMember(opts.globalPax, 'g', format === 'v7' ? 'ustar' : format, 'pax_global_header'));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? bytesOf(e.data) : Buffer.alloc(0);
    const typeflag = e.typeflag ?? TYPEFLAGS[type];
    let name: string | Buffer = e.name;
    let linkname: string | Buffer = e.linkname ?? '';
    let prefix: string | undefined;
    const pax: Record<string, string> = { ...(e.pax ?? {}) };
    const long = e.longName ?? (format === 'gnu' ? 'gnu' : 'pax');
    if (Buffer.byteLength(e.name) > 100) {
      if (long === 'gnu') {
        parts.push(Buffer.concat([header({ name: '././@LongLink', typeflag: 'L', size: Buffer.byteLength(e.name) + 1, mode: 0o644, mtime: 0, linkname: '' }, 'gnu'), pad(Buffer.from(e.name + '\0', 'utf8'))]));
        name = truncate(name);
      } else if (long === 'prefix') {
        const split = splitPrefix(e.name);
        if (!split) throw new Error(`tar-writer: ${e.name} cannot be split into prefix and name`);
        prefix = split.prefix;
        name = split.name;
      } else {
        pax.path = e.name;
        name = truncate(e.name);
      }
    }
    const link = e.linkname ?? '';
    if (Buffer.byteLength(link) > 100) {
      if (long === 'gnu') {
        parts.push(Buffer.concat([header({ name: '././@LongLink', typeflag: 'K', size: Buffer.byteLength(link) + 1, mode: 0o644, mtime: 0, linkname: '' }, 'gnu'), pad(Buffer.from(link + '\0', 'utf8'))]));
      } else {
        pax.linkpath = link;
      }
      linkname = truncate(linkname);
    }
    if (Object.keys(pax).length > 0) parts.push(paxMember(pax, 'x', format === 'v7' ? 'ustar' : format, `PaxHeaders/${e.name.replace(/[^\x20-\x7e]/g, '_').slice(0, 80)}`));
    parts.push(header({ name, prefix, typeflag, size: data.length, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: e.mtime ?? 1_600_000_000, linkname, base256Size: e.base256Size }, format));
    if (data.length > 0) parts.push(pad(data));
  }
  if (!opts.noEndBlocks) parts.push(Buffer.alloc(1024));
  let out = Buffer.concat(parts);
  const record = opts.recordSize ?? 10240;
  if (!opts.noEndBlocks && record > 0 && out.length % record !== 0) out = Buffer.concat([out, Buffer.alloc(record - (out.length % record))]);
  return out;
}

/** gzip, as `tar czf` would (level 6). */
export function gzip(data: Uint8Array): Buffer {
  return zlib.gzipSync(data, { level: 6 });
}

/** Builds a .tar.gz in memory. */
export function writeTarGz(entries: WriterEntry[], opts: TarWriteOptions = {}): Buffer {
  return gzip(writeTar(entries, opts));
}
