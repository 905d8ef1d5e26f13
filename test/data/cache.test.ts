import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cachePath, defaultCacheDir, ViewCache, ViewCacheKey } from '../../src/data/cache';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-cache-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const KEY: ViewCacheKey = { dataset: 'folder:/x/y', split: 'train', view: 'student32', fingerprint: 'abc' };
const SHAPE = { count: 3, width: 2, height: 2, channels: 3 };
const item = (v: number): Uint8Array => new Uint8Array(12).fill(v);

describe('defaultCacheDir', () => {
  it('prefers SPIKECLIP_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultCacheDir({ SPIKECLIP_CACHE: '/tmp/c1', XDG_CACHE_HOME: '/tmp/x' })).toBe('/tmp/c1');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/tmp/x' })).toBe(path.join('/tmp/x', 'spikeclip'));
    expect(defaultCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'spikeclip'));
  });
});

describe('ViewCache', () => {
  it('is invisible until complete, then reopens read-only with the same bytes and skip marks', () => {
    const c = ViewCache.open(root, KEY, SHAPE);
    expect(c.complete).toBe(false);
    c.write(0, item(7));
    c.markBad(1);
    expect(c.finish()).toBe(false); // sample 2 missing
    expect(fs.existsSync(cachePath(root, KEY))).toBe(false);
    expect(c.missing()).toEqual([2]);
    expect(Array.from(c.read(0))).toEqual(Array.from(item(7)));
    c.write(2, item(9));
    expect(c.finish()).toBe(true);
    expect(fs.existsSync(cachePath(root, KEY))).toBe(true);
    // no temporary files left
    expect(fs.readdirSync(path.dirname(cachePath(root, KEY)))).toEqual([path.basename(cachePath(root, KEY))]);
    c.close();

    const r = ViewCache.open(root, KEY, SHAPE);
    expect(r.complete).toBe(true);
    expect(r.isBad(1)).toBe(true);
    expect(r.has(1)).toBe(true);
    expect(Array.from(r.read(2))).toEqual(Array.from(item(9)));
    expect(() => r.read(1)).toThrow(/no pixels for sample 1/);
    r.write(0, item(1)); // ignored on a complete cache
    expect(Array.from(r.read(0))).toEqual(Array.from(item(7)));
    r.close();
  });

  it('deletes an unfinished build on close', () => {
    const c = ViewCache.open(root, KEY, SHAPE);
    c.write(0, item(1));
    c.close();
    expect(fs.readdirSync(path.dirname(cachePath(root, KEY)))).toEqual([]);
  });

  it('keys files by dataset, split, view and fingerprint', () => {
    const paths = new Set([
      cachePath(root, KEY),
      cachePath(root, { ...KEY, split: 'test' }),
      cachePath(root, { ...KEY, view: 'teacher224' }),
      cachePath(root, { ...KEY, fingerprint: 'abd' }),
    ]);
    expect(paths.size).toBe(4);
    expect(cachePath(root, KEY).startsWith(path.join(root, 'views', 'folder_x_y'))).toBe(true);
  });

  it('rebuilds a damaged or mismatching file', () => {
    const c = ViewCache.open(root, KEY, SHAPE);
    for (let i = 0; i < 3; i++) c.write(i, item(i));
    c.finish();
    c.close();
    const p = cachePath(root, KEY);
    fs.truncateSync(p, fs.statSync(p).size - 1);
    const again = ViewCache.open(root, KEY, SHAPE);
    expect(again.complete).toBe(false);
    again.close();
    fs.writeFileSync(p, 'garbage');
    const third = ViewCache.open(root, KEY, SHAPE);
    expect(third.complete).toBe(false);
    third.close();
  });

  it('removes temporary files of processes that no longer run', () => {
    const p = cachePath(root, KEY);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    const stale = path.join(path.dirname(p), `.${path.basename(p)}.building-999999999-abcdef`);
    const live = path.join(path.dirname(p), `.${path.basename(p)}.building-${process.pid}-abcdef`);
    fs.writeFileSync(stale, 'x');
    fs.writeFileSync(live, 'x');
    const c = ViewCache.open(root, KEY, SHAPE);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    c.close();
  });

  it('validates sizes', () => {
    const c = ViewCache.open(root, KEY, SHAPE);
    expect(() => c.write(0, new Uint8Array(5))).toThrow(/expected 12/);
    c.close();
    expect(() => ViewCache.open(root, KEY, { ...SHAPE, width: 0 })).toThrow(/width/);
  });
});
