import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ZipArchive, ZipError, crc32 } from '../../src/io/zip';
import { TORCH_SMALL_PT } from '../helpers/pickle-goldens';
import { writeZip } from '../helpers/pickle-writer';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(enc('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('ZipArchive', () => {
  const files = [
    { name: 'a.txt', data: enc('hello') },
    { name: 'dir/', data: new Uint8Array(0) },
    { name: 'dir/b.bin', data: Uint8Array.from({ length: 1000 }, (_, i) => i % 7), deflate: true },
    { name: 'empty', data: new Uint8Array(0) },
  ];

  it.each([
    ['plain', {}],
    ['64-byte aligned (PyTorch)', { align: 64 }],
    ['zip64', { zip64: true }],
    ['with a comment', { comment: 'a comment with PK\u0005\u0006 inside' }],
  ])('reads stored and deflated entries (%s)', (_label, opts) => {
    const zip = ZipArchive.fromBytes(writeZip(files, opts), 'mem.zip');
    expect(zip.names()).toEqual(['a.txt', 'dir/', 'dir/b.bin', 'empty']);
    expect(zip.entries.get('dir/')?.isDirectory).toBe(true);
    expect(dec(zip.read('a.txt'))).toBe('hello');
    expect(zip.read('dir/b.bin')).toEqual(files[2].data);
    expect(zip.entries.get('dir/b.bin')?.method).toBe(8);
    expect(zip.read('empty').length).toBe(0);
    if ('align' in opts) expect(zip.dataOffset('a.txt') % 64).toBe(0);
  });

  it('reads a real torch.save archive (data descriptors, zip64 end records)', () => {
    const zip = ZipArchive.fromBytes(Buffer.from(TORCH_SMALL_PT, 'base64'), 'small.pt');
    expect(zip.names()).toEqual(['small/data.pkl', 'small/data/0', 'small/data/1', 'small/data/2', 'small/data/3', 'small/data/4', 'small/version']);
    expect(dec(zip.read('small/version'))).toBe('3\n');
    for (const n of zip.names()) expect(zip.dataOffset(n) % 64).toBe(0);
    expect(Array.from(new Float32Array(new Uint8Array(zip.read("small/data/0")).buffer))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('reads from a file with random access', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zip-'));
    const file = path.join(dir, 'x.zip');
    fs.writeFileSync(file, writeZip(files, { align: 64 }));
    const zip = ZipArchive.open(file);
    try {
      expect(zip.read('dir/b.bin')).toEqual(files[2].data);
      expect(dec(zip.read('a.txt'))).toBe('hello');
    } finally {
      zip.close();
    }
  });

  describe('bad input: a ZipError naming the file', () => {
    const good = writeZip(files);

    it('not a zip', () => {
      expect(() => ZipArchive.fromBytes(enc('just some text, long enough to scan'), 'x.zip')).toThrow(/^x\.zip: invalid zip archive: no end-of-central-directory record/);
      expect(() => ZipArchive.fromBytes(new Uint8Array(3), 'x.zip')).toThrow(/too small/);
    });

    it('truncated at any point', () => {
      for (const cut of [1, 10, 50, good.length - 30, good.length - 60]) {
        let err: unknown;
        try {
          const z = ZipArchive.fromBytes(good.subarray(0, good.length - cut), 't.zip');
          for (const n of z.names()) z.read(n);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ZipError);
        expect((err as Error).message).toMatch(/^t\.zip: /);
      }
    });

    it('truncated data of one entry', () => {
      // Cut the archive just after the central directory has been moved into place: rebuild with a shorter body.
      const bytes = writeZip([{ name: 'big', data: new Uint8Array(200).fill(1) }]);
      const zip = ZipArchive.fromBytes(bytes, 'c.zip');
      const e = zip.entries.get('big')!;
      e.compressedSize = bytes.length; // claims more data than the file has
      expect(() => zip.read('big')).toThrow(/c\.zip: invalid zip archive: entry big needs bytes up to \d+ but the file has \d+ \(truncated\?\)/);
    });

    it('corrupt data fails the CRC check', () => {
      const bytes = writeZip([{ name: 'a', data: enc('abcdef') }]).slice();
      const i = Buffer.from(bytes).indexOf('abcdef');
      bytes[i] ^= 1;
      expect(() => ZipArchive.fromBytes(bytes, 'crc.zip').read('a')).toThrow(/CRC-32 mismatch/);
    });

    it('corrupt deflate data', () => {
      const bytes = writeZip([{ name: 'a', data: new Uint8Array(100).fill(3), deflate: true }]).slice();
      const zip = ZipArchive.fromBytes(bytes, 'd.zip');
      const start = zip.dataOffset('a');
      bytes.fill(0xff, start, start + 3);
      expect(() => zip.read('a')).toThrow(/d\.zip: invalid zip archive: entry a: (corrupt deflate data|inflated to|CRC-32)/);
    });

    it('unknown entries and methods', () => {
      const zip = ZipArchive.fromBytes(good, 'u.zip');
      expect(() => zip.read('nope')).toThrow('u.zip: invalid zip archive: no entry named nope');
      zip.entries.get('a.txt')!.method = 12;
      expect(() => zip.read('a.txt')).toThrow(/compression method 12/);
    });
  });
});
