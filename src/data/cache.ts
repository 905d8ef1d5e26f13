/**
 * On-disk cache of decoded, resized uint8 views: one file per (dataset, split, view, source
 * fingerprint) holding every sample's pixels at a fixed offset, so a later epoch (or a later run)
 * reads bytes instead of decoding JPEGs.
 *
 * Location: `$SPIKECLIP_CACHE`, else `$XDG_CACHE_HOME/spikeclip`, else `~/.cache/spikeclip`, then
 * `views/<dataset>/<key>.bin`. The file is built under a temporary sibling name (src/io/atomic.ts's
 * naming) and renamed into place only when every sample is in it, so readers see either no cache
 * or a complete one; two processes building the same cache each build their own temporary file
 * and the last rename wins (the contents are identical). Temporary files of dead processes are
 * removed when the next build starts.
 *
 * Layout (little-endian): "SPKVIEW1" magic, u32 header length, JSON header {version, dataset, split,
 * view, fingerprint, count, width, height, channels}, zero padding to 4096; one status byte per
 * sample (1 = pixels present, 2 = undecodable: skipped, 0 = missing, only while building), padding
 * to 4096; then count x width x height x channels pixel bytes.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { siblingTempPath } from '../io/atomic';
import { DatasetError } from './types';

export const CACHE_MAGIC = 'SPKVIEW1';
export const CACHE_VERSION = 1;
const ALIGN = 4096;

export const STATUS_MISSING = 0;
export const STATUS_OK = 1;
export const STATUS_BAD = 2;

/** The cache root: SPIKECLIP_CACHE, else XDG_CACHE_HOME/spikeclip, else ~/.cache/spikeclip. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SPIKECLIP_CACHE) return path.resolve(env.SPIKECLIP_CACHE);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'spikeclip');
  return path.join(os.homedir(), '.cache', 'spikeclip');
}

export interface ViewCacheKey {
  dataset: string;
  split: string;
  /** The view's stable name (transforms.viewKey). */
  view: string;
  /** Identity of the split's sources (DatasetSplit.fingerprint or one computed from the sources). */
  fingerprint: string;
}

export interface ViewCacheShape {
  count: number;
  width: number;
  height: number;
  channels: number;
}

interface Header extends ViewCacheKey, ViewCacheShape {
  version: number;
}

/** Hex digest naming the cache file of a key. */
export function cacheKeyHash(key: ViewCacheKey): string {
  return createHash('sha256').update(JSON.stringify([key.dataset, key.split, key.view, key.fingerprint])).digest('hex').slice(0, 32);
}

function safeName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 60);
  return cleaned === '' ? 'dataset' : cleaned;
}

