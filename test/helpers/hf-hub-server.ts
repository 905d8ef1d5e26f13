/**
 * A loopback stand-in for the Hugging Face Hub (127.0.0.1, ephemeral ports; nothing beyond the
 * machine): `HEAD|GET /<org>/<name>/resolve/<revision>/<file>` answered with the Hub's headers
 * (X-Repo-Commit; ETag, the git blob SHA-1, for small files; for large "LFS" files a 302 to a
 * second server, the "CDN", with X-Linked-Etag = SHA-256 and X-Linked-Size), the Hub's error codes
 * (401 RepoNotFound, 404 RevisionNotFound / EntryNotFound), and Range requests. The CDN can cut a
 * body short a given number of times, to test resuming. Every request is logged, with whether it
 * carried an Authorization header.
 */
import { createHash } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';

export interface HubRepo {
  repo: string;
  commit: string;
  /** Branch and tag names -> commit (the commit itself always resolves). */
  refs: Record<string, string>;
  files: Record<string, Buffer>;
}

export interface HubRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | null;
  auth: boolean;
  status: number;
}

export interface HubServer {
  url: string;
  requests: HubRequest[];
  /** For the next `times` CDN responses of `sha256`, send only `bytes` bytes, then drop the connection. */
  dropCdn(sha256: string, bytes: number, times: number): void;
  /** Serve these bytes instead of the real ones for a blob (a corrupted CDN). */
  corrupt(sha256: string, bytes: Buffer): void;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin)$/;
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const gitBlobSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function sendBody(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, headers: Record<string, string | number>, drop?: number): number {
  const m = /^bytes=(\d+)-$/.exec((req.headers.range as string | undefined) ?? '');
  let start = 0;
  let status = 200;
  if (m) {
    start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return 416;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
  }
  const slice = body.subarray(start);
  res.writeHead(status, { ...headers, 'accept-ranges': 'bytes', 'content-length': slice.length });
  if (req.method === 'HEAD') res.end();
  else if (drop !== undefined) res.write(slice.subarray(0, drop), () => setTimeout(() => res.socket?.destroy(), 20));
  else res.end(slice);
  return status;
}

export async function startHubServer(repos: HubRepo[]): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const blobs = new Map<string, Buffer>();
  for (const r of repos) for (const [f, b] of Object.entries(r.files)) if (LFS.test(f)) blobs.set(sha256(b), b);
  const drops = new Map<string, { bytes: number; times: number }>();
  const corrupted = new Map<string, Buffer>();
  const log = (server: HubRequest['server'], req: http.IncomingMessage, p: string, status: number) =>
    requests.push({ server, method: req.method ?? 'GET', path: p, range: (req.headers.range as string | undefined) ?? null, auth: req.headers.authorization !== undefined, status });

  const cdn = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec(p)?.[1];
    const body = sha ? corrupted.get(sha) ?? blobs.get(sha) : undefined;
    if (!sha || !body) {
      log('cdn', req, p, 404);
      res.writeHead(404).end();
      return;
    }
    const d = drops.get(sha);
    let drop: number | undefined;
    if (d && d.times > 0) {
      d.times--;
      drop = d.bytes;
    }
    log('cdn', req, p, sendBody(req, res, body, { etag: `"cdn-${sha.slice(0, 8)}"` }, drop));
  });
  const cdnUrl = await listen(cdn);

  const hub = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    const done = (status: number, headers: Record<string, string> = {}) => {
      log('hub', req, p, status);
      res.writeHead(status, headers).end();
    };
    if (!m) return done(404);
    const repo = repos.find((r) => r.repo === m[1]);
    if (!repo) return done(401, { 'x-error-code': 'RepoNotFound' });
    const commit = m[2] === repo.commit ? repo.commit : repo.refs[m[2]];
    if (commit !== repo.commit) return done(404, { 'x-error-code': 'RevisionNotFound' });
    const body = repo.files[m[3]];
    if (!body) return done(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': commit });
    if (LFS.test(m[3])) {
      return done(302, { location: `${cdnUrl}/blobs/${sha256(body)}`, 'x-repo-commit': commit, 'x-linked-etag': `"${sha256(body)}"`, 'x-linked-size': String(body.length), etag: `"${gitBlobSha1(Buffer.from('lfs pointer'))}"` });
    }
    log('hub', req, p, sendBody(req, res, body, { 'x-repo-commit': commit, etag: `W/"${gitBlobSha1(body)}"` }));
  });
  const url = await listen(hub);

  return {
    url,
    requests,
    dropCdn: (sha, bytes, times) => drops.set(sha, { bytes, times }),
    corrupt: (sha, bytes) => corrupted.set(sha, bytes),
    close: async () => {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
