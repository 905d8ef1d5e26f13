import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openDataset } from '../../src/data/registry';
import { DatasetError } from '../../src/data/types';
import { OFFICIAL_FILES, OfficialFile, checkFile, md5File, officialFiles, verifyDataset } from '../../src/io/checksum';
import { DownloadProgress, checksumFile, downloadDataset, downloadFile, headRequest } from '../../src/io/download';
import { makeCifarFixture } from '../helpers/fixtures-cifar';
import { TestServer, startServer } from '../helpers/http-server';
import { writeTarGz } from '../helpers/tar-writer';

let tmp: string;
let server: TestServer | null = null;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'download-test-'));
});
afterEach(async () => {
  await server?.close();
  server = null;
  fs.rmSync(tmp, { recursive: true, force: true });
});

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');
/** 200 KB of deterministic, incompressible-ish bytes. */
const BODY = crypto.createHash('sha256').update('seed').digest().toString('hex').repeat(3200).slice(0, 200_000);
const body = Buffer.from(BODY);

describe('downloadFile', () => {
  test('a plain download: bytes, checksum, progress, no part file left', async () => {
    server = await startServer({ '/f.bin': { body } });
    const dest = path.join(tmp, 'sub', 'f.bin');
    const seen: DownloadProgress[] = [];
    const r = await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body), onProgress: (p) => seen.push(p) });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(r).toEqual({ path: dest, bytes: body.length, md5: md5(body), resumed: false, skipped: false, requests: 1 });
    expect(fs.existsSync(`${dest}.part`)).toBe(false);
    expect(seen[seen.length - 1]).toEqual({ file: 'f.bin', received: body.length, total: body.length, resumedFrom: 0 });
    for (let i = 1; i < seen.length; i++) expect(seen[i].received).toBeGreaterThanOrEqual(seen[i - 1].received);
    expect(server.requests).toEqual([{ path: '/f.bin', range: null, status: 200 }]);
  });

  test('an interrupted transfer resumes with a Range request', async () => {
    server = await startServer({ '/f.bin': { body, dropAfter: 70_000 } });
    const dest = path.join(tmp, 'f.bin');
    const r = await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(r.resumed).toBe(true);
    expect(server.requests.map((q) => q.status)).toEqual([200, 206]);
    const resumedAt = Number(/bytes=(\d+)-/.exec(server.requests[1].range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(70_000);
  });

  test('a part file left by an earlier run is resumed', async () => {
    server = await startServer({ '/f.bin': { body } });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(`${dest}.part`, body.subarray(0, 12_345));
    const seen: DownloadProgress[] = [];
    const r = await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body), onProgress: (p) => seen.push(p) });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(r.resumed).toBe(true);
    expect(server.requests).toEqual([{ path: '/f.bin', range: 'bytes=12345-', status: 206 }]);
    expect(seen[0]).toEqual({ file: 'f.bin', received: 12_345, total: body.length, resumedFrom: 12_345 });
  });

  test('a server without Range support: 200 instead of 206 restarts from byte 0', async () => {
    server = await startServer({ '/f.bin': { body, ranges: false } });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(`${dest}.part`, Buffer.from('garbage that must not survive'));
    const r = await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(r.resumed).toBe(false);
    expect(server.requests).toEqual([{ path: '/f.bin', range: 'bytes=29-', status: 200 }]);
  });

  test('a server without Range support that drops the connection: the retry starts over', async () => {
    server = await startServer({ '/f.bin': { body, ranges: false, dropAfter: 50_000 } });
    const dest = path.join(tmp, 'f.bin');
    await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(server.requests.map((q) => q.status)).toEqual([200, 200]);
  });

  test('a checksum mismatch deletes the downloaded file and says so', async () => {
    server = await startServer({ '/f.bin': { body } });
    const dest = path.join(tmp, 'f.bin');
    const wrong = '0'.repeat(32);
    await expect(downloadFile(`${server.url}/f.bin`, dest, { md5: wrong })).rejects.toThrow(DatasetError);
    await expect(downloadFile(`${server.url}/f.bin`, dest, { md5: wrong })).rejects.toThrow(
      new RegExp(`checksum mismatch for f\\.bin from .*: expected MD5 0{32}, got ${md5(body)}; the downloaded file was deleted`),
    );
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  test('a file already there with the right checksum is not fetched again; a wrong one is replaced', async () => {
    server = await startServer({ '/f.bin': { body } });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(dest, body);
    expect((await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) })).skipped).toBe(true);
    expect(server.requests).toEqual([]);
    fs.writeFileSync(dest, 'stale');
    expect((await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) })).skipped).toBe(false);
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
  });

  test('a complete part file (416 on resume) is verified and kept', async () => {
    server = await startServer({ '/f.bin': { body } });
    const dest = path.join(tmp, 'f.bin');
    fs.writeFileSync(`${dest}.part`, body);
    const r = await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(r.resumed).toBe(false);
    expect(server.requests.map((q) => q.status)).toEqual([416]);
  });

  test('HTTP errors are not retried; redirects are followed; chunked bodies work', async () => {
    server = await startServer({ '/gone': { status: 404 }, '/moved': { redirect: '/f.bin' }, '/f.bin': { body, noLength: true } });
    await expect(downloadFile(`${server.url}/gone`, path.join(tmp, 'g'), {})).rejects.toThrow(/downloading http:\/\/127\.0\.0\.1:\d+\/gone failed: HTTP 404 \(not found\)/);
    expect(server.requests).toHaveLength(1);
    const r = await downloadFile(`${server.url}/moved`, path.join(tmp, 'm.bin'), { md5: md5(body) });
    expect(r.bytes).toBe(body.length);
    expect(server.requests.map((q) => [q.path, q.status])).toEqual([
      ['/gone', 404],
      ['/moved', 302],
      ['/f.bin', 200],
    ]);
  });

  test('retries run out: the part file is kept for the next run, which resumes', async () => {
    server = await startServer({ '/f.bin': { body, dropAfter: 30_000, times: 2 } });
    const dest = path.join(tmp, 'f.bin');
    await expect(downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body), retries: 1 })).rejects.toThrow(/failed after 2 attempt\(s\): .*run the command again to resume from \d+ bytes/);
    expect(fs.statSync(`${dest}.part`).size).toBeGreaterThan(0);
    const r = await downloadFile(`${server.url}/f.bin`, dest, { md5: md5(body) });
    expect(r.resumed).toBe(true);
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
  });

  test('bad URLs', async () => {
    await expect(downloadFile('ftp://example.invalid/x', path.join(tmp, 'x'))).rejects.toThrow(/unsupported URL scheme/);
    await expect(downloadFile('not a url', path.join(tmp, 'x'))).rejects.toThrow(/bad download URL/);
  });
});

