/**
 * Teacher image features, computed once and cached on disk. The teacher is frozen everywhere, so
 * without augmentation its feature of sample i never changes: no later epoch or run computes it
 * again. The key is the teacher (sha256 of its weights), the image source (dataset, split and the
 * split's content fingerprint) and the teacher's preprocessing.
 *
 * File: <cache>/teacher-features/<sha256 of the key>.f32 =
 *   "SPKFEAT1" | u32 header length | header JSON {key, count, dim} | f32 [count, dim] (little endian)
 * Undecodable images get NaN rows (the training task drops those samples, as the loader does).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { writeFileAtomic } from '../io/atomic';
import { fingerprintSources } from '../data/loader';
import type { DatasetSplit } from '../data/types';
import type { Encoder } from '../encoders/encoder';

export const FEATURE_CACHE_MAGIC = 'SPKFEAT1';

export interface FeatureCacheKey {
  format: 1;
  teacherHash: string;
  dataset: string;
  split: string;
  fingerprint: string;
  /** The teacher's preprocessing (image input), as JSON. */
  transform: string;
}

export interface TeacherFeatures {
  /** Row-major [count, dim]; NaN rows for undecodable images. */
  features: Float32Array;
  count: number;
  dim: number;
  /** Samples whose image could not be decoded. */
  bad: number;
  /** Read from the cache (true) or computed now. */
  hit: boolean;
  file?: string;
}

export function featureCacheKey(teacher: Encoder, split: DatasetSplit): FeatureCacheKey {
  return {
    format: 1,
    teacherHash: teacher.hash,
    dataset: split.dataset,
    split: split.split,
    fingerprint: split.fingerprint ?? fingerprintSources(split),
    transform: JSON.stringify(teacher.image),
  };
}

export function featureCachePath(cacheDir: string, key: FeatureCacheKey): string {
  const h = createHash('sha256').update(JSON.stringify(key)).digest('hex');
  return path.join(cacheDir, 'teacher-features', `${h}.f32`);
}

function countBad(f: Float32Array, count: number, dim: number): number {
  let bad = 0;
  for (let i = 0; i < count; i++) if (Number.isNaN(f[i * dim])) bad++;
  return bad;
}

/** Reads a cache file; undefined when it is absent, of another key, or damaged (it is then recomputed). */
export function readFeatureCache(file: string, key: FeatureCacheKey): TeacherFeatures | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length < 12 || buf.subarray(0, 8).toString('latin1') !== FEATURE_CACHE_MAGIC) return undefined;
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) return undefined;
  let header: { key?: unknown; count?: unknown; dim?: unknown };
  try {
    header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as typeof header;
  } catch {
    return undefined;
  }
  const { count, dim } = header;
  if (JSON.stringify(header.key) !== JSON.stringify(key) || typeof count !== 'number' || typeof dim !== 'number') return undefined;
  const start = 12 + hlen;
  const bytes = count * dim * 4;
  if (!Number.isInteger(count) || !Number.isInteger(dim) || buf.length !== start + bytes) return undefined;
  const features = new Float32Array(count * dim);
  new Uint8Array(features.buffer).set(buf.subarray(start, start + bytes));
  return { features, count, dim, bad: countBad(features, count, dim), hit: true, file };
}

function serialise(key: FeatureCacheKey, f: TeacherFeatures): Uint8Array {
  const header = Buffer.from(JSON.stringify({ key, count: f.count, dim: f.dim }), 'utf8');
  const out = Buffer.alloc(12 + header.length + f.features.byteLength);
  out.write(FEATURE_CACHE_MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  Buffer.from(f.features.buffer, f.features.byteOffset, f.features.byteLength).copy(out, 12 + header.length);
  return out;
}

export interface TeacherFeaturesOptions {
  teacher: Encoder;
  split: DatasetSplit;
  /** Cache root, or false for no cache. */
  cacheDir: string | false;
  /** Images per teacher forward pass (default 32). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

/** The teacher's image feature of every sample of `split` (from the cache when it has them). */
export async function teacherImageFeatures(o: TeacherFeaturesOptions): Promise<TeacherFeatures> {
  const key = featureCacheKey(o.teacher, o.split);
  const file = o.cacheDir === false ? undefined : featureCachePath(o.cacheDir, key);
  if (file) {
    const hit = readFeatureCache(file, key);
    if (hit && hit.dim === o.teacher.dim && hit.count === o.split.size) return hit;
  }
  await o.split.prepare?.();
  const n = o.split.size;
  const D = o.teacher.dim;
  const S = o.teacher.imageSize;
  const per = S * S * 3;
  const bs = o.batchSize ?? 32;
  const features = new Float32Array(n * D);
  let bad = 0;
  for (let s = 0; s < n; s += bs) {
    const idx: number[] = [];
    const pixels = new Float32Array(Math.min(bs, n - s) * per);
    for (let i = s; i < Math.min(n, s + bs); i++) {
      try {
        pixels.set(await o.teacher.preprocessImages([o.split.source(i)]), idx.length * per);
        idx.push(i);
      } catch (e) {
        if ((e as { corrupt?: boolean }).corrupt !== true) throw e;
        features.fill(NaN, i * D, (i + 1) * D);
        if (bad++ < 20) o.onWarning?.(`teacher features: skipping undecodable image ${o.split.sample(i).id}: ${(e as Error).message}`);
      }
    }
    if (idx.length > 0) {
      const feats = tf.tidy(() => o.teacher.encodeImages(tf.tensor4d(pixels.subarray(0, idx.length * per), [idx.length, S, S, 3])));
      const rows = (await feats.data()) as Float32Array;
      feats.dispose();
      idx.forEach((i, k) => features.set(rows.subarray(k * D, (k + 1) * D), i * D));
    }
    o.onProgress?.(Math.min(n, s + bs), n);
  }
  const out: TeacherFeatures = { features, count: n, dim: D, bad, hit: false };
  if (file) {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, serialise(key, out));
    out.file = file;
  }
  return out;
}
