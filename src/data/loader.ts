/**
 * The data loader: seeded shuffling, batching, decoding on a worker pool with prefetch, an on-disk
 * cache of the decoded uint8 views, augmentation and normalisation. It yields plain typed arrays
 * (NHWC Float32 images, Int32 labels); the training code wraps them into tensors, so TF.js stays
 * out of here.
 *
 * - Order: epoch e visits a permutation of 0..n-1 drawn from (seed, e) (or 0..n-1 without
 *   shuffling), cut into batches of `batchSize` (the last one smaller unless `dropLast`).
 * - Prefetch: while the caller works on batch k, batches k+1..k+prefetch are being loaded. Decoding
 *   runs in worker threads (see worker-pool.ts), which keep going while the main thread is blocked
 *   in a synchronous training step.
 * - Cache: the geometric view of every sample is written to a cache file during the first pass
 *   (see cache.ts); from then on (second epoch, next run) samples are read from it and no image
 *   file is decoded. The key includes the view and the libvips version (resampling may change
 *   between versions).
 * - Undecodable images (corrupt or truncated files): skipped with a warning and counted (the batch
 *   is then smaller), remembered in the cache so later epochs skip them without trying; with
 *   `strict` the first one is an error naming the file.
 * - Augmentation (random crop with zero padding + horizontal flip) is drawn per (augmentSeed,
 *   epoch, sample), after the cache and before normalisation.
 */
import { createHash } from 'crypto';
import sharp from 'sharp';
import * as fs from 'fs';
import { applyAugment, AugmentOptions, augmentRng, drawAugment } from './augment';
import { defaultCacheDir, ViewCache } from './cache';
import { permutation, rngOf } from './rng';
import { applyView, checkView, normalisationTables, normaliseInto, viewKey, ViewSpec, CLIP_MEAN, CLIP_STD } from './transforms';
import { DatasetError, DatasetSplit, ImageSource, RgbImage } from './types';
import { DecodePool } from './worker-pool';

export interface LoaderOptions {
  /** The geometric view (transforms.teacherView() / studentView()). */
  view: ViewSpec;
  batchSize: number;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffling (default 0). */
  seed?: number;
  /** Drop the last, smaller batch of an epoch (default false). */
  dropLast?: boolean;
  /** Random crop (padding 4) + horizontal flip; true for the defaults (default false: none). */
  augment?: AugmentOptions | boolean;
  /** Seed of the augmentation draws (default: `seed`). */
  augmentSeed?: number;
  /**
   * On-disk cache of the decoded views: true, false, or 'auto' (default): on when decoding is
   * needed at all (encoded files, or a view that resizes) and the cache file would stay under
   * `cacheMaxBytes`.
   */
  cache?: boolean | 'auto';
  /** Cache root (default: SPIKECLIP_CACHE, else ~/.cache/spikeclip). */
  cacheDir?: string;
  /** Largest cache file 'auto' creates (default 8 GiB). */
  cacheMaxBytes?: number;
  /** Decode worker threads: a number (0 = decode on the main thread) or 'auto' (default: 1 when decoding is needed, else 0). */
  workers?: number | 'auto';
  /** Batches loaded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /** Fail on the first undecodable image instead of skipping it (default false). */
  strict?: boolean;
  /** Where warnings go (default: process.emitWarning, which the CLI shows and puts in --json). */
  onWarning?: (message: string) => void;
  /** Normalisation (default CLIP's mean and std). */
  mean?: readonly number[];
  std?: readonly number[];
}

export interface Batch {
  /** NHWC float32, normalised. */
  images: Float32Array;
  /** [batch, height, width, 3]. */
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Sample indices within the split. */
  indices: Int32Array;
  /** Captions, when the split has them. */
  captions?: string[];
  epoch: number;
  /** Batch number within the epoch. */
  batch: number;
}

export interface LoaderStats {
  /** Geometric views computed (decode and/or resize). */
  decoded: number;
  /** Of those, from encoded files or bytes (JPEG, PNG, WebP, SVG). */
  decodedEncoded: number;
  /** Samples served from the cache. */
  cacheHits: number;
  /** Samples written to the cache. */
  cacheWrites: number;
  /** Distinct samples skipped as undecodable. */
  skipped: number;
  skippedIds: string[];
  batches: number;
  samples: number;
  /** Time the consumer spent waiting for batches (ms). */
  waitMs: number;
}

const MAX_WARNINGS = 20;

