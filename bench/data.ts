/**
 * Data-loader throughput (the `data` suite of `npm run bench`): images/s that the loader hands to
 * the training loop, on fixtures generated here (nothing is downloaded):
 *
 * - `data/cifar-like/cached/student32`: 32x32 pixels (CIFAR-like, in memory) under the default
 *   student view (32 -> 224 bicubic -> 32), read from a complete on-disk cache: the steady state of
 *   CIFAR training from the second epoch on.
 * - `data/cifar-like/direct32`: the same pixels under the 'direct' view (identity: no cache needed).
 * - `data/jpeg-folder/teacher224` and `.../student32`: a folder of 500x375 JPEGs, first epoch
 *   (decoding on the worker pool), teacher view 224 and student view 32; `.../cached` the second.
 * - `data/jpeg-folder/teacher224/workers=N` (not with --quick): the same first epoch with 0, 1 and 2
 *   decode workers, the measurement behind the loader's default of one worker.
 * - `data/shapes/generate32`: rendering of the built-in shapes set.
 *
 * The bar: the cached path must be at least 20x faster than the default image encoder's
 * training step (`image-train` in the same run) so that data never bounds training.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { DataLoader } from '../src/data/loader';
import { rngOf } from '../src/data/rng';
import { openShapes } from '../src/data/shapes';
import { studentView, teacherView, ViewSpec } from '../src/data/transforms';
import { DatasetSplit, ImageSource, RgbImage } from '../src/data/types';
import { BenchResult, median } from './common';

export interface DataBenchOptions {
  quick?: boolean;
  reps?: number;
  /** Where fixtures and caches go (default: a fresh temporary folder, removed afterwards). */
  workDir?: string;
}

export interface DataBenchResult extends BenchResult {
  imagesPerSecond: number;
}

function rgbSplit(n: number, seed: number): DatasetSplit {
  const rng = rngOf(seed, 'bench-cifar');
  const images: RgbImage[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(32 * 32 * 3);
    for (let k = 0; k < data.length; k++) data[k] = Math.floor(rng() * 256);
    images.push({ width: 32, height: 32, data });
  }
  return {
    dataset: 'bench-cifar-like',
    split: 'train',
    classNames: Array.from({ length: 10 }, (_, k) => `class${k}`),
    size: n,
    sample: (i) => ({ index: i, label: i % 10, id: `bench:${i}` }),
    source: (i): ImageSource => ({ kind: 'rgb', image: images[i] }),
    files: [],
    fingerprint: `bench-cifar-like:${n}:${seed}`,
  };
}

async function jpegSplit(dir: string, n: number): Promise<DatasetSplit> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const W = 500;
  const H = 375;
  for (let i = 0; i < n; i++) {
    const f = path.join(dir, `img${String(i).padStart(5, '0')}.jpg`);
    // Smooth gradients plus texture: realistic JPEG sizes (~30-60 KB), not flat colour.
    const data = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 3;
        data[o] = (x + i * 7) & 255;
        data[o + 1] = (y * 2 + ((x * y) >> 6)) & 255;
        data[o + 2] = ((x ^ y) + i) & 255;
      }
    }
    await sharp(data, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toFile(f);
    files.push(f);
  }
  return {
    dataset: 'bench-jpeg-folder',
    split: 'train',
    classNames: ['a', 'b'],
    size: n,
    sample: (i) => ({ index: i, label: i % 2, id: path.basename(files[i]) }),
    source: (i): ImageSource => ({ kind: 'file', path: files[i] }),
    files,
  };
}

