import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { Batch, DataLoader, epochOrder, fingerprintSources } from '../../src/data/loader';
import { openShapes } from '../../src/data/shapes';
import { openDataset } from '../../src/data/registry';
import * as transforms from '../../src/data/transforms';
import { normalise, studentView, teacherView } from '../../src/data/transforms';
import { DatasetError, DatasetSplit, ImageSource } from '../../src/data/types';

let tmp: string;
let files: string[];
const N = 10;

/** A folder-like split over encoded files (what the image-folder dataset hands the loader). */
function fileSplit(paths: string[], name = 'testfolder'): DatasetSplit {
  return {
    dataset: name,
    split: 'train',
    classNames: ['a', 'b'],
    size: paths.length,
    sample: (i) => ({ index: i, label: i % 2, id: path.basename(paths[i]) }),
    source: (i): ImageSource => ({ kind: 'file', path: paths[i] }),
    files: paths,
  };
}

async function collect(loader: DataLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-loader-'));
  const dir = path.join(tmp, 'imgs');
  fs.mkdirSync(dir);
  files = [];
  for (let i = 0; i < N; i++) {
    const w = 40 + 8 * i;
    const h = 36 + 4 * (i % 3);
    const data = Buffer.alloc(w * h * 3);
    for (let k = 0; k < data.length; k++) data[k] = (k * 3 + i * 29) & 255;
    const ext = ['jpg', 'png', 'webp'][i % 3];
    const f = path.join(dir, `img${i}.${ext}`);
    const s = sharp(data, { raw: { width: w, height: h, channels: 3 } });
    await (ext === 'jpg' ? s.jpeg() : ext === 'png' ? s.png() : s.webp()).toFile(f);
    files.push(f);
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let cacheDir: string;
beforeEach(() => {
  cacheDir = fs.mkdtempSync(path.join(tmp, 'cache-'));
});
afterEach(() => jest.restoreAllMocks());

describe('order and batching', () => {
  it('draws a permutation per (seed, epoch)', () => {
    const a = epochOrder(50, 3, 0);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(epochOrder(50, 3, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(50, 3, 1))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(50, 4, 0))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(5, 3, 0, false))).toEqual([0, 1, 2, 3, 4]);
  });

  it('visits every sample once per epoch, with or without the last partial batch', async () => {
    const split = await openShapes('val', { sizes: { val: 23 } });
    const view = studentView({ resize: 'direct' });
    const keep = new DataLoader(split, { view, batchSize: 5, seed: 1 });
    expect(keep.batchesPerEpoch).toBe(5);
    expect(keep.workers).toBe(0); // 32x32 pixels under the direct view: nothing to decode
    expect(keep.cacheFile).toBeUndefined();
    const batches = await collect(keep, 0);
    expect(batches.map((b) => b.labels.length)).toEqual([5, 5, 5, 5, 3]);
    expect(batches.flatMap((b) => Array.from(b.indices)).sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    const drop = new DataLoader(split, { view, batchSize: 5, seed: 1, dropLast: true });
    expect((await collect(drop, 0)).map((b) => b.labels.length)).toEqual([5, 5, 5, 5]);
    const ordered = new DataLoader(split, { view, batchSize: 10, shuffle: false });
    expect(Array.from((await collect(ordered, 0))[0].indices)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await Promise.all([keep.close(), drop.close(), ordered.close()]);
  });

  it('yields NHWC float batches with labels, indices and captions', async () => {
    const split = await openShapes('test', { sizes: { test: 8 } });
    const loader = new DataLoader(split, { view: studentView({ resize: 'direct' }), batchSize: 4, shuffle: false });
    const [b] = await collect(loader, 0);
    expect(b.shape).toEqual([4, 32, 32, 3]);
    expect(b.images).toBeInstanceOf(Float32Array);
    expect(b.images).toHaveLength(4 * 32 * 32 * 3);
    expect(b.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(b.labels)).toEqual([0, 1, 2, 3]);
    expect(b.captions).toEqual([0, 1, 2, 3].map((i) => split.sample(i).caption));
    const src = split.source(2);
    if (src.kind !== 'rgb') throw new Error('expected pixels');
    expect(Array.from(b.images.subarray(2 * 3072, 3 * 3072))).toEqual(Array.from(normalise(src.image)));
    await loader.close();
  });

  it('open() prepares the split first (lazy shapes render to pixels: no decoding, no cache)', async () => {
    const split = await openShapes('val', { sizes: { val: 8 }, render: 'lazy' });
    const loader = await DataLoader.open(split, { view: studentView({ resize: 'direct' }), batchSize: 8, cacheDir });
    expect(split.render).toBe('rgb');
    expect(loader.workers).toBe(0);
    expect(loader.cacheFile).toBeUndefined();
    await collect(loader, 0);
    expect(loader.stats.decoded).toBe(0);
    await loader.close();
  });

  it('validates options', async () => {
    const split = await openShapes('val', { sizes: { val: 2 } });
    expect(() => new DataLoader(split, { view: teacherView(), batchSize: 0 })).toThrow(DatasetError);
    expect(() => new DataLoader(split, { view: teacherView(), batchSize: 1, prefetch: -1 })).toThrow(/prefetch/);
    expect(() => new DataLoader(split, { view: teacherView(), batchSize: 1, workers: -2, cache: false })).toThrow(/workers/);
    const empty = await openShapes('val', { sizes: { val: 0 } });
    const l = new DataLoader(empty, { view: teacherView(), batchSize: 4 });
    expect(await collect(l, 0)).toEqual([]);
    await l.close();
  });
});

describe('decoding and the cache', () => {
  it('decodes JPEG/PNG/WebP files once: the second epoch and a new run read no image file', async () => {
    const spy = jest.spyOn(transforms, 'applyView');
    const split = fileSplit(files);
    const opts = { view: studentView(), batchSize: 4, seed: 2, workers: 0, cacheDir };
    const loader = new DataLoader(split, opts);
    expect(loader.cacheFile).toBeDefined();
    const e0 = await collect(loader, 0);
    expect(spy).toHaveBeenCalledTimes(N);
    expect(loader.stats.decodedEncoded).toBe(N);
    expect(loader.cacheComplete).toBe(true);
    expect(fs.existsSync(loader.cacheFile!)).toBe(true);
    const e1 = await collect(loader, 1);
    expect(spy).toHaveBeenCalledTimes(N); // no further decoding
    expect(loader.stats.decodedEncoded).toBe(N);
    expect(loader.stats.cacheHits).toBe(N);
    await loader.close();
    // Same samples, different order, same pixels per sample.
    const byIndex = (bs: Batch[]): Map<number, string> => {
      const m = new Map<number, string>();
      for (const b of bs) b.indices.forEach((i, k) => m.set(i, Buffer.from(b.images.buffer, k * 3072 * 4, 3072 * 4).toString('hex')));
      return m;
    };
    expect(byIndex(e1)).toEqual(byIndex(e0));

    const again = new DataLoader(split, opts);
    expect(again.cacheComplete).toBe(true);
    const r = await collect(again, 0);
    expect(spy).toHaveBeenCalledTimes(N);
    expect(again.stats.decoded).toBe(0);
    expect(byIndex(r)).toEqual(byIndex(e0));
    await again.close();
  });

  it('finishes the cache after a drop_last epoch by adding the samples it did not visit', async () => {
    const loader = new DataLoader(fileSplit(files), { view: studentView({ resize: 'direct' }), batchSize: 4, dropLast: true, workers: 0, cacheDir });
    const bs = await collect(loader, 0);
    expect(bs).toHaveLength(2);
    expect(loader.stats.decodedEncoded).toBe(N);
    expect(loader.cacheComplete).toBe(true);
    await collect(loader, 1);
    expect(loader.stats.decodedEncoded).toBe(N);
    await loader.close();
  });

  it('decodes on worker threads with the same result as the main thread', async () => {
    const split = fileSplit(files);
    const main = new DataLoader(split, { view: teacherView(), batchSize: 5, workers: 0, cache: false });
    const pool = new DataLoader(split, { view: teacherView(), batchSize: 5, workers: 2, cache: false });
    expect(pool.workers).toBe(2);
    const a = await collect(main, 0);
    const b = await collect(pool, 0);
    expect(pool.stats.decodedEncoded).toBe(N);
    expect(b.map((x) => Array.from(x.indices))).toEqual(a.map((x) => Array.from(x.indices)));
    for (let k = 0; k < a.length; k++) expect(Buffer.compare(Buffer.from(b[k].images.buffer), Buffer.from(a[k].images.buffer))).toBe(0);
    expect(a[0].shape).toEqual([5, 224, 224, 3]);
    await Promise.all([main.close(), pool.close()]);
  });

  it('keeps the next batch ready while the caller blocks the main thread (prefetch on workers)', async () => {
    const split = fileSplit([...files, ...files, ...files]);
    const loader = new DataLoader(split, { view: teacherView(), batchSize: 10, workers: 1, prefetch: 1, cache: false });
    const it = loader.epoch(0);
    await it.next();
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      /* a synchronous "training step" */
    }
    const t1 = Date.now();
    const r = await it.next();
    const waited = Date.now() - t1;
    expect(r.done).toBe(false);
    // Decoding 10 images to 224x224 took place during the step; only batch assembly remains.
    expect(waited).toBeLessThan(400);
    await it.return(undefined);
    await loader.close();
  });

  it('fingerprints sources when the split has no fingerprint, so changed files invalidate the cache', () => {
    const a = fingerprintSources(fileSplit(files));
    expect(fingerprintSources(fileSplit(files))).toBe(a);
    expect(fingerprintSources(fileSplit(files.slice(1)))).not.toBe(a);
    const bytes: DatasetSplit = {
      ...fileSplit(files),
      source: (i) => ({ kind: 'bytes', bytes: fs.readFileSync(files[i]), name: `m${i}` }),
    };
    expect(fingerprintSources(bytes)).toMatch(/^sha256:/);
  });
});

describe('undecodable images', () => {
  let broken: string[];
  beforeAll(() => {
    const bad1 = path.join(tmp, 'imgs', 'truncated.jpg');
    fs.writeFileSync(bad1, fs.readFileSync(files[0]).subarray(0, 200));
    const bad2 = path.join(tmp, 'imgs', 'notanimage.png');
    fs.writeFileSync(bad2, 'hello');
    broken = [...files.slice(0, 4), bad1, ...files.slice(4, 7), bad2];
  });

  it('skips them with a warning and a count, and never retries them', async () => {
    const spy = jest.spyOn(transforms, 'applyView');
    const warnings: string[] = [];
    const split = fileSplit(broken);
    const opts = { view: studentView(), batchSize: 3, shuffle: false, workers: 0, cacheDir, onWarning: (m: string) => warnings.push(m) };
    const loader = new DataLoader(split, opts);
    const bs = await collect(loader, 0);
    expect(bs.map((b) => b.labels.length)).toEqual([3, 2, 2]);
    expect(loader.stats.skipped).toBe(2);
    expect(loader.stats.skippedIds).toEqual(['truncated.jpg', 'notanimage.png']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/skipping undecodable image truncated\.jpg/);
    expect(spy).toHaveBeenCalledTimes(9);
    await collect(loader, 1);
    expect(spy).toHaveBeenCalledTimes(9);
    expect(warnings).toHaveLength(2);
    await loader.close();
    // The skip marks are in the cache file too.
    const again = new DataLoader(split, opts);
    const bs2 = await collect(again, 0);
    expect(bs2.reduce((a, b) => a + b.labels.length, 0)).toBe(7);
    expect(spy).toHaveBeenCalledTimes(9);
    await again.close();
  });

  it('a corrupt JPEG inside an image folder (registry folder:DIR) is skipped and counted', async () => {
    const root = path.join(tmp, 'folder-ds');
    for (const [cls, picks] of [['ant', [0, 1, 2]], ['bee', [3, 4]]] as const) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (const k of picks) fs.copyFileSync(files[k], path.join(root, cls, path.basename(files[k])));
    }
    fs.writeFileSync(path.join(root, 'bee', 'broken.jpg'), fs.readFileSync(files[0]).subarray(0, 300));
    const split = await openDataset(`folder:${root}`, { split: 'trainval' });
    expect(split.size).toBe(6);
    const warnings: string[] = [];
    const loader = await DataLoader.open(split, { view: studentView(), batchSize: 4, cacheDir, onWarning: (m) => warnings.push(m) });
    const bs = await collect(loader, 0);
    expect(bs.reduce((a, b) => a + b.labels.length, 0)).toBe(5);
    expect(loader.stats.skipped).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/broken\.jpg/);
    await collect(loader, 1);
    expect(loader.stats.decodedEncoded).toBe(6);
    await loader.close();
  });

  it('fails on the first one with strict', async () => {
    const loader = new DataLoader(fileSplit(broken), { view: studentView(), batchSize: 3, shuffle: false, workers: 1, cache: false, strict: true });
    const e = await collect(loader, 0).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as Error).message).toMatch(/truncated\.jpg.*without strict/);
    await loader.close();
  });
});

describe('augmentation', () => {
  it('is deterministic per (augmentSeed, epoch) and changes across epochs', async () => {
    const split = await openShapes('val', { sizes: { val: 6 } });
    const mk = (augmentSeed: number): DataLoader =>
      new DataLoader(split, { view: studentView({ resize: 'direct' }), batchSize: 6, shuffle: false, augment: true, augmentSeed });
    const a = mk(1);
    const b = mk(1);
    const c = mk(2);
    const a0 = (await collect(a, 0))[0].images;
    expect(Array.from((await collect(b, 0))[0].images)).toEqual(Array.from(a0));
    expect(Array.from((await collect(a, 1))[0].images)).not.toEqual(Array.from(a0));
    expect(Array.from((await collect(c, 0))[0].images)).not.toEqual(Array.from(a0));
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});
