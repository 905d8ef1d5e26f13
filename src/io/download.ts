/**
 * Downloads with resume and verification, for the official dataset archives.
 *
 * {@link downloadFile}: bytes go to `<dest>.part`; an existing `.part` (an earlier run, or a
 * connection that dropped) is resumed with `Range: bytes=N-`. A `206` whose Content-Range starts
 * at N is appended; a `200` means the server ignored the range, so the part file is truncated and
 * the transfer restarts from byte 0; a `416` means the part file is already whole (or bigger than
 * the file), which the checksum then decides. Dropped connections and idle sockets are retried
 * (resuming) a few times. When the transfer ends, the MD5 of the part file is compared with the
 * expected one BEFORE anything uses it: a mismatch deletes the part file and fails with a clear
 * error; a match renames it to `<dest>`. A `<dest>` that already has the right MD5 is not fetched
 * again; instead of an MD5, `checksum` may name a SHA-256 or a git blob SHA-1 (what the Hugging
 * Face Hub's ETags are). Redirects (301/302/303/307/308) are followed, up to 5; extra `headers`
 * (an Authorization token) are sent to the first host only, never to the host a redirect leads to
 * (a download CDN), as Python's requests does. Requests go through Node's fetch
 * (undici) with undici's EnvHttpProxyAgent: HTTP_PROXY / HTTPS_PROXY / NO_PROXY (or lower case)
 * choose a proxy per URL, as curl, pip and the Hugging Face clients do. {@link headRequest} asks
 * for a file's headers through the same agent.
 *
 * {@link downloadDataset}: the official files of a dataset (src/io/checksum.ts), each downloaded,
 * verified and, for archives, safely extracted into the data folder (src/io/tar.ts).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { EnvHttpProxyAgent, fetch, type Dispatcher } from 'undici';
import { DatasetError } from '../data/types';
import { OfficialFile, fileDigest, md5File, officialFiles } from './checksum';
import { TarError, extractTar } from './tar';

export interface DownloadProgress {
  file: string;
  /** Bytes of the file on disk so far (resumed bytes included). */
  received: number;
  /** Total size when the server said (or the table knows), else null. */
  total: number | null;
  /** Byte the current request started at (0, or where it resumed). */
  resumedFrom: number;
}

export interface DownloadOptions {
  /** Expected MD5 (hex). Without it nothing is verified. */
  md5?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Retries after a dropped connection or timeout, each resuming (default 3). */
  retries?: number;
  /** Idle socket timeout in ms (default 60,000). */
  timeoutMs?: number;
  /** Expected size, for progress before the server answers. */
  size?: number;
  /** Another checksum to verify instead of `md5` (hex). */
  checksum?: DownloadChecksum;
  /** Extra request headers (e.g. Authorization), sent to the URL's own host only. */
  headers?: Record<string, string>;
}

/** A checksum of the whole file: SHA-256, or git's blob SHA-1 (SHA-1 of `blob <size>\0` + bytes). */
export interface DownloadChecksum {
  algorithm: 'sha256' | 'git-blob-sha1';
  hex: string;
}