describe('checksums', () => {
  test('md5 of a file, and checkFile', async () => {
    fs.writeFileSync(path.join(tmp, 'abc'), 'abc');
    expect(await md5File(path.join(tmp, 'abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(await checkFile(path.join(tmp, 'abc'), '900150983CD24FB0D6963F7D28E17F72')).toEqual(expect.objectContaining({ found: true, ok: true, bytes: 3 }));
    expect(await checkFile(path.join(tmp, 'nope'), 'x')).toEqual(expect.objectContaining({ found: false, ok: false }));
  });

  test('the published MD5s of the official archives', () => {
    const table = Object.fromEntries(OFFICIAL_FILES.map((f) => [f.file, f.md5]));
    expect(table).toEqual({
      'cifar-10-python.tar.gz': 'c58f30108f718f92721af3b95e74349a',
      'cifar-10-binary.tar.gz': 'c32a1d4ab5d03f1284b67883e8d87530',
      'cifar-100-python.tar.gz': 'eb9058c3a382ffc7106e4002c42a8d85',
      'cifar-100-binary.tar.gz': '03b5dce01913d631647c71ecec9e9cb8',
      '102flowers.tgz': '52808999861908f626f3c1f4e79d11fa',
      'imagelabels.mat': 'e0620be6f572b9609742df49c70aed4d',
      'setid.mat': 'a5357ecc9cb78c4bef273ce3793fc85c',
      'images.tar.gz': '5c4f3ee8e5d25df40f4fd59a7f44e54c',
      'annotations.tar.gz': '95a8c909bbe2e81eed6a22bccdf3f68f',
    });
    expect(OFFICIAL_FILES.every((f) => f.url.startsWith('https://') && f.url.endsWith(`/${f.file}`))).toBe(true);
    expect(officialFiles('cifar10').map((f) => f.file)).toEqual(['cifar-10-binary.tar.gz']);
    expect(officialFiles('cifar100', 'python').map((f) => f.file)).toEqual(['cifar-100-python.tar.gz']);
    expect(officialFiles('flowers102').map((f) => f.file)).toEqual(['102flowers.tgz', 'imagelabels.mat', 'setid.mat']);
    expect(() => officialFiles('shapes')).toThrow(/no official files are known for dataset "shapes"; downloadable datasets: cifar10, cifar100, flowers102, pets/);
  });

  test('verifyDataset reports found/missing and mismatching files', async () => {
    fs.mkdirSync(path.join(tmp, 'flowers-102'));
    fs.writeFileSync(path.join(tmp, 'flowers-102', 'setid.mat'), 'not the real one');
    const checks = await verifyDataset('flowers102', tmp);
    expect(checks.map((c) => [c.file, c.found, c.ok])).toEqual([
      ['102flowers.tgz', false, false],
      ['imagelabels.mat', false, false],
      ['setid.mat', true, false],
    ]);
    expect(checks[2].actual).toBe(md5(Buffer.from('not the real one')));
  });
});

describe('downloadDataset', () => {
  test('download, verify, extract safely, then the dataset opens from the extracted folder', async () => {
    const src = path.join(tmp, 'src');
    const fx = makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'archive', dir: src });
    const archive = fs.readFileSync(fx.path);
    server = await startServer({ '/kriz/cifar-10-binary.tar.gz': { body: archive, dropAfter: 2000 } });
    const files: OfficialFile[] = [{ ...officialFiles('cifar10')[0], md5: md5(archive), size: undefined }];
    const dataDir = path.join(tmp, 'data');
    const steps: string[] = [];
    const out = await downloadDataset('cifar10', { dataDir, files, urlFor: (f) => `${server?.url}/kriz/${f.file}`, onStep: (s) => steps.push(`${s.action} ${s.file}`) });
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual(expect.objectContaining({ file: 'cifar-10-binary.tar.gz', resumed: true, extractedFiles: 8 }));
    expect(steps).toEqual(['download cifar-10-binary.tar.gz', 'extract cifar-10-binary.tar.gz']);
    expect(fs.readdirSync(path.join(dataDir, 'cifar-10-batches-bin')).sort()).toEqual(['batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'readme.html', 'test_batch.bin']);
    expect((await openDataset('cifar10', { dataDir, split: 'test' })).size).toBe(4);
    // Again: verified in place, not fetched.
    const again = await downloadDataset('cifar10', { dataDir, files, urlFor: (f) => `${server?.url}/kriz/${f.file}`, extract: false });
    expect(again[0].skipped).toBe(true);
  });

  test('against the official checksums a different file is refused before extraction', async () => {
    const archive = writeTarGz([{ name: 'cifar-10-batches-bin/test_batch.bin', data: 'x' }]);
    server = await startServer({ '/cifar-10-binary.tar.gz': { body: archive } });
    const dataDir = path.join(tmp, 'data');
    await expect(downloadDataset('cifar10', { dataDir, urlFor: (f) => `${server?.url}/${f.file}` })).rejects.toThrow(/checksum mismatch for cifar-10-binary\.tar\.gz .*expected MD5 c32a1d4ab5d03f1284b67883e8d87530/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  test('a hostile archive with the right checksum is still refused by the safe extractor', async () => {
    const evil = writeTarGz([{ name: '../escaped.txt', data: 'x' }]);
    server = await startServer({ '/evil.tar.gz': { body: evil } });
    const dataDir = path.join(tmp, 'data');
    const files: OfficialFile[] = [{ dataset: 'x', file: 'evil.tar.gz', url: `${server.url}/evil.tar.gz`, md5: md5(evil), archive: true }];
    await expect(downloadDataset('x', { dataDir, files })).rejects.toThrow(/refusing member "\.\.\/escaped\.txt"/);
    expect(fs.existsSync(path.join(tmp, 'escaped.txt'))).toBe(false);
    expect(fs.readdirSync(dataDir)).toEqual(['evil.tar.gz']);
  });
});

describe('other checksums and extra headers', () => {
  test('git blob SHA-1 and SHA-256 as git and sha256sum compute them; a mismatch deletes the file', async () => {
    const f = path.join(tmp, 'hello.txt');
    fs.writeFileSync(f, 'hello\n');
    expect(await checksumFile(f, 'git-blob-sha1')).toBe('ce013625030ba8dba906f756967f9e9ca394464a'); // git hash-object
    expect(await checksumFile(f, 'sha256')).toBe('5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
    server = await startServer({ '/f.bin': { body } });
    const sha = crypto.createHash('sha256').update(body).digest('hex');
    const dest = path.join(tmp, 'f.bin');
    expect((await downloadFile(`${server.url}/f.bin`, dest, { checksum: { algorithm: 'sha256', hex: sha } })).skipped).toBe(false);
    expect((await downloadFile(`${server.url}/f.bin`, dest, { checksum: { algorithm: 'sha256', hex: sha } })).skipped).toBe(true);
    await expect(downloadFile(`${server.url}/f.bin`, path.join(tmp, 'g.bin'), { checksum: { algorithm: 'sha256', hex: '0'.repeat(64) } })).rejects.toThrow(/checksum mismatch .*sha256/);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('g.bin'))).toEqual([]);
  });

  test('headRequest follows a redirect within the origin and returns one to another origin as it is', async () => {
    const other = await startServer({ '/x': { body } });
    try {
      server = await startServer({ '/old': { redirect: '/new' }, '/new': { redirect: `${other.url}/x` } });
      const r = await headRequest(`${server.url}/old`);
      expect(r.status).toBe(302);
      expect(r.url).toBe(`${server.url}/new`);
      expect(r.headers.get('location')).toBe(`${other.url}/x`);
      expect(other.requests).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
