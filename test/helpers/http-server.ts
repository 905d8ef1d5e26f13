/**
 * A loopback HTTP server for download tests (127.0.0.1, an ephemeral port): serves in-memory files
 * with or without Range support, can cut a response short (to test resuming), redirect, or fail.
 * It never reaches beyond the machine.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface Route {
  body?: Buffer;
  /** Honour `Range: bytes=N-` with 206 (default true). */
  ranges?: boolean;
  /** For the first `times` requests (default 1), send only this many body bytes, then drop the connection. */
  dropAfter?: number;
  times?: number;
  /** Answer with this status and no body. */
  status?: number;
  /** Redirect (302) to this path or URL. */
  redirect?: string;
  /** Omit Content-Length (chunked transfer). */
  noLength?: boolean;
}

export interface LoggedRequest {
  path: string;
  range: string | null;
  status: number;
}

export interface TestServer {
  url: string;
  requests: LoggedRequest[];
  routes: Record<string, Route>;
  close(): Promise<void>;
}

export async function startServer(routes: Record<string, Route>): Promise<TestServer> {
  const requests: LoggedRequest[] = [];
  const served = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    const range = (req.headers.range as string | undefined) ?? null;
    const route = routes[p];
    const log = (status: number) => requests.push({ path: p, range, status });
    if (!route) {
      log(404);
      res.writeHead(404).end('not found');
      return;
    }
    const n = (served.get(p) ?? 0) + 1;
    served.set(p, n);
    if (route.redirect) {
      log(302);
      res.writeHead(302, { location: route.redirect }).end();
      return;
    }
    if (route.status) {
      log(route.status);
      res.writeHead(route.status).end();
      return;
    }
    const body = route.body ?? Buffer.alloc(0);
    let start = 0;
    let status = 200;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m && route.ranges !== false) {
      start = Number(m[1]);
      if (start >= body.length) {
        log(416);
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    if (route.ranges !== false) headers['accept-ranges'] = 'bytes';
    const slice = body.subarray(start);
    if (!route.noLength) headers['content-length'] = slice.length;
    log(status);
    res.writeHead(status, headers);
    if (route.dropAfter !== undefined && n <= (route.times ?? 1)) {
      res.write(slice.subarray(0, route.dropAfter), () => {
        // Let the bytes leave, then cut the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    routes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