/** The hex digest of `file` by `algorithm`. */
export async function checksumFile(file: string, algorithm: DownloadChecksum['algorithm']): Promise<string> {
  if (algorithm === 'sha256') return fileDigest(file, 'sha256');
  const h = createHash('sha1');
  h.update(`blob ${fs.statSync(file).size}\0`);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface DownloadResult {
  path: string;
  bytes: number;
  md5: string | null;
  /** True when part of the file came from an earlier, interrupted transfer. */
  resumed: boolean;
  /** True when `dest` was already there with the right checksum. */
  skipped: boolean;
  /** Requests made (redirects not counted). */
  requests: number;
}

/** Network-level failure worth retrying (as opposed to an HTTP status or a bad checksum). */
class TransientError extends Error {}

interface Response {
  status: number;
  headers: Headers;
  body: AsyncIterable<Uint8Array> | null;
  /** Releases a body that will not be read. */
  discard(): Promise<void>;
}

/**
 * The connection pool of every download: Node's fetch (undici) through undici's
 * EnvHttpProxyAgent, which honours HTTP_PROXY, HTTPS_PROXY and NO_PROXY (and their lower-case
 * forms) as curl and pip do. Idle sockets time out after `timeoutMs`, waiting for headers as well
 * as between body chunks.
 */
function dispatcher(timeoutMs: number): Dispatcher {
  return new EnvHttpProxyAgent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
}

function networkMessage(e: unknown): string {
  const err = e as Error & { cause?: { message?: string; code?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message} (${cause})` : err.message;
}

/** Drops the Authorization header (any case) when a redirect leaves the origin it was meant for. */
function headersFor(target: URL, origin: string, headers: Record<string, string>): Record<string, string> {
  if (target.origin === origin) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

async function request(agent: Dispatcher, url: string, headers: Record<string, string>, redirects = 0, origin?: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Response> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatasetError(`bad download URL ${url}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new DatasetError(`unsupported URL scheme in ${url} (http and https only)`);
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(u, {
      method,
      headers: { 'user-agent': 'spikeclip', 'accept-encoding': 'identity', ...headersFor(u, origin ?? u.origin, headers) },
      redirect: 'manual',
      dispatcher: agent,
    });
  } catch (e) {
    throw new TransientError(networkMessage(e));
  }
  const discard = async (): Promise<void> => {
    await res.body?.cancel().catch(() => undefined);
  };
  const location = res.headers.get('location');
  if ([301, 302, 303, 307, 308].includes(res.status) && location) {
    await discard();
    if (redirects >= 5) throw new DatasetError(`too many redirects fetching ${url}`);
    return request(agent, new URL(location, u).toString(), headers, redirects + 1, origin ?? u.origin, method);
  }
  return { status: res.status, headers: res.headers, body: res.body as AsyncIterable<Uint8Array> | null, discard };
}

function sizeOf(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

/** Streams a response body to `part` (appended or overwritten), reporting progress. */
async function pump(res: Response, part: string, flags: 'a' | 'w', onData: (n: number) => void): Promise<void> {
  const out = await fs.promises.open(part, flags);
  try {
    if (!res.body) return;
    const chunks = res.body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (e) {
        // a dropped connection, an idle socket or a body shorter than its Content-Length
        throw new TransientError(networkMessage(e));
      }
      if (next.done) break;
      await out.write(next.value); // (a disk error is not retried)
      onData(next.value.byteLength);
    }
  } finally {
    await out.close();
  }
}

function parseContentRange(v: string | undefined): { start: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((v ?? '').trim());
  if (!m) return null;
  return { start: Number(m[1]), total: m[3] === '*' ? null : Number(m[3]) };
}

/** Downloads `url` to `dest` with resume, retries and MD5 verification (see the module comment). */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const md5 = opts.md5?.toLowerCase() ?? null;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const retries = opts.retries ?? 3;
  const file = path.basename(dest);
  fs.mkdirSync(path.dirname(path.resolve(dest)), { recursive: true });
  const other = opts.checksum ? { algorithm: opts.checksum.algorithm, hex: opts.checksum.hex.toLowerCase() } : null;
  if (md5 && fs.existsSync(dest) && (await md5File(dest)) === md5) {
    return { path: dest, bytes: sizeOf(dest), md5, resumed: false, skipped: true, requests: 0 };
  }
  if (other && fs.existsSync(dest) && (await checksumFile(dest, other.algorithm)) === other.hex) {
    return { path: dest, bytes: sizeOf(dest), md5, resumed: false, skipped: true, requests: 0 };
  }
  const part = `${dest}.part`;
  let resumed = false;
  let requests = 0;
  let total: number | null = opts.size ?? null;
  let attempt = 0;
  const agent = dispatcher(timeoutMs);
  try {
    for (;;) {
      const start = sizeOf(part);
      try {
        requests++;
        const res = await request(agent, url, { ...opts.headers, ...(start > 0 ? { range: `bytes=${start}-` } : {}) });
        let flags: 'a' | 'w' = 'a';
        let from = start;
        if (res.status === 206) {
          const cr = parseContentRange(res.headers.get('content-range') ?? undefined);
          if (!cr || cr.start !== start) {
            // A range we did not ask for: start over rather than corrupt the file.
            await res.discard();
            fs.rmSync(part, { force: true });
            throw new TransientError(`the server answered a range request with ${res.headers.get('content-range') ?? 'no Content-Range'}`);
          }
          if (cr.total !== null) total = cr.total;
          if (start > 0) resumed = true;
        } else if (res.status === 200) {
          flags = 'w'; // the server ignored Range (or there was none): the whole file follows
          from = 0;
          const len = Number(res.headers.get('content-length') ?? Number.NaN);
          if (Number.isFinite(len) && len >= 0) total = len;
        } else if (res.status === 416 && start > 0) {
          await res.discard();
          const cr = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
          if (cr && Number(cr[1]) === start) break; // the part file is already complete
          fs.rmSync(part, { force: true }); // bigger than the file, or unknown: start over
          throw new TransientError('the partial file does not fit the file on the server');
        } else {
          await res.discard();
          throw new DatasetError(`downloading ${url} failed: HTTP ${res.status}${res.status === 404 ? ' (not found)' : ''}`);
        }
        let received = from;
        opts.onProgress?.({ file, received, total, resumedFrom: from });
        await pump(res, part, flags, (n) => {
          received += n;
          opts.onProgress?.({ file, received, total, resumedFrom: from });
        });
        if (total !== null && received < total) throw new TransientError(`the transfer ended at ${received} of ${total} bytes`);
        break;
      } catch (e) {
        if (!(e instanceof TransientError)) throw e;
        if (attempt >= retries) {
          throw new DatasetError(`downloading ${url} failed after ${attempt + 1} attempt(s): ${e.message} (run the command again to resume from ${sizeOf(part)} bytes)`);
        }
        attempt++;
      }
    }
  } finally {
    await agent.close().catch(() => undefined);
  }
  const bytes = sizeOf(part);
  if (md5) {
    const actual = await md5File(part);
    if (actual !== md5) {
      fs.rmSync(part, { force: true });
      throw new DatasetError(`checksum mismatch for ${file} from ${url}: expected MD5 ${md5}, got ${actual}; the downloaded file was deleted (fix: run the download again; if it keeps failing the server's file differs from the published one)`);
    }
  }
  if (other) {
    const actual = await checksumFile(part, other.algorithm);
    if (actual !== other.hex) {
      fs.rmSync(part, { force: true });
      throw new DatasetError(`checksum mismatch for ${file} from ${url}: expected ${other.algorithm} ${other.hex}, got ${actual}; the downloaded file was deleted (fix: run the download again; if it keeps failing the server's file differs from what it announced)`);
    }
  }
  fs.renameSync(part, dest);
  return { path: dest, bytes, md5, resumed, skipped: false, requests };
}

