/**
 * `spikeclip data download` and `spikeclip data verify` end to end: the real CLI (compiled dist/)
 * against a loopback HTTP server in this process serving generated archives in the official
 * layout. The CLI runs as an asynchronous child so the server can answer it.
 */
import { spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeCifarFixture } from '../helpers/fixtures-cifar';
import { startServer, TestServer } from '../helpers/http-server';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, SPIKECLIP_BACKEND: '', SPIKECLIP_DATA_MIRROR: '', CI: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

let tmp: string;
let archive: Buffer;
let checksums: string;
let server: TestServer | undefined;

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'data', 'download.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-data-dl-'));
  const fx = makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'archive', dir: path.join(tmp, 'src') });
  archive = fs.readFileSync(fx.path);
  checksums = path.join(tmp, 'checksums.json');
  fs.writeFileSync(checksums, JSON.stringify({ 'cifar-10-binary.tar.gz': md5(archive) }));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function freshDir(name: string): string {
  const d = path.join(tmp, name);
  fs.rmSync(d, { recursive: true, force: true });
  return d;
}

describe('spikeclip data download', () => {
  it('fetches from a mirror, verifies, extracts; the data then opens; a second run fetches nothing', async () => {
    server = await startServer({ '/m/cifar-10-binary.tar.gz': { body: archive } });
    const dir = freshDir('ok');
    const r = await cli(['data', 'download', '--dataset', 'cifar10', '--data-dir', dir, '--url-base', `${server.url}/m/`, '--checksums', checksums, '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { result: { files: Array<{ file: string; bytes: number; md5: string; skipped: boolean; extractedFiles: number; url: string }> } };
    expect(doc.result.files).toHaveLength(1);
    expect(doc.result.files[0]).toMatchObject({ file: 'cifar-10-binary.tar.gz', bytes: archive.length, md5: md5(archive), skipped: false, url: `${server.url}/m/cifar-10-binary.tar.gz` });
    expect(doc.result.files[0].extractedFiles).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin'))).toBe(true);

    const info = await cli(['data', 'info', '--dataset', 'cifar10', '--data-dir', dir, '--json']);
    expect(info.status).toBe(0);
    const sizes = Object.fromEntries((JSON.parse(info.stdout) as { result: { splits: Array<{ name: string; size: number }> } }).result.splits.map((s) => [s.name, s.size]));
    expect(sizes.trainval).toBe(15);
    expect(sizes.test).toBe(4);

    const n = server.requests.length;
    const again = await cli(['data', 'download', '--dataset', 'cifar10', '--data-dir', dir, '--url-base', `${server.url}/m`, '--checksums', checksums]);
    expect(again.status).toBe(0);
    expect(server.requests.length).toBe(n);
    expect(again.stdout).toContain('cifar-10-binary.tar.gz: already there, checksum ok');
  });

  it('resumes a dropped transfer with a Range request (mirror from SPIKECLIP_DATA_MIRROR)', async () => {
    server = await startServer({ '/cifar-10-binary.tar.gz': { body: archive, dropAfter: Math.floor(archive.length / 2) } });
    const dir = freshDir('resume');
    const r = await cli(['data', 'download', '--dataset', 'cifar10', '--data-dir', dir, '--checksums', checksums, '--no-extract'], { SPIKECLIP_DATA_MIRROR: server.url });
    expect(r.status).toBe(0);
    expect(server.requests.map((q) => q.status)).toEqual([200, 206]);
    expect(fs.readFileSync(path.join(dir, 'cifar-10-binary.tar.gz')).equals(archive)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'cifar-10-batches-bin'))).toBe(false);
  });

  it('a checksum mismatch against the published MD5 deletes the download and fails clearly', async () => {
    server = await startServer({ '/cifar-10-binary.tar.gz': { body: archive } });
    const dir = freshDir('mismatch');
    const r = await cli(['data', 'download', '--dataset', 'cifar10', '--data-dir', dir, '--url-base', server.url]);
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^Error: checksum mismatch for cifar-10-binary\.tar\.gz .*expected MD5 c32a1d4ab5d03f1284b67883e8d87530/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a missing file on the mirror is one clear line', async () => {
    server = await startServer({});
    const r = await cli(['data', 'download', '--dataset', 'pets', '--data-dir', freshDir('404'), '--url-base', server.url, '--json']);
    expect(r.status).toBe(4);
    expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(/HTTP 404/);
  });

  it('shapes needs no download; an unknown dataset lists the downloadable ones', async () => {
    const s = await cli(['data', 'download', '--dataset', 'shapes', '--data-dir', freshDir('shapes'), '--json']);
    expect(s.status).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ status: 0, result: { dataset: 'shapes', builtIn: true } });
    const u = await cli(['data', 'download', '--dataset', 'mnist', '--data-dir', freshDir('u')]);
    expect(u.status).toBe(4);
    expect(u.stderr).toMatch(/downloadable datasets: cifar10, cifar100, flowers102, pets/);
  });
});

describe('spikeclip data verify', () => {
  it('reports ok, mismatch, missing and incomplete with the right exit status', async () => {
    const dir = freshDir('verify');
    fs.mkdirSync(dir, { recursive: true });
    const none = await cli(['data', 'verify', '--dataset', 'cifar10', '--data-dir', dir]);
    expect(none.status).toBe(4);
    expect(none.stderr).toMatch(/no official cifar10 files in .*expected cifar-10-binary\.tar\.gz, cifar-10-python\.tar\.gz/);

    fs.writeFileSync(path.join(dir, 'cifar-10-binary.tar.gz'), archive);
    // Against the published MD5 our generated archive is a mismatch.
    const bad = await cli(['data', 'verify', '--dataset', 'cifar10', '--data-dir', dir]);
    expect(bad.status).toBe(4);
    expect(bad.stdout).toMatch(/cifar-10-binary\.tar\.gz\s+MISMATCH\s+md5 [0-9a-f]{32}, published c32a1d4ab5d03f1284b67883e8d87530/);
    expect(bad.stdout).toMatch(/cifar-10-python\.tar\.gz\s+missing/);
    expect(bad.stderr).toMatch(/checksum mismatch: .*cifar-10-binary\.tar\.gz has MD5/);

    // With the checksum table of this (re-packed) archive: the binary version is complete.
    const ok = await cli(['data', 'verify', '--dataset', 'cifar10', '--data-dir', dir, '--checksums', checksums, '--json']);
    expect(ok.status).toBe(0);
    const doc = JSON.parse(ok.stdout) as { result: { complete: boolean; completeVariants: string[]; missing: string[]; files: Array<{ file: string; ok: boolean }> } };
    expect(doc.result.complete).toBe(true);
    expect(doc.result.completeVariants).toEqual(['binary']);
    expect(doc.result.missing).toEqual(['cifar-10-python.tar.gz']);

    // Flowers-102 needs all three files.
    fs.writeFileSync(path.join(dir, 'setid.mat'), 'x');
    const fl = path.join(tmp, 'flowers-sums.json');
    fs.writeFileSync(fl, JSON.stringify({ 'setid.mat': md5(Buffer.from('x')) }));
    const inc = await cli(['data', 'verify', '--dataset', 'flowers102', '--data-dir', dir, '--checksums', fl]);
    expect(inc.status).toBe(4);
    expect(inc.stderr).toMatch(/flowers102 is incomplete in .*: missing 102flowers\.tgz, imagelabels\.mat/);
  });

  it('shapes has nothing to verify', async () => {
    const r = await cli(['data', 'verify', '--dataset', 'shapes', '--data-dir', tmp, '--json']);
    expect(r.status).toBe(0);
  });
});
