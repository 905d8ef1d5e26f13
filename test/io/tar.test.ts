import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TarArchive, TarError, extractTar, indexTarFile, listTar, normalizeMemberName, readTarMembers, safeMemberPath } from '../../src/io/tar';
import { WriterEntry, gzip, writeTar, writeTarGz } from '../helpers/tar-writer';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tar-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function put(name: string, data: Buffer): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, data);
  return p;
}

/** Every path under dir, relative, sorted (symlinks not followed). */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      const st = fs.lstatSync(path.join(d, n));
      if (st.isDirectory()) walk(path.join(d, n), r);
    }
  };
  walk(dir, '');
  return out;
}

const BASIC: WriterEntry[] = [
  { name: 'root/', type: 'directory' },
  { name: 'root/a.txt', data: 'hello' },
  { name: 'root/sub/b.bin', data: Buffer.alloc(1000, 7) },
  { name: 'root/empty', data: '' },
  { name: 'root/exact', data: Buffer.alloc(512, 1) },
];

describe('reading', () => {
  test.each([
    ['plain', (e: WriterEntry[]) => writeTar(e)],
    ['gzip', (e: WriterEntry[]) => writeTarGz(e)],
  ])('lists and reads members of a %s ustar archive', async (_kind, make) => {
    const file = put('a.tar', make(BASIC));
    const entries = await listTar(file);
    expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['root/', 'directory', 0],
      ['root/a.txt', 'file', 5],
      ['root/sub/b.bin', 'file', 1000],
      ['root/empty', 'file', 0],
      ['root/exact', 'file', 512],
    ]);
    expect(entries[1].mtime).toBe(1_600_000_000);
    expect(entries[1].mode).toBe(0o644);
    const m = await readTarMembers(file, ['./root/a.txt', 'root/sub/b.bin', 'root/empty']);
    expect(m.get('root/a.txt')?.toString()).toBe('hello');
    expect(m.get('root/sub/b.bin')).toEqual(Buffer.alloc(1000, 7));
    expect(m.get('root/empty')?.length).toBe(0);
    expect(m.has('root/exact')).toBe(false);
    const byPredicate = await readTarMembers(file, (e) => e.name.endsWith('exact'));
    expect([...byPredicate.keys()]).toEqual(['root/exact']);
  });

  test('GNU long names and long link names', async () => {
    const long = `dir/${'x'.repeat(150)}/${'y'.repeat(120)}.jpg`;
    const file = put('g.tgz', writeTarGz([{ name: long, data: 'img' }, { name: 'lnk', type: 'symlink', linkname: 'z'.repeat(200) }], { format: 'gnu' }));
    const entries = await listTar(file);
    expect(entries.map((e) => e.name)).toEqual([long, 'lnk']);
    expect(entries[1].linkname).toBe('z'.repeat(200));
    expect((await readTarMembers(file, [long])).get(long)?.toString()).toBe('img');
  });

  test('pax per-entry and global headers, ustar prefix, base-256 sizes, v7 folders', async () => {
    const paxName = `p/${'é'.repeat(80)}/${'q'.repeat(60)}.txt`;
    const prefixName = `${'d'.repeat(120)}/file.txt`;
    const file = put(
      'p.tar',
      writeTar(
        [
          { name: paxName, data: 'pax' },
          { name: prefixName, data: 'prefix', longName: 'prefix' },
          { name: 'short', data: 'big', base256Size: true },
          { name: 'renamed-by-pax', data: 'x', pax: { path: 'actual/name.txt', mtime: '1700000000.5' } },
        ],
        { globalPax: { comment: 'made by a test' } },
      ),
    );
    const entries = await listTar(file);
    expect(entries.map((e) => e.name)).toEqual([paxName, prefixName, 'short', 'actual/name.txt']);
    expect(entries[3].mtime).toBe(1_700_000_000);
    const m = await readTarMembers(file, () => true);
    expect(m.get('short')?.toString()).toBe('big');
    expect(m.get(prefixName)?.toString()).toBe('prefix');
    const v7 = put('v7.tar', writeTar([{ name: 'old/', typeflag: '\0' }, { name: 'old/f', data: 'v7' }], { format: 'v7' }));
    expect((await listTar(v7)).map((e) => [e.name, e.type])).toEqual([
      ['old/', 'directory'],
      ['old/f', 'file'],
    ]);
  });

  test('an archive without end blocks is read up to its last member', async () => {
    const file = put('n.tar', writeTar([{ name: 'f', data: 'abc' }], { noEndBlocks: true }));
    expect((await listTar(file)).map((e) => e.name)).toEqual(['f']);
    expect(indexTarFile(file).map((e) => e.name)).toEqual(['f']);
  });

  test('corrupt and truncated archives are TarErrors naming the file', async () => {
    const good = writeTar(BASIC);
    const badSum = Buffer.from(good);
    badSum[512 + 10] ^= 0xff; // second header's name
    await expect(listTar(put('bad.tar', badSum))).rejects.toThrow(/bad\.tar: tar header at byte 512 has a bad checksum/);
    const truncated = good.subarray(0, 2048 + 300); // in the middle of root/sub/b.bin
    await expect(listTar(put('t.tar', truncated))).rejects.toThrow(/t\.tar is truncated: member root\/sub\/b\.bin needs 1000 bytes/);
    await expect(listTar(put('t.tgz', gzip(truncated)))).rejects.toThrow(TarError);
    const gz = writeTarGz(BASIC);
    await expect(listTar(put('cut.tgz', gz.subarray(0, gz.length - 30)))).rejects.toThrow(/cut\.tgz: gzip data is corrupt or truncated/);
    const flipped = Buffer.from(gz);
    flipped[40] ^= 0x55;
    await expect(listTar(put('flip.tgz', flipped))).rejects.toThrow(TarError);
    await expect(listTar(put('empty.tar', Buffer.alloc(0)))).rejects.toThrow(/empty\.tar: empty file/);
    await expect(listTar(put('text.tar', Buffer.from('this is not a tar archive\n'.repeat(40))))).rejects.toThrow(/bad checksum|not an octal/);
    await expect(listTar(path.join(tmp, 'missing.tar'))).rejects.toThrow(/missing\.tar does not exist/);
    expect(() => indexTarFile(put('t2.tar', truncated))).toThrow(/t2\.tar is truncated: member root\/sub\/b\.bin/);
  });

  test('names: normalisation and safety', () => {
    expect(normalizeMemberName('./a//b/./c/')).toBe('a/b/c');
    expect(safeMemberPath('./a/b/', 'x.tar')).toBe('a/b');
    for (const bad of ['../a', 'a/../../b', 'a/..', '/etc/passwd', 'C:\\x', 'C:x', 'a\\..\\b', 'a\0b']) {
      expect(() => safeMemberPath(bad, 'x.tar')).toThrow(TarError);
    }
  });
});

