/**
 * Downloads honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY (undici's EnvHttpProxyAgent), with resume
 * and checksums unchanged, against a loopback proxy and a loopback file server.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { DatasetError } from '../../src/data/types';
import { downloadFile } from '../../src/io/download';
import { startServer, TestServer } from '../helpers/http-server';
import { startProxy, TestProxy } from '../helpers/http-proxy';

const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
const saved: Record<string, string | undefined> = {};
let tmp: string;
let server: TestServer;
let proxy: TestProxy;

const body = Buffer.from(crypto.createHash('sha256').update('proxy').digest('hex').repeat(2000));
const md5 = crypto.createHash('md5').update(body).digest('hex');

beforeEach(async () => {
  for (const k of PROXY_VARS) {
    saved[k] = process.env[k];
    delete process.env[k];
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'download-proxy-'));
  server = await startServer({ '/f.bin': { body }, '/drop.bin': { body, dropAfter: 30_000 } });
  proxy = await startProxy();
});

afterEach(async () => {
  for (const k of PROXY_VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await server.close();
  await proxy.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const hostPort = (): string => new URL(server.url).host;

test('HTTP_PROXY: the download goes through the proxy, checksum verified', async () => {
  process.env.HTTP_PROXY = proxy.url;
  const dest = path.join(tmp, 'f.bin');
  const r = await downloadFile(`${server.url}/f.bin`, dest, { md5 });
  expect(fs.readFileSync(dest).equals(body)).toBe(true);
  expect(r.md5).toBe(md5);
  expect(proxy.log.length).toBeGreaterThan(0);
  expect(proxy.log.every((l) => l.includes(hostPort()))).toBe(true);
  expect(server.requests).toEqual([{ path: '/f.bin', range: null, status: 200 }]);
});

test('lower-case http_proxy works too, and a dropped transfer resumes through the proxy', async () => {
  process.env.http_proxy = proxy.url;
  const dest = path.join(tmp, 'drop.bin');
  const r = await downloadFile(`${server.url}/drop.bin`, dest, { md5 });
  expect(fs.readFileSync(dest).equals(body)).toBe(true);
  expect(r.resumed).toBe(true);
  expect(server.requests.map((q) => q.status)).toEqual([200, 206]);
  expect(proxy.log.length).toBeGreaterThan(0);
});

test('NO_PROXY naming the host bypasses the proxy', async () => {
  process.env.HTTP_PROXY = proxy.url;
  process.env.NO_PROXY = 'example.org,127.0.0.1';
  const dest = path.join(tmp, 'f.bin');
  await downloadFile(`${server.url}/f.bin`, dest, { md5 });
  expect(fs.readFileSync(dest).equals(body)).toBe(true);
  expect(proxy.log).toEqual([]);
  expect(server.requests).toHaveLength(1);
});

test('HTTPS_PROXY does not apply to http:// URLs; no proxy variable means a direct connection', async () => {
  process.env.HTTPS_PROXY = proxy.url;
  await downloadFile(`${server.url}/f.bin`, path.join(tmp, 'f.bin'), { md5 });
  expect(proxy.log).toEqual([]);
});

test('an unreachable proxy is a retried network error that names the cause', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  process.env.HTTP_PROXY = `http://127.0.0.1:${port}`;
  const err = await downloadFile(`${server.url}/f.bin`, path.join(tmp, 'f.bin'), { md5, retries: 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as Error).message).toMatch(/failed after 2 attempt\(s\): .*ECONNREFUSED/);
  expect(server.requests).toEqual([]);
});

test('a server that stops sending times out after timeoutMs and is retried', async () => {
  const stall = net.createServer((s) => {
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc')); // then nothing
  });
  await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', () => resolve()));
  const port = (stall.address() as net.AddressInfo).port;
  try {
    const t0 = Date.now();
    const err = await downloadFile(`http://127.0.0.1:${port}/x`, path.join(tmp, 'x'), { retries: 1, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toMatch(/failed after 2 attempt\(s\)/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  } finally {
    await new Promise<void>((resolve) => {
      stall.close(() => resolve());
      // (the stalled sockets are destroyed by the client's timeout)
    });
  }
});