export interface HeadResult {
  /** Status of the last response (a redirect to another origin is not followed: its 30x is returned). */
  status: number;
  headers: Headers;
  /** The URL that answered. */
  url: string;
}

/**
 * HEAD `url` through the download agent: redirects within the same origin are followed (a renamed
 * repository), a redirect to another origin (a download CDN) is returned as it is, so its headers
 * can be read. `headers` go to the URL's origin only.
 */
export async function headRequest(url: string, opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HeadResult> {
  const agent = dispatcher(opts.timeoutMs ?? 60_000);
  try {
    let u = new URL(url);
    const origin = u.origin;
    for (let redirects = 0; ; redirects++) {
      let res: Awaited<ReturnType<typeof fetch>>;
      try {
        res = await fetch(u, { method: 'HEAD', headers: { 'user-agent': 'spikeclip', 'accept-encoding': 'identity', ...headersFor(u, origin, opts.headers ?? {}) }, redirect: 'manual', dispatcher: agent });
      } catch (e) {
        throw new DatasetError(`cannot reach ${u.origin}: ${networkMessage(e)} (fix: check the network, HTTPS_PROXY and NO_PROXY)`);
      }
      await res.body?.cancel().catch(() => undefined);
      const location = res.headers.get('location');
      if ([301, 302, 303, 307, 308].includes(res.status) && location) {
        const next = new URL(location, u);
        if (next.origin === origin && redirects < 5) {
          u = next;
          continue;
        }
      }
      return { status: res.status, headers: res.headers, url: u.toString() };
    }
  } finally {
    await agent.close().catch(() => undefined);
  }
}

export interface DownloadDatasetOptions {
  dataDir: string;
  /** CIFAR variant (default binary). */
  variant?: 'binary' | 'python';
  /** Extract archives after verification (default true). */
  extract?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  /** Called before each file, and before each extraction. */
  onStep?: (step: { file: string; action: 'download' | 'skip' | 'extract' }) => void;
  /** Where each file is fetched from (default its official URL); tests point this at a local server. */
  urlFor?: (f: OfficialFile) => string;
  /** The files to fetch (default: the dataset's official files). */
  files?: OfficialFile[];
  retries?: number;
  timeoutMs?: number;
}

export interface DownloadedFile extends DownloadResult {
  file: string;
  /** Regular files written by the extraction (0 when not extracted). */
  extractedFiles: number;
}

/** Downloads, verifies and (for archives) extracts the official files of a dataset. */
export async function downloadDataset(dataset: string, opts: DownloadDatasetOptions): Promise<DownloadedFile[]> {
  const files = opts.files ?? officialFiles(dataset, opts.variant ?? 'binary');
  const out: DownloadedFile[] = [];
  for (const f of files) {
    const dest = path.join(opts.dataDir, f.file);
    opts.onStep?.({ file: f.file, action: 'download' });
    const r = await downloadFile(opts.urlFor ? opts.urlFor(f) : f.url, dest, { md5: f.md5, size: f.size, onProgress: opts.onProgress, retries: opts.retries, timeoutMs: opts.timeoutMs });
    if (r.skipped) opts.onStep?.({ file: f.file, action: 'skip' });
    let extractedFiles = 0;
    if (f.archive && opts.extract !== false) {
      opts.onStep?.({ file: f.file, action: 'extract' });
      try {
        extractedFiles = (await extractTar(dest, opts.dataDir)).files.length;
      } catch (e) {
        if (e instanceof TarError) throw new DatasetError(e.message);
        throw e;
      }
    }
    out.push({ ...r, file: f.file, extractedFiles });
  }
  return out;
}