/** The visiting order of an epoch: a permutation drawn from (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): Int32Array {
  if (!shuffle) return Int32Array.from({ length: n }, (_, i) => i);
  return permutation(n, rngOf(seed, 'shuffle', epoch));
}

/** A stable identity of a split's sources (used when the split has no `fingerprint`). */
export function fingerprintSources(split: DatasetSplit): string {
  const h = createHash('sha256');
  h.update(`${split.dataset}\0${split.split}\0${split.size}\0`);
  for (let i = 0; i < split.size; i++) {
    const s = split.source(i);
    if (s.kind === 'file') {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(s.path);
      } catch {
        st = undefined;
      }
      h.update(`f\0${s.path}\0${st?.size ?? -1}\0${st?.mtimeMs ?? -1}\0`);
    } else if (s.kind === 'bytes') {
      h.update(`b\0${s.name}\0${s.bytes.length}\0`);
      h.update(s.bytes);
    } else {
      h.update(`r\0${s.image.width}x${s.image.height}\0`);
      h.update(s.image.data);
    }
  }
  return `sha256:${h.digest('hex')}`;
}

/** True when the view leaves this source's pixels as they are (no decode, no resize). */
function isIdentity(src: ImageSource, v: ViewSpec): boolean {
  return (
    src.kind === 'rgb' && src.image.width === v.size && src.image.height === v.size && (v.view === 'teacher' || v.studentResize === 'direct')
  );
}

function isSkippable(e: unknown): boolean {
  const err = e as { corrupt?: boolean; code?: string };
  return err?.corrupt === true || ['ENOENT', 'EISDIR', 'EACCES'].includes(err?.code ?? '');
}

export class DataLoader {
  readonly size: number;
  readonly view: ViewSpec;
  readonly batchSize: number;
  readonly stats: LoaderStats = {
    decoded: 0,
    decodedEncoded: 0,
    cacheHits: 0,
    cacheWrites: 0,
    skipped: 0,
    skippedIds: [],
    batches: 0,
    samples: 0,
    waitMs: 0,
  };
  /** Whether the on-disk cache is in use, and its file. */
  readonly cacheFile?: string;
  /** Worker threads in use. */
  readonly workers: number;
  readonly hasCaptions: boolean;

  private readonly opts: Required<Pick<LoaderOptions, 'shuffle' | 'seed' | 'dropLast' | 'prefetch' | 'strict'>> & { augmentSeed: number };
  private readonly augmentOpts?: AugmentOptions;
  private readonly tables: Float32Array[];
  private readonly warn: (m: string) => void;
  private warnings = 0;
  private readonly bad = new Set<number>();
  /** Why each bad sample failed, until it is reported (reports go out in sample order, see reportSkips). */
  private readonly badMessages = new Map<number, string>();
  private cache?: ViewCache;
  private pool?: DecodePool;
  private closed = false;

