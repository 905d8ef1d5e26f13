/**
 * A tar reader for dataset archives: POSIX ustar, GNU (`L`/`K` long names, base-256 sizes),
 * pax (`x` per-entry and `g` global headers: `path`, `linkpath`, `size`, `mtime`), and old v7
 * headers, over plain `.tar` files or gzip-compressed ones (`.tar.gz`, `.tgz`; detected by the
 * gzip magic bytes, not the file name).
 *
 * Three ways in:
 * - {@link scanTar} / {@link listTar} / {@link readTarMembers}: one streaming pass (64 KiB..1 MiB
 *   chunks through zlib), memory bounded by the members you ask to keep.
 * - {@link extractTar}: SAFE extraction. Members are written into a fresh staging folder inside the
 *   target and moved into place only when the whole archive checked out. Refused (the whole
 *   extraction fails and nothing is left behind): absolute names, names with a `..` segment,
 *   backslashes or NUL, symbolic and hard links, devices, FIFOs and unknown member types; moving
 *   into the target never writes through an existing symbolic link. No file can be written outside
 *   the target folder.
 * - {@link TarArchive}: random access to members without extracting anything. A plain tar is
 *   indexed in place by seeking from header to header (no member data is read). gzip cannot be
 *   seeked, so a compressed archive is decompressed ONCE, streaming, to an uncompressed copy in a
 *   cache folder (default `<archive folder>/.spikeclip-cache/`, falling back to the OS temp folder
 *   when that is not writable), keyed by the archive's path, size and mtime; later opens reuse it.
 *   This costs disk (CIFAR-10 ~180 MB, Flowers-102 ~340 MB, Pets images ~800 MB) but never memory:
 *   members are read with positioned reads on demand.
 *
 * Every malformed input raises a {@link TarError} naming the archive.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import { BadInputError } from '../errors';
import { trackTemp, untrackTemp } from './atomic';
import { requireRegularFileSync } from './bounded-read';
import { oneLine } from './one-line';

export class TarError extends BadInputError {
  constructor(message: string) {
    super(oneLine(message), 'E_TAR');
    this.name = 'TarError';
  }
}

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'character-device' | 'block-device' | 'fifo' | 'other';

export interface TarEntry {
  /** The member's name as stored (after pax `path` / GNU long name / ustar prefix). */
  name: string;
  type: TarEntryType;
  /** The raw type flag character (`'0'`, `'5'`, `'2'`, ...; `'\0'` for old regular files). */
  typeflag: string;
  /** Data size in bytes (0 for everything but regular files). */
  size: number;
  mode: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Link target for symbolic and hard links. */
  linkname: string;
  /** Offset of the member's first data byte in the uncompressed tar stream. */
  dataOffset: number;
}

const BLOCK = 512;
/** Upper bound for pax headers and GNU long names: real ones are a few hundred bytes. */
const MAX_META_BYTES = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Header parsing (shared by the streaming parser and the seeking indexer)

function cString(block: Uint8Array, start: number, length: number): string {
  let end = start;
  const stop = start + length;
  while (end < stop && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + start, end - start).toString('utf8');
}