/** The final path of a key's cache file under `root`. */
export function cachePath(root: string, key: ViewCacheKey): string {
  return path.join(root, 'views', safeName(key.dataset), `${safeName(key.split)}-${cacheKeyHash(key)}.bin`);
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function layout(header: Header): { headerBytes: Buffer; statusOffset: number; dataOffset: number; itemBytes: number; total: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerBytes = Buffer.alloc(12 + json.length);
  headerBytes.write(CACHE_MAGIC, 0, 'latin1');
  headerBytes.writeUInt32LE(json.length, 8);
  json.copy(headerBytes, 12);
  const statusOffset = alignUp(headerBytes.length);
  const dataOffset = statusOffset + alignUp(Math.max(1, header.count));
  const itemBytes = header.width * header.height * header.channels;
  return { headerBytes, statusOffset, dataOffset, itemBytes, total: dataOffset + header.count * itemBytes };
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `.name.building-<pid>-*` siblings left behind by processes that no longer run. */
function removeStaleBuilds(finalPath: string): void {
  const dir = path.dirname(finalPath);
  const prefix = `.${path.basename(finalPath)}.building-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) fs.rmSync(path.join(dir, n), { force: true });
  }
}

function writeAll(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
}

function readAll(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) throw new DatasetError('cache file is shorter than its header says');
    off += n;
  }
}

/**
 * One cache file, complete (read-only) or being built. Synchronous positional reads and writes:
 * a 32x32 view is 3 KiB, a 224x224 view 147 KiB; both are far faster than decoding.
 */
export class ViewCache {
  private fd: number;
  private readonly status: Uint8Array;
  private readonly itemBytes: number;
  private readonly dataOffset: number;
  private readonly statusOffset: number;
  private filled: number;
  readonly shape: ViewCacheShape;
  /** Reads and writes served (for tests and benchmarks). */
  reads = 0;
  writes = 0;

  private constructor(
    readonly finalPath: string,
    private filePath: string,
    fd: number,
    header: Header,
    status: Uint8Array,
    private building: boolean,
  ) {
    this.fd = fd;
    this.status = status;
    this.shape = { count: header.count, width: header.width, height: header.height, channels: header.channels };
    const l = layout(header);
    this.itemBytes = l.itemBytes;
    this.dataOffset = l.dataOffset;
    this.statusOffset = l.statusOffset;
    this.filled = status.reduce((a, s) => a + (s === STATUS_MISSING ? 0 : 1), 0);
  }

  /**
   * Opens the complete cache file of `key` if there is a valid one, else starts building one.
   * A file whose header does not match (another version, shape or key) is rebuilt.
   */
  static open(root: string, key: ViewCacheKey, shape: ViewCacheShape): ViewCache {
    for (const [k, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v < 0 || (k !== 'count' && v < 1)) throw new DatasetError(`cache shape ${k} must be a positive integer, got ${v}`);
    }
    const finalPath = cachePath(root, key);
    const header: Header = { version: CACHE_VERSION, ...key, ...shape };
    const existing = ViewCache.tryOpenComplete(finalPath, header);
    if (existing) return existing;
    fs.mkdirSync(path.dirname(finalPath), { recursive: true });
    removeStaleBuilds(finalPath);
    const tmp = siblingTempPath(finalPath, 'building');
    const fd = fs.openSync(tmp, 'wx+', 0o644);
    try {
      const l = layout(header);
      fs.ftruncateSync(fd, l.total);
      writeAll(fd, l.headerBytes, 0);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    return new ViewCache(finalPath, tmp, fd, header, new Uint8Array(shape.count), true);
  }

  private static tryOpenComplete(finalPath: string, want: Header): ViewCache | undefined {
    let fd: number;
    try {
      fd = fs.openSync(finalPath, 'r');
    } catch {
      return undefined;
    }
    try {
      const head = Buffer.alloc(12);
      readAll(fd, head, 0);
      if (head.toString('latin1', 0, 8) !== CACHE_MAGIC) throw new Error('bad magic');
      const len = head.readUInt32LE(8);
      if (len > 1 << 20) throw new Error('header too long');
      const json = Buffer.alloc(len);
      readAll(fd, json, 12);
      const got = JSON.parse(json.toString('utf8')) as Header;
      for (const k of Object.keys(want) as Array<keyof Header>) if (got[k] !== want[k]) throw new Error(`header ${k} differs`);
      const l = layout(want);
      if (fs.fstatSync(fd).size !== l.total) throw new Error('size differs');
      const status = new Uint8Array(want.count);
      readAll(fd, status, l.statusOffset);
      for (const s of status) if (s !== STATUS_OK && s !== STATUS_BAD) throw new Error('incomplete');
      return new ViewCache(finalPath, finalPath, fd, want, status, false);
    } catch {
      // Unreadable, stale or foreign: rebuild it.
      fs.closeSync(fd);
      return undefined;
    }
  }

  /** True once every sample is present (read-only file in place). */
  get complete(): boolean {
    return !this.building;
  }

  /** Samples present (pixels or a skip mark). */
  get filledCount(): number {
    return this.filled;
  }

  get itemSize(): number {
    return this.itemBytes;
  }

  has(i: number): boolean {
    return this.status[i] !== STATUS_MISSING;
  }

  isBad(i: number): boolean {
    return this.status[i] === STATUS_BAD;
  }

  /** Indices still missing. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.status.length; i++) if (this.status[i] === STATUS_MISSING) out.push(i);
    return out;
  }

  /** The pixels of sample i (into `out` when given). */
  read(i: number, out?: Uint8Array): Uint8Array {
    if (this.status[i] !== STATUS_OK) throw new DatasetError(`cache has no pixels for sample ${i}`);
    const buf = out ?? new Uint8Array(this.itemBytes);
    readAll(this.fd, buf.subarray(0, this.itemBytes), this.dataOffset + i * this.itemBytes);
    this.reads++;
    return buf;
  }

  write(i: number, data: Uint8Array): void {
    if (!this.building) return;
    if (data.length !== this.itemBytes) throw new DatasetError(`cache item ${i} has ${data.length} bytes, expected ${this.itemBytes}`);
    if (this.status[i] === STATUS_MISSING) this.filled++;
    writeAll(this.fd, data, this.dataOffset + i * this.itemBytes);
    this.status[i] = STATUS_OK;
    this.writes++;
  }

  markBad(i: number): void {
    if (!this.building) return;
    if (this.status[i] === STATUS_MISSING) this.filled++;
    this.status[i] = STATUS_BAD;
  }

  /**
   * When every sample is present: writes the status table, syncs and renames the file into place
   * (atomic), then keeps reading from it. Returns whether the cache is complete.
   */
  finish(): boolean {
    if (!this.building) return true;
    if (this.filled < this.status.length) return false;
    writeAll(this.fd, this.status, this.statusOffset);
    fs.fsyncSync(this.fd);
    fs.renameSync(this.filePath, this.finalPath);
    try {
      const dfd = fs.openSync(path.dirname(this.finalPath), 'r');
      fs.fsyncSync(dfd);
      fs.closeSync(dfd);
    } catch {
      /* best effort */
    }
    this.filePath = this.finalPath;
    this.building = false;
    return true;
  }

  /** Closes the file; an unfinished build is deleted. */
  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    if (this.building) fs.rmSync(this.filePath, { force: true });
  }
}