async function epochRate(loader: DataLoader, epoch: number): Promise<{ images: number; seconds: number }> {
  const t0 = process.hrtime.bigint();
  let images = 0;
  for await (const b of loader.epoch(epoch)) images += b.labels.length;
  return { images, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function result(name: string, runs: Array<{ images: number; seconds: number }>, details: Record<string, unknown>): DataBenchResult {
  const secs = median(runs.map((r) => r.seconds));
  const images = runs[0].images;
  const perSecond = images / secs;
  return { name, unit: 'images', perSecond, imagesPerSecond: perSecond, secondsPerRep: secs, reps: runs.length, details: { images, ...details } };
}

/** Runs the data-loader benchmarks (see the module comment). */
export async function benchData(opts: DataBenchOptions = {}): Promise<DataBenchResult[]> {
  const quick = opts.quick ?? false;
  const reps = Math.max(1, opts.reps ?? (quick ? 1 : 3));
  const own = opts.workDir === undefined;
  const work = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-bench-data-'));
  const cacheDir = path.join(work, 'cache');
  const out: DataBenchResult[] = [];
  const batchSize = 128;
  try {
    // CIFAR-like pixels, cached student view.
    const nCifar = quick ? 1024 : 4096;
    const cifar = rgbSplit(nCifar, 1);
    {
      const loader = new DataLoader(cifar, { view: studentView(), batchSize, cacheDir });
      const t0 = process.hrtime.bigint();
      await loader.prepare();
      const buildSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const runs = [];
      for (let r = 0; r < reps; r++) runs.push(await epochRate(loader, r + 1));
      out.push(result('data/cifar-like/cached/student32', runs, { batchSize, view: 'student32 reference', cacheBuildImagesPerSecond: nCifar / buildSeconds, workers: loader.workers }));
      await loader.close();
    }
    {
      const loader = new DataLoader(cifar, { view: studentView({ resize: 'direct' }), batchSize, cacheDir });
      const runs = [];
      for (let r = 0; r < reps; r++) runs.push(await epochRate(loader, r));
      out.push(result('data/cifar-like/direct32', runs, { batchSize, view: 'student32 direct (identity)', cache: false }));
      await loader.close();
    }

    // JPEG folder: first epoch (decode) and cached epochs, teacher and student views.
    const nJpeg = quick ? 48 : 256;
    const jpeg = await jpegSplit(path.join(work, 'jpeg'), nJpeg);
    const jpegBatch = 32;
    const views: Array<[string, ViewSpec]> = [
      ['teacher224', teacherView()],
      ['student32', studentView()],
    ];
    for (const [label, view] of views) {
      const first: Array<{ images: number; seconds: number }> = [];
      const cached: Array<{ images: number; seconds: number }> = [];
      for (let r = 0; r < reps; r++) {
        const dir = path.join(cacheDir, `jpeg-${label}-${r}`);
        const loader = new DataLoader(jpeg, { view, batchSize: jpegBatch, cacheDir: dir });
        first.push(await epochRate(loader, 0));
        cached.push(await epochRate(loader, 1));
        await loader.close();
      }
      out.push(result(`data/jpeg-folder/${label}`, first, { batchSize: jpegBatch, source: '500x375 JPEG q90', workers: 1, epoch: 'first (decoding)' }));
      out.push(result(`data/jpeg-folder/${label}/cached`, cached, { batchSize: jpegBatch, epoch: 'second (cache)' }));
    }
    if (!quick) {
      for (const workers of [0, 1, 2]) {
        const runs = [];
        for (let r = 0; r < reps; r++) {
          const loader = new DataLoader(jpeg, { view: teacherView(), batchSize: jpegBatch, cache: false, workers });
          runs.push(await epochRate(loader, 0));
          await loader.close();
        }
        out.push(result(`data/jpeg-folder/teacher224/workers=${workers}`, runs, { batchSize: jpegBatch, cache: false }));
      }
    }

    // Shapes generation.
    {
      const n = quick ? 256 : 1024;
      const runs = [];
      for (let r = 0; r < reps; r++) {
        const t0 = process.hrtime.bigint();
        await openShapes('train', { seed: r, sizes: { train: n }, render: 'rgb' });
        runs.push({ images: n, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
      }
      out.push(result('data/shapes/generate32', runs, { size: 32 }));
    }
  } finally {
    if (own) fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}

if (require.main === module) {
  benchData({ quick: process.argv.includes('--quick') })
    .then((rs) => {
      for (const r of rs) process.stdout.write(`${r.name.padEnd(44)} ${r.imagesPerSecond.toFixed(1).padStart(10)} images/s\n`);
    })
    .catch((e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    });
}