  constructor(
    readonly split: DatasetSplit,
    opts: LoaderOptions,
  ) {
    this.view = checkView(opts.view);
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new DatasetError(`batch size must be a positive integer, got ${opts.batchSize}`);
    const prefetch = opts.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new DatasetError(`prefetch must be a non-negative integer, got ${prefetch}`);
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed)) throw new DatasetError(`seed must be an integer, got ${seed}`);
    this.size = split.size;
    this.batchSize = opts.batchSize;
    this.opts = {
      shuffle: opts.shuffle ?? true,
      seed,
      dropLast: opts.dropLast ?? false,
      prefetch,
      strict: opts.strict ?? false,
      augmentSeed: opts.augmentSeed ?? seed,
    };
    this.augmentOpts = opts.augment === true ? {} : opts.augment === false || opts.augment === undefined ? undefined : opts.augment;
    if (this.augmentOpts) drawAugment(() => 0, this.augmentOpts); // validates
    this.tables = normalisationTables(opts.mean ?? CLIP_MEAN, opts.std ?? CLIP_STD);
    this.warn = opts.onWarning ?? ((m: string) => process.emitWarning(m));
    this.hasCaptions = split.size > 0 && split.sample(0).caption !== undefined;

    const first = split.size > 0 ? split.source(0) : undefined;
    const needsWork = first !== undefined && !isIdentity(first, this.view);
    const workers = opts.workers ?? 'auto';
    this.workers = workers === 'auto' ? (needsWork ? 1 : 0) : workers;
    if (!Number.isInteger(this.workers) || this.workers < 0) throw new DatasetError(`workers must be a non-negative integer or auto, got ${String(workers)}`);

    const itemBytes = this.view.size * this.view.size * 3;
    const maxBytes = opts.cacheMaxBytes ?? 8 * 1024 ** 3;
    const cacheMode = opts.cache ?? 'auto';
    const useCache = split.size > 0 && (cacheMode === true || (cacheMode === 'auto' && needsWork && split.size * itemBytes <= maxBytes));
    if (useCache) {
      const fingerprint = split.fingerprint ?? fingerprintSources(split);
      this.cache = ViewCache.open(opts.cacheDir ?? defaultCacheDir(), { dataset: split.dataset, split: split.split, view: `${viewKey(this.view)};vips=${sharp.versions.vips}`, fingerprint }, {
        count: split.size,
        width: this.view.size,
        height: this.view.size,
        channels: 3,
      });
      this.cacheFile = this.cache.finalPath;
      for (let i = 0; i < split.size; i++) if (this.cache.isBad(i)) this.bad.add(i);
    }
    if (this.workers > 0 && needsWork) this.pool = new DecodePool(this.workers);
  }

  /**
   * Prepares the split (`split.prepare()`: e.g. the shapes set renders its pixels) and makes a
   * loader. Prefer this over the constructor for splits of unknown origin.
   */
  static async open(split: DatasetSplit, opts: LoaderOptions): Promise<DataLoader> {
    await split.prepare?.();
    return new DataLoader(split, opts);
  }

  /** Whether the cache file is complete (every later read comes from it). */
  get cacheComplete(): boolean {
    return this.cache?.complete ?? false;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.opts.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /** The sample indices of every batch of an epoch. */
  batchIndices(epoch: number): Int32Array[] {
    const order = epochOrder(this.size, this.opts.seed, epoch, this.opts.shuffle);
    const out: Int32Array[] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) out.push(order.subarray(b * this.batchSize, Math.min(this.size, (b + 1) * this.batchSize)));
    return out;
  }

  private warnOnce(message: string): void {
    this.warnings++;
    if (this.warnings <= MAX_WARNINGS) this.warn(message);
    else if (this.warnings === MAX_WARNINGS + 1) this.warn('more undecodable images: further warnings suppressed (see the skipped count)');
  }

  /** The uint8 view of sample i, or undefined when it is skipped. */
  private async item(i: number): Promise<Uint8Array | undefined> {
    if (this.bad.has(i)) return undefined;
    const cache = this.cache;
    if (cache?.has(i)) {
      this.stats.cacheHits++;
      return cache.read(i);
    }
    let img: RgbImage;
    const src = this.split.source(i);
    try {
      if (isIdentity(src, this.view)) {
        img = (src as { image: RgbImage }).image;
      } else {
        this.stats.decoded++;
        if (src.kind !== 'rgb') this.stats.decodedEncoded++;
        img = this.pool ? await this.pool.run(src, this.view) : await applyView(src, this.view);
      }
      if (img.width !== this.view.size || img.height !== this.view.size || img.data.length !== this.view.size * this.view.size * 3) {
        throw new DatasetError(`view of sample ${this.split.sample(i).id} came out ${img.width}x${img.height}, expected ${this.view.size}x${this.view.size}`);
      }
    } catch (e) {
      if (!isSkippable(e)) throw e;
      const id = this.split.sample(i).id;
      const msg = (e as Error).message;
      if (this.opts.strict) throw new DatasetError(`${msg} (sample ${id}; remove or replace the file, or load without strict to skip it)`);
      if (!this.bad.has(i)) {
        this.bad.add(i);
        this.badMessages.set(i, msg);
      }
      if (cache && !this.closed) cache.markBad(i);
      return undefined;
    }
    if (cache && !this.closed && !cache.has(i)) {
      cache.write(i, img.data);
      this.stats.cacheWrites++;
    }
    return img.data;
  }

  /**
   * Counts and warns about the samples among `indices` that failed to decode, in the order given.
   * Decoding runs concurrently (prefetch, worker pool), so failures are recorded when they happen
   * but reported here, in batch order: the same data always gives the same warnings and ids.
   */
  private reportSkips(indices: Iterable<number>): void {
    for (const i of indices) {
      const msg = this.badMessages.get(i);
      if (msg === undefined) continue;
      this.badMessages.delete(i);
      const id = this.split.sample(i).id;
      this.stats.skipped++;
      this.stats.skippedIds.push(id);
      this.warnOnce(`skipping undecodable image ${id}: ${msg}`);
    }
  }

  private async loadBatch(epoch: number, b: number, idx: Int32Array): Promise<Batch | undefined> {
    const items = await Promise.all(Array.from(idx, (i) => this.item(i)));
    const S = this.view.size;
    const per = S * S * 3;
    const kept: number[] = [];
    items.forEach((d, k) => {
      if (d) kept.push(k);
    });
    if (kept.length === 0) return undefined;
    const images = new Float32Array(kept.length * per);
    const labels = new Int32Array(kept.length);
    const indices = new Int32Array(kept.length);
    const captions: string[] | undefined = this.hasCaptions ? [] : undefined;
    const scratch = this.augmentOpts ? new Uint8Array(per) : undefined;
    kept.forEach((k, j) => {
      const i = idx[k];
      let img: RgbImage = { width: S, height: S, data: items[k]! };
      if (this.augmentOpts) {
        const draw = drawAugment(augmentRng(this.opts.augmentSeed, epoch, i), this.augmentOpts);
        img = applyAugment(img, draw, this.augmentOpts.padding ?? 4, scratch);
      }
      normaliseInto(img, images, j * per, this.tables);
      const s = this.split.sample(i);
      labels[j] = s.label;
      indices[j] = i;
      captions?.push(s.caption ?? '');
    });
    const batch: Batch = { images, shape: [kept.length, S, S, 3], labels, indices, epoch, batch: b };
    if (captions) batch.captions = captions;
    return batch;
  }

  /**
   * The batches of one epoch, loaded `prefetch` batches ahead, starting at batch `from` (a resumed
   * training run skips the batches it has done; the order and the batch numbers are those of the
   * whole epoch). Breaking out early is fine; the cache is finished (renamed into place) at the end
   * of the first complete pass.
   */
  async *epoch(epoch: number, from = 0): AsyncGenerator<Batch, void, undefined> {
    if (this.closed) throw new DatasetError('the data loader is closed');
    if (!Number.isInteger(epoch) || epoch < 0) throw new DatasetError(`epoch must be a non-negative integer, got ${epoch}`);
    const batches = this.batchIndices(epoch);
    if (!Number.isInteger(from) || from < 0 || from > batches.length) throw new DatasetError(`first batch must be an integer from 0 to ${batches.length}, got ${from}`);
    const pending: Array<Promise<Batch | undefined>> = [];
    let next = from;
    let current = from;
    const launch = (): void => {
      while (pending.length <= this.opts.prefetch && next < batches.length) {
        const p = this.loadBatch(epoch, next, batches[next]);
        p.catch(() => undefined); // observed when awaited; avoids unhandled-rejection noise meanwhile
        pending.push(p);
        next++;
      }
    };
    try {
      launch();
      while (pending.length > 0) {
        const t0 = process.hrtime.bigint();
        const batch = await pending.shift()!;
        this.stats.waitMs += Number(process.hrtime.bigint() - t0) / 1e6;
        this.reportSkips(batches[current++]);
        launch();
        if (!batch) continue;
        this.stats.batches++;
        this.stats.samples += batch.labels.length;
        yield batch;
      }
      await this.completeCache();
    } finally {
      await Promise.allSettled(pending);
    }
  }

  /** After a full pass: views the epoch did not visit (the dropped tail) are added, then the file is finished. */
  private async completeCache(): Promise<void> {
    const cache = this.cache;
    if (!cache || cache.complete || this.closed) return;
    const missing = cache.missing();
    for (let s = 0; s < missing.length; s += this.batchSize) {
      const chunk = missing.slice(s, s + this.batchSize);
      await Promise.all(chunk.map((i) => this.item(i)));
      this.reportSkips(chunk);
    }
    cache.finish();
  }

  /** Fills the whole cache now (e.g. before timing, or to check every image once). */
  async prepare(onProgress?: (done: number, total: number) => void): Promise<void> {
    if (!this.cache || this.cache.complete) return;
    const missing = this.cache.missing();
    const chunk = Math.max(this.batchSize, 64);
    for (let s = 0; s < missing.length; s += chunk) {
      const part = missing.slice(s, s + chunk);
      await Promise.all(part.map((i) => this.item(i)));
      this.reportSkips(part);
      onProgress?.(Math.min(missing.length, s + chunk), missing.length);
    }
    this.cache.finish();
  }

  /** Stops the workers and closes the cache (an unfinished cache file is deleted). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.close();
    this.cache?.close();
  }
}