describe('safe extraction', () => {
  test('extracts files and folders, merging into an existing target', async () => {
    const file = put('a.tgz', writeTarGz([{ name: './', type: 'directory' }, ...BASIC]));
    const target = path.join(tmp, 'out');
    fs.mkdirSync(path.join(target, 'root'), { recursive: true });
    fs.writeFileSync(path.join(target, 'root', 'kept.txt'), 'mine');
    const r = await extractTar(file, target);
    expect(r.files.sort()).toEqual(['root/a.txt', 'root/empty', 'root/exact', 'root/sub/b.bin']);
    expect(r.bytes).toBe(5 + 1000 + 512);
    expect(fs.readFileSync(path.join(target, 'root/a.txt'), 'utf8')).toBe('hello');
    expect(fs.readFileSync(path.join(target, 'root/sub/b.bin'))).toEqual(Buffer.alloc(1000, 7));
    expect(fs.readFileSync(path.join(target, 'root/kept.txt'), 'utf8')).toBe('mine');
    expect(tree(target)).toEqual(['root', 'root/a.txt', 'root/empty', 'root/exact', 'root/kept.txt', 'root/sub', 'root/sub/b.bin']);
  });

  test('a filter selects members', async () => {
    const file = put('a.tar', writeTar(BASIC));
    const target = path.join(tmp, 'out');
    const r = await extractTar(file, target, { filter: (_e, rel) => rel.endsWith('.txt') });
    expect(r.files).toEqual(['root/a.txt']);
    expect(tree(target)).toEqual(['root', 'root/a.txt']);
  });

  const hostile: Array<[string, WriterEntry, RegExp]> = [
    ['dot-dot', { name: '../evil.txt', data: 'x' }, /refusing member "\.\.\/evil\.txt": the path contains "\.\."/],
    ['nested dot-dot', { name: 'ok/../../evil.txt', data: 'x' }, /the path contains "\.\."/],
    ['absolute path', { name: '/tmp/evil.txt', data: 'x' }, /absolute path/],
    ['pax path with dot-dot', { name: 'innocent.txt', data: 'x', pax: { path: '../evil.txt' } }, /refusing member "\.\.\/evil\.txt"/],
    ['GNU long name with dot-dot', { name: `${'../'.repeat(40)}evil.txt`, data: 'x', longName: 'gnu' }, /the path contains "\.\."/],
    ['symlink', { name: 'link', type: 'symlink', linkname: '/etc' }, /refusing member "link": symlink to "\/etc"/],
    ['relative symlink', { name: 'link', type: 'symlink', linkname: '../..' }, /symlink/],
    ['hard link', { name: 'hard', type: 'hardlink', linkname: 'root/a.txt' }, /refusing member "hard": hardlink to "root\/a\.txt"/],
    ['character device', { name: 'dev', type: 'char' }, /character-device/],
    ['block device', { name: 'blk', type: 'block' }, /block-device/],
    ['fifo', { name: 'pipe', type: 'fifo' }, /fifo/],
    ['unknown type', { name: 'sparse', typeflag: 'S', data: 'x' }, /unsupported member type "S"/],
    ['backslash', { name: '..\\evil.txt', data: 'x' }, /backslash/],
  ];
  test.each(hostile)('refuses %s and writes nothing anywhere', async (_what, bad, message) => {
    const file = put('evil.tgz', writeTarGz([...BASIC, bad, { name: 'after.txt', data: 'late' }]));
    const target = path.join(tmp, 'a', 'b', 'out');
    fs.mkdirSync(target, { recursive: true });
    const before = tree(tmp);
    await expect(extractTar(file, target)).rejects.toThrow(message);
    await expect(extractTar(file, target)).rejects.toThrow(TarError);
    // Nothing was written: not outside the target, not inside it, no staging folder left.
    expect(tree(tmp)).toEqual(before);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  test('a member whose parent is a file fails cleanly as a TarError', async () => {
    const file = put('clash.tar', writeTar([{ name: 'a', data: 'file' }, { name: 'a/b.txt', data: 'x' }]));
    const target = path.join(tmp, 'out');
    await expect(extractTar(file, target)).rejects.toThrow(/clash\.tar: cannot extract member "a\/b\.txt": /);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  test('never writes through a symbolic link already in the target', async () => {
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    const target = path.join(tmp, 'out');
    fs.mkdirSync(target);
    fs.symlinkSync(outside, path.join(target, 'root'));
    const file = put('a.tar', writeTar(BASIC));
    await expect(extractTar(file, target)).rejects.toThrow(/refusing to write through the symbolic link/);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.readdirSync(target)).toEqual(['root']);
  });

  test('a refusal while moving into the target leaves nothing of the archive behind (issue 13, item 10)', async () => {
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    const target = path.join(tmp, 'data');
    fs.mkdirSync(path.join(target, 'keep'), { recursive: true });
    fs.writeFileSync(path.join(target, 'keep', 'old.txt'), 'old');
    fs.symlinkSync(outside, path.join(target, 'jpg'));
    // members that would move in first (a new folder, a file into an existing folder, a top-level file), then one refused
    const file = put('a.tar', writeTar([
      { name: 'annotations/', type: 'directory' },
      { name: 'annotations/list.txt', data: 'x' },
      { name: 'keep/new.txt', data: 'new' },
      { name: 'keep/old.txt', data: 'replaced' },
      { name: 'README', data: 'r' },
      { name: 'jpg/1.jpg', data: 'img' },
    ]));
    await expect(extractTar(file, target)).rejects.toThrow(/refusing to write through the symbolic link .*jpg/);
    expect(fs.readdirSync(target).sort()).toEqual(['jpg', 'keep']);
    expect(fs.readdirSync(path.join(target, 'keep'))).toEqual(['old.txt']);
    expect(fs.readFileSync(path.join(target, 'keep', 'old.txt'), 'utf8')).toBe('old');
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  test('a file where the archive has a folder (and the reverse) is refused before anything moves', async () => {
    const target = path.join(tmp, 'data2');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'zzz'), 'a file');
    const file = put('b.tar', writeTar([{ name: 'aaa/x.txt', data: 'x' }, { name: 'zzz/y.txt', data: 'y' }]));
    await expect(extractTar(file, target)).rejects.toThrow(/cannot extract folder .*zzz: a file of that name exists/);
    expect(fs.readdirSync(target)).toEqual(['zzz']);
  });
});

describe('random access', () => {
  test('a plain tar is indexed in place; members read by positioned reads', async () => {
    const file = put('a.tar', writeTar(BASIC));
    const cacheDir = path.join(tmp, 'cache');
    const a = await TarArchive.open(file, { cacheDir });
    expect(a.tarPath).toBe(file);
    expect(fs.existsSync(cacheDir)).toBe(false);
    expect(a.fileNames()).toEqual(['root/a.txt', 'root/sub/b.bin', 'root/empty', 'root/exact']);
    expect(a.readSync('root/a.txt').toString()).toBe('hello');
    expect(a.readSync('./root/sub/b.bin')).toEqual(Buffer.alloc(1000, 7));
    expect((await a.read('root/exact')).length).toBe(512);
    expect(a.has('root/')).toBe(false);
    expect(() => a.readSync('nope')).toThrow(/a\.tar has no file member nope/);
    a.close();
  });

  test('a gzip archive is decompressed once to the cache and reused', async () => {
    const file = put('a.tar.gz', writeTarGz(BASIC, { format: 'gnu' }));
    const cacheDir = path.join(tmp, 'cache');
    const a = await TarArchive.open(file, { cacheDir });
    expect(path.dirname(a.tarPath)).toBe(cacheDir);
    expect(path.basename(a.tarPath)).toMatch(/^a-[0-9a-f]{16}\.tar$/);
    expect(a.readSync('root/sub/b.bin')).toEqual(Buffer.alloc(1000, 7));
    a.close();
    const mtime = fs.statSync(a.tarPath).mtimeMs;
    const b = await TarArchive.open(file, { cacheDir });
    expect(b.tarPath).toBe(a.tarPath);
    expect(fs.statSync(b.tarPath).mtimeMs).toBe(mtime);
    expect(fs.readdirSync(cacheDir)).toEqual([path.basename(a.tarPath)]);
    b.close();
    // The default cache folder sits beside the archive.
    const c = await TarArchive.open(file);
    expect(path.dirname(c.tarPath)).toBe(path.join(tmp, '.spikeclip-cache'));
    c.close();
  });

  test('a corrupt gzip archive leaves no partial cache file', async () => {
    const gz = writeTarGz(BASIC);
    const file = put('cut.tgz', gz.subarray(0, gz.length - 20));
    const cacheDir = path.join(tmp, 'cache');
    await expect(TarArchive.open(file, { cacheDir })).rejects.toThrow(/cut\.tgz: gzip data is corrupt or truncated/);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });
});

function hasGnuTar(): boolean {
  try {
    return /GNU tar/.test(execFileSync('tar', ['--version'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

(hasGnuTar() ? describe : describe.skip)('interoperability with GNU tar (where installed)', () => {
  test.each(['gnu', 'pax', 'ustar'])('reads archives GNU tar writes (--format=%s)', async (format) => {
    const src = path.join(tmp, 'src');
    const longDir = format === 'ustar' ? 'd'.repeat(90) : 'd'.repeat(130);
    fs.mkdirSync(path.join(src, longDir), { recursive: true });
    fs.writeFileSync(path.join(src, longDir, 'f.bin'), Buffer.alloc(3000, 3));
    fs.writeFileSync(path.join(src, 'small.txt'), 'small');
    const file = path.join(tmp, `gnu-${format}.tar.gz`);
    execFileSync('tar', [`--format=${format}`, '-czf', file, '-C', src, '.']);
    const names = (await listTar(file)).filter((e) => e.type === 'file').map((e) => normalizeMemberName(e.name)).sort();
    expect(names).toEqual([`${longDir}/f.bin`, 'small.txt']);
    const a = await TarArchive.open(file, { cacheDir: path.join(tmp, 'c') });
    expect(a.readSync(`${longDir}/f.bin`)).toEqual(Buffer.alloc(3000, 3));
    a.close();
    const out = path.join(tmp, 'out');
    await extractTar(file, out);
    expect(fs.readFileSync(path.join(out, 'small.txt'), 'utf8')).toBe('small');
  });

  test('GNU tar reads what the test writer writes', () => {
    const long = `${'n'.repeat(120)}/x.txt`;
    for (const format of ['ustar', 'gnu'] as const) {
      const file = put(`w-${format}.tgz`, writeTarGz([{ name: 'a/', type: 'directory' }, { name: 'a/b.txt', data: 'b' }, { name: long, data: 'l' }], { format }));
      const listed = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
      expect(listed).toEqual(['a/', 'a/b.txt', long]);
    }
  });
});