function parseNumber(block: Uint8Array, start: number, length: number, field: string, where: () => string): number {
  if (block[start] & 0x80) {
    // GNU base-256: big-endian two's complement; the top bit of the first byte flags it.
    if (block[start] === 0xff) throw new TarError(`${where()}: negative ${field} (base-256) is not supported`);
    let v = block[start] & 0x7f;
    for (let i = start + 1; i < start + length; i++) {
      v = v * 256 + block[i];
      if (!Number.isSafeInteger(v)) throw new TarError(`${where()}: ${field} is too large`);
    }
    return v;
  }
  let s = '';
  for (let i = start; i < start + length; i++) {
    const c = block[i];
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  s = s.trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`${where()}: ${field} field is not an octal number (${JSON.stringify(s)})`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TarError(`${where()}: ${field} is too large`);
  return v;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

interface RawHeader {
  name: string;
  typeflag: string;
  size: number;
  mode: number;
  mtime: number;
  linkname: string;
}

function parseHeader(block: Uint8Array, offset: number, source: string): RawHeader {
  const where = () => `${source}: tar header at byte ${offset}`;
  // Checksum: the header's bytes summed with the checksum field read as spaces. Some old writers
  // summed signed bytes; accept either.
  const stored = parseNumber(block, 148, 8, 'checksum', where);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarError(`${where()} has a bad checksum (not a tar archive, or a corrupt one)`);
  }
  let name = cString(block, 0, 100);
  const magic = cString(block, 257, 6);
  const version = cString(block, 263, 2);
  // POSIX ustar ("ustar\0" + "00") stores a path prefix at 345; GNU ("ustar " + " ") does not.
  if (magic === 'ustar' && version !== ' ' && block[262] === 0) {
    const prefix = cString(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const flagByte = block[156];
  return {
    name,
    typeflag: flagByte === 0 ? '\0' : String.fromCharCode(flagByte),
    size: parseNumber(block, 124, 12, 'size', where),
    mode: parseNumber(block, 100, 8, 'mode', where),
    mtime: parseNumber(block, 136, 12, 'mtime', where),
    linkname: cString(block, 157, 100),
  };
}

function entryType(typeflag: string, name: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7':
      // Old (v7) archives mark directories only by a trailing slash.
      return typeflag === '\0' && name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'character-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Type flags whose data describes the next member rather than being a member. */
function isMetaFlag(flag: string): boolean {
  return flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K';
}

function parsePax(data: Buffer, source: string, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new TarError(`${source}: malformed pax header at byte ${offset}`);
    const len = Number(data.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new TarError(`${source}: malformed pax record at byte ${offset + pos}`);
    }
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarError(`${source}: malformed pax record at byte ${offset + pos}`);
    out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Carries pax and GNU long-name headers over to the member they describe. */
class MetaState {
  private global: Record<string, string> = {};
  private local: Record<string, string> = {};
  private longName: string | null = null;
  private longLink: string | null = null;

  constructor(private readonly source: string) {}

  /** Consume a meta member's data. */
  apply(flag: string, data: Buffer, offset: number): void {
    if (flag === 'x') Object.assign(this.local, parsePax(data, this.source, offset));
    else if (flag === 'g') Object.assign(this.global, parsePax(data, this.source, offset));
    else if (flag === 'L') this.longName = cString(data, 0, data.length);
    else if (flag === 'K') this.longLink = cString(data, 0, data.length);
  }

  /** The member a real header describes, with pending meta applied; clears per-entry meta. */
  resolve(h: RawHeader, dataOffset: number): TarEntry {
    const pax = { ...this.global, ...this.local };
    let name = this.longName ?? h.name;
    let linkname = this.longLink ?? h.linkname;
    let size = h.size;
    let mtime = h.mtime;
    if (pax.path !== undefined) name = pax.path;
    if (pax.linkpath !== undefined) linkname = pax.linkpath;
    if (pax.size !== undefined) {
      const s = Number(pax.size);
      if (!Number.isSafeInteger(s) || s < 0) throw new TarError(`${this.source}: bad pax size ${JSON.stringify(pax.size)} for ${name}`);
      size = s;
    }
    if (pax.mtime !== undefined && Number.isFinite(Number(pax.mtime))) mtime = Math.floor(Number(pax.mtime));
    this.local = {};
    this.longName = null;
    this.longLink = null;
    const type = entryType(h.typeflag, name);
    // Links, devices, FIFOs and directories carry no data whatever the size field says
    // (GNU/POSIX: hard links may carry a size but never data in practice; treat as none).
    const dataSize = type === 'file' || type === 'other' ? size : 0;
    return { name, type, typeflag: h.typeflag, size: dataSize, mode: h.mode, mtime, linkname, dataOffset };
  }
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

// ---------------------------------------------------------------------------------------------
// Streaming parser

/** What a scan visitor wants for a member. */
export type ScanDecision = boolean | 'stop';

export interface TarVisitor {
  /** Called for every member; return true to receive its data, false to skip, 'stop' to end the scan. */
  entry(e: TarEntry): ScanDecision;
  /** Data of a member `entry` accepted, in order, in chunks. */
  data?(e: TarEntry, chunk: Buffer): void;
  /** After the last data chunk of an accepted member (also for accepted empty members). */
  end?(e: TarEntry): void;
}

class StopScan extends Error {}

class TarStreamParser {
  /** Absolute offset of the next byte to consume. */
  private pos = 0;
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private state: 'header' | 'data' | 'meta' | 'pad' | 'done' = 'header';
  private remaining = 0;
  private padRemaining = 0;
  private current: TarEntry | null = null;
  private wanted = false;
  private metaFlag = '';
  private metaOffset = 0;
  private metaBuf: Buffer = Buffer.alloc(0);
  private metaFill = 0;
  private readonly meta: MetaState;
  private sawAnything = false;

  constructor(
    private readonly source: string,
    private readonly visitor: TarVisitor,
  ) {
    this.meta = new MetaState(source);
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    if (n > 0) this.sawAnything = true;
    while (i < n && this.state !== 'done') {
      switch (this.state) {
        case 'header': {
          const take = Math.min(BLOCK - this.headerFill, n - i);
          chunk.copy(this.header, this.headerFill, i, i + take);
          this.headerFill += take;
          i += take;
          this.pos += take;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            this.onHeader(this.pos - BLOCK);
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, n - i);
          if (this.wanted && take > 0) this.visitor.data?.(this.current as TarEntry, chunk.subarray(i, i + take));
          i += take;
          this.pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finishMember();
          break;
        }
        case 'meta': {
          const take = Math.min(this.remaining, n - i);
          chunk.copy(this.metaBuf, this.metaFill, i, i + take);
          this.metaFill += take;
          i += take;
          this.pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.meta.apply(this.metaFlag, this.metaBuf, this.metaOffset);
            this.state = this.padRemaining > 0 ? 'pad' : 'header';
          }
          break;
        }
        case 'pad': {
          const take = Math.min(this.padRemaining, n - i);
          i += take;
          this.pos += take;
          this.padRemaining -= take;
          if (this.padRemaining === 0) this.state = 'header';
          break;
        }
      }
    }
  }

  private onHeader(offset: number): void {
    if (isZeroBlock(this.header)) {
      // End of archive. Like Python's tarfile, the first zero block ends it; the rest is padding.
      this.state = 'done';
      return;
    }
    const h = parseHeader(this.header, offset, this.source);
    if (isMetaFlag(h.typeflag)) {
      if (h.size > MAX_META_BYTES) throw new TarError(`${this.source}: ${h.size}-byte extended header at byte ${offset} is implausibly large`);
      this.metaFlag = h.typeflag;
      this.metaOffset = offset + BLOCK;
      this.metaBuf = Buffer.alloc(h.size);
      this.metaFill = 0;
      this.remaining = h.size;
      this.padRemaining = padded(h.size) - h.size;
      this.state = h.size > 0 ? 'meta' : 'header';
      if (h.size === 0) this.meta.apply(h.typeflag, this.metaBuf, this.metaOffset);
      return;
    }
    const e = this.meta.resolve(h, offset + BLOCK);
    const decision = this.visitor.entry(e);
    if (decision === 'stop') throw new StopScan();
    this.current = e;
    this.wanted = decision;
    this.remaining = e.size;
    this.padRemaining = padded(e.size) - e.size;
    if (e.size === 0) this.finishMember();
    else this.state = 'data';
  }

  private finishMember(): void {
    if (this.wanted) this.visitor.end?.(this.current as TarEntry);
    this.current = null;
    this.wanted = false;
    this.state = this.padRemaining > 0 ? 'pad' : 'header';
  }

  end(): void {
    if (!this.sawAnything) throw new TarError(`${this.source}: empty file (not a tar archive)`);
    if (this.state === 'done') return;
    if (this.state === 'header' && this.headerFill === 0) return; // no end marker: tolerated
    if (this.state === 'pad') return; // truncated padding of the last member: its data is complete
    if (this.state === 'data' && this.current) {
      throw new TarError(`${this.source} is truncated: member ${this.current.name} needs ${this.current.size} bytes but the archive ends ${this.remaining} bytes short`);
    }
    throw new TarError(`${this.source} is truncated at byte ${this.pos} (in the middle of a header)`);
  }
}

/** True when the file starts with the gzip magic bytes. */
export function isGzipFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const n = fs.readSync(fd, b, 0, 2, 0);
    return n === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

function gzipError(file: string, err: unknown): Error {
  if (err instanceof TarError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return new TarError(`${file}: gzip data is corrupt or truncated (${e.message})`);
  }
  if (e && e.code === 'ENOENT') return new TarError(`${file} does not exist`);
  return err as Error;
}

/** One streaming pass over an archive (plain or gzip), calling the visitor per member. */
export async function scanTar(file: string, visitor: TarVisitor): Promise<void> {
  if (!fs.existsSync(file)) throw new TarError(`${file} does not exist`);
  requireRegularFileSync(file, (m) => new TarError(m));
  const gz = isGzipFile(file);
  const parser = new TarStreamParser(file, visitor);
  // The visitor's own error (or the stop signal) is kept: pipeline may report it as an AbortError.
  let failure: unknown = null;
  const sink = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      try {
        parser.push(chunk);
      } catch (err) {
        failure = err;
        throw err;
      }
    }
  };
  try {
    const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    if (gz) await pipeline(input, zlib.createGunzip({ chunkSize: 1 << 16 }), sink);
    else await pipeline(input, sink);
    parser.end();
  } catch (err) {
    const first = failure ?? err;
    if (first instanceof StopScan) return;
    throw gzipError(file, first);
  }
}

/** Every member of an archive (pax and GNU meta headers folded in). */
export async function listTar(file: string): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  await scanTar(file, {
    entry(e) {
      out.push(e);
      return false;
    },
  });
  return out;
}

/**
 * Reads the regular-file members selected by `want` (a list of names, compared after
 * {@link normalizeMemberName}, or a predicate) into memory in one pass. Keys are normalised names.
 * With a name list the scan stops as soon as all were found. Later duplicates win.
 */
export async function readTarMembers(file: string, want: string[] | ((e: TarEntry) => boolean)): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const names = Array.isArray(want) ? new Set(want.map(normalizeMemberName)) : null;
  let buf: Buffer | null = null;
  let fill = 0;
  await scanTar(file, {
    entry(e) {
      if (names && names.size > 0 && [...names].every((n) => out.has(n))) return 'stop';
      if (e.type !== 'file') return false;
      const key = normalizeMemberName(e.name);
      const take = names ? names.has(key) : (want as (e: TarEntry) => boolean)(e);
      if (!take) return false;
      buf = Buffer.allocUnsafe(e.size);
      fill = 0;
      return true;
    },
    data(_e, chunk) {
      chunk.copy(buf as Buffer, fill);
      fill += chunk.length;
    },
    end(e) {
      out.set(normalizeMemberName(e.name), buf as Buffer);
      buf = null;
    },
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Names

/**
 * A member name in canonical relative form: no leading `./`, no empty or `.` segments, no trailing
 * slash. Does NOT judge safety (see {@link safeMemberPath}).
 */
export function normalizeMemberName(name: string): string {
  const absolute = name.startsWith('/');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  return (absolute ? '/' : '') + parts.join('/');
}

/**
 * The relative path a member may be extracted to, or a TarError saying why not: absolute names
 * (`/x`, `C:x`, `\\x`), `..` segments, backslashes and NUL bytes are refused.
 */
export function safeMemberPath(name: string, source: string): string {
  const why = (reason: string) => new TarError(`${source}: refusing member ${JSON.stringify(name)}: ${reason}`);
  if (name.includes('\0')) throw why('the name contains a NUL byte');
  if (name.includes('\\')) throw why('the name contains a backslash (a path separator on Windows)');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw why('absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw why('the path contains ".."');
  return parts.join('/');
}

// ---------------------------------------------------------------------------------------------
// Safe extraction

export interface ExtractOptions {
  /** Extract only members for which this returns true (others are still checked for safety). */
  filter?: (e: TarEntry, relPath: string) => boolean;
}

export interface ExtractResult {
  /** Relative paths of the regular files written. */
  files: string[];
  directories: number;
  bytes: number;
}

/**
 * Extracts an archive into `targetDir` (created if missing). See the module comment for what is
 * refused; any refusal or corruption fails the whole extraction and leaves the target as it was.
 * File modes from the archive are not applied (files 0644, folders 0755).
 */
export async function extractTar(file: string, targetDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const target = path.resolve(targetDir);
  fs.mkdirSync(target, { recursive: true });
  const staging = fs.mkdtempSync(path.join(target, '.spikeclip-extract-'));
  trackTemp(staging);
  const result: ExtractResult = { files: [], directories: 0, bytes: 0 };
  let fd: number | null = null;
  const inside = (rel: string) => {
    const p = path.resolve(staging, rel);
    if (p !== staging && !p.startsWith(staging + path.sep)) throw new TarError(`${file}: refusing member ${rel}: it resolves outside the target`);
    return p;
  };
  try {
    const fsFail = (what: string, e: unknown): never => {
      if (e instanceof TarError) throw e;
      throw new TarError(`${file}: cannot extract member ${JSON.stringify(what)}: ${(e as Error).message}`);
    };
    await scanTar(file, {
      entry(e) {
        try {
          return extractEntry(e);
        } catch (err) {
          return fsFail(e.name, err);
        }
      },
      data(e, chunk) {
        try {
          let off = 0;
          while (off < chunk.length) off += fs.writeSync(fd as number, chunk, off, chunk.length - off);
          result.bytes += chunk.length;
        } catch (err) {
          fsFail(e.name, err);
        }
      },
      end() {
        fs.closeSync(fd as number);
        fd = null;
      },
    });
    checkMerge(staging, target, file);
    mergeInto(staging, target, file);
    return result;
  } finally {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(staging, { recursive: true, force: true });
    untrackTemp(staging);
  }

  /** Checks one member, creates its folder or opens its file; true when its data should follow. */
  function extractEntry(e: TarEntry): boolean {
    if (e.type !== 'file' && e.type !== 'directory') {
      const what = e.type === 'symlink' || e.type === 'hardlink' ? `${e.type} to ${JSON.stringify(e.linkname)}` : e.type === 'other' ? `unsupported member type ${JSON.stringify(e.typeflag)}` : e.type;
      throw new TarError(`${file}: refusing member ${JSON.stringify(e.name)}: ${what} (archives with links or special files are not extracted)`);
    }
    const rel = safeMemberPath(e.name, file);
    if (rel === '') return false; // the archive's root folder entry ("./")
    if (opts.filter && !opts.filter(e, rel)) return false;
    const dest = inside(rel);
    if (e.type === 'directory') {
      fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
      result.directories++;
      return false;
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o755 });
    fd = fs.openSync(dest, 'w', 0o644);
    result.files.push(rel);
    return true;
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Checks that the staged tree can be moved into the target (no symbolic link in the way, no file
 * where a folder goes or the reverse) without moving anything: so a refusal leaves the target
 * exactly as it was.
 */
function checkMerge(src: string, dst: string, archive: string): void {
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    const d = path.join(dst, name);
    const st = fs.lstatSync(s);
    const dt = lstatOrNull(d);
    if (dt?.isSymbolicLink()) throw new TarError(`${archive}: refusing to write through the symbolic link ${d}`);
    if (st.isDirectory()) {
      if (dt?.isDirectory()) checkMerge(s, d, archive);
      else if (dt) throw new TarError(`${archive}: cannot extract folder ${d}: a file of that name exists`);
    } else if (dt?.isDirectory()) {
      throw new TarError(`${archive}: cannot extract file ${d}: a folder of that name exists`);
    }
  }
}

/** Moves the staged tree into the target (after {@link checkMerge}); never follows a symbolic link found in the target. */
function mergeInto(src: string, dst: string, archive: string): void {
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    const d = path.join(dst, name);
    const st = fs.lstatSync(s);
    const dt = lstatOrNull(d);
    if (dt?.isSymbolicLink()) throw new TarError(`${archive}: refusing to write through the symbolic link ${d}`);
    if (st.isDirectory()) {
      if (!dt) fs.renameSync(s, d);
      else if (dt.isDirectory()) mergeInto(s, d, archive);
      else throw new TarError(`${archive}: cannot extract folder ${d}: a file of that name exists`);
    } else {
      if (dt?.isDirectory()) throw new TarError(`${archive}: cannot extract file ${d}: a folder of that name exists`);
      fs.renameSync(s, d);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Random access

/** Indexes a plain (uncompressed) tar file by seeking from header to header. */
export function indexTarFile(tarPath: string, source = tarPath): TarEntry[] {
  const fd = fs.openSync(tarPath, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize === 0) throw new TarError(`${source}: empty file (not a tar archive)`);
    const meta = new MetaState(source);
    const block = Buffer.alloc(BLOCK);
    const entries: TarEntry[] = [];
    let pos = 0;
    while (pos + BLOCK <= fileSize) {
      readFully(fd, block, pos, source);
      if (isZeroBlock(block)) return entries;
      const h = parseHeader(block, pos, source);
      if (isMetaFlag(h.typeflag)) {
        if (h.size > MAX_META_BYTES) throw new TarError(`${source}: ${h.size}-byte extended header at byte ${pos} is implausibly large`);
        if (pos + BLOCK + h.size > fileSize) throw new TarError(`${source} is truncated at byte ${fileSize} (in an extended header)`);
        const data = Buffer.alloc(h.size);
        if (h.size > 0) readFully(fd, data, pos + BLOCK, source);
        meta.apply(h.typeflag, data, pos + BLOCK);
        pos += BLOCK + padded(h.size);
        continue;
      }
      const e = meta.resolve(h, pos + BLOCK);
      if (e.dataOffset + e.size > fileSize) {
        throw new TarError(`${source} is truncated: member ${e.name} needs ${e.size} bytes but the archive ends ${e.dataOffset + e.size - fileSize} bytes short`);
      }
      entries.push(e);
      pos = e.dataOffset + padded(e.size);
    }
    if (pos < fileSize) throw new TarError(`${source} is truncated at byte ${fileSize} (in the middle of a header)`);
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}

function readFully(fd: number, buf: Buffer, position: number, source: string): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) throw new TarError(`${source} is truncated at byte ${position + off}`);
    off += n;
  }
}

export interface TarArchiveOptions {
  /** Where to keep the uncompressed copy of a gzip archive (see the module comment). */
  cacheDir?: string;
}

/** Where the uncompressed copy of `file` would be cached by default. */
export function defaultTarCacheDir(file: string): string {
  const preferred = path.join(path.dirname(path.resolve(file)), '.spikeclip-cache');
  try {
    fs.mkdirSync(preferred, { recursive: true });
    fs.accessSync(preferred, fs.constants.W_OK);
    return preferred;
  } catch {
    return path.join(os.tmpdir(), 'spikeclip-cache');
  }
}

/** Decompresses a gzip archive to the cache (once) and returns the uncompressed tar's path. */
async function ensureDecompressed(file: string, cacheDir: string): Promise<string> {
  const st = fs.statSync(file);
  const key = crypto.createHash('sha256').update(`${fs.realpathSync(file)}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16);
  const base = path.basename(file).replace(/\.(tgz|tar\.gz|gz)$/i, '');
  const out = path.join(cacheDir, `${base}-${key}.tar`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.partial-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), zlib.createGunzip({ chunkSize: 1 << 16 }), fs.createWriteStream(tmp));
    fs.renameSync(tmp, out);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw gzipError(file, err);
  }
  return out;
}

/**
 * Random access to the members of an archive. Open with {@link TarArchive.open}; member names are
 * looked up after {@link normalizeMemberName}. Keeps one file descriptor open until `close()`.
 */
export class TarArchive {
  private fd: number | null = null;
  private readonly byName = new Map<string, TarEntry>();

  private constructor(
    /** The archive as given. */
    readonly file: string,
    /** The uncompressed tar that reads go to (the archive itself when not compressed). */
    readonly tarPath: string,
    readonly entries: TarEntry[],
  ) {
    for (const e of entries) this.byName.set(normalizeMemberName(e.name), e);
  }

  static async open(file: string, opts: TarArchiveOptions = {}): Promise<TarArchive> {
    if (!fs.existsSync(file)) throw new TarError(`${file} does not exist`);
    let tarPath = file;
    if (isGzipFile(file)) tarPath = await ensureDecompressed(file, opts.cacheDir ?? defaultTarCacheDir(file));
    return new TarArchive(file, tarPath, indexTarFile(tarPath, file));
  }

  /** Normalised names of the regular-file members. */
  fileNames(): string[] {
    return [...this.byName.entries()].filter(([, e]) => e.type === 'file').map(([n]) => n);
  }

  entry(name: string): TarEntry | undefined {
    return this.byName.get(normalizeMemberName(name));
  }

  has(name: string): boolean {
    return this.entry(name)?.type === 'file';
  }

  /** The bytes of a regular-file member (synchronous positioned read). */
  readSync(name: string): Buffer {
    const e = this.entry(name);
    if (!e || e.type !== 'file') throw new TarError(`${this.file} has no file member ${name}`);
    if (this.fd === null) this.fd = fs.openSync(this.tarPath, 'r');
    const buf = Buffer.allocUnsafe(e.size);
    readFully(this.fd, buf, e.dataOffset, this.file);
    return buf;
  }

  async read(name: string): Promise<Buffer> {
    const e = this.entry(name);
    if (!e || e.type !== 'file') throw new TarError(`${this.file} has no file member ${name}`);
    const fh = await fs.promises.open(this.tarPath, 'r');
    try {
      const buf = Buffer.allocUnsafe(e.size);
      const { bytesRead } = await fh.read(buf, 0, e.size, e.dataOffset);
      if (bytesRead !== e.size) throw new TarError(`${this.file} is truncated in member ${name}`);
      return buf;
    } finally {
      await fh.close();
    }
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
