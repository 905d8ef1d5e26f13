/**
 * The zero-shot classifier (docs/method.md §§6-7): the class matrix W from the text encoder,
 * and predictions `argmax_c cos(f_img, W_c)`.
 *
 * W: for each candidate class c, the mean over its prompts of the L2-normalised text embeddings
 * (norms clamped at 1e-8, like F.normalize); the reference code does not re-normalise the mean,
 * `renormalize` does. Row c of W belongs to candidate c. Cosine similarity with the normalised
 * image embedding is the dot product with W_c when W_c is unit length; without renormalisation
 * the scores are those of the reference (`normalize(f_img) @ W^T`), as in fine-tuning.
 *
 * W is cached on disk per (checkpoint weights hash, tokenizer hash, templates hash, class-names
 * hash, renormalize, context length) under `<cache>/classifiers/`, written atomically as a
 * safetensors file whose metadata holds the key; a damaged or mismatching file is rebuilt.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { writeFileAtomic } from '../io/atomic';
import { parseSafetensors, serializeSafetensors, tensorToFloat32 } from '../io/safetensors';
import { NORM_EPS, l2Normalize } from '../models/normalize';
import { hashJson } from './label-files';

export interface ClassMatrix {
  /** Row-major [numClasses, dim]. */
  weights: Float32Array;
  numClasses: number;
  dim: number;
}

export interface BuildClassMatrixOptions {
  /** Prompts of each candidate class (at least one each). */
  prompts: readonly (readonly string[])[];
  /** Texts -> text features [n, dim] (not normalised); called inside tf.tidy. */
  encodeTexts: (texts: string[]) => tf.Tensor2D;
  /** L2-normalise each class vector after averaging (default false: the reference). */
  renormalize?: boolean;
  /** Texts per forward pass (default 128). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Builds W from the text encoder (see the module comment). */
export function buildClassMatrix(o: BuildClassMatrixOptions): ClassMatrix {
  const C = o.prompts.length;
  if (C === 0) throw new Error('no candidate classes to build a classifier for');
  o.prompts.forEach((p, c) => {
    if (p.length === 0) throw new Error(`class ${c} has no prompts`);
  });
  const flat: string[] = [];
  const owner: number[] = [];
  o.prompts.forEach((ps, c) => {
    for (const p of ps) {
      flat.push(p);
      owner.push(c);
    }
  });
  const bs = o.batchSize ?? 128;
  let sums: Float64Array | undefined;
  let dim = 0;
  for (let s = 0; s < flat.length; s += bs) {
    const texts = flat.slice(s, s + bs);
    const t = tf.tidy(() => l2Normalize(o.encodeTexts(texts)));
    const rows = t.dataSync() as Float32Array;
    const d = t.shape[1] as number;
    t.dispose();
    if (rows.length !== texts.length * d) throw new Error(`the text encoder returned ${rows.length} values for ${texts.length} texts`);
    if (!sums) {
      dim = d;
      sums = new Float64Array(C * d);
    }
    for (let i = 0; i < texts.length; i++) {
      const c = owner[s + i];
      for (let j = 0; j < d; j++) sums[c * d + j] += rows[i * d + j];
    }
    o.onProgress?.(Math.min(flat.length, s + bs), flat.length);
  }
  const W = new Float32Array(C * dim);
  for (let c = 0; c < C; c++) {
    const n = o.prompts[c].length;
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = (sums as Float64Array)[c * dim + j] / n;
      W[c * dim + j] = v;
      norm += v * v;
    }
    if (o.renormalize) {
      const inv = 1 / Math.max(Math.sqrt(norm), NORM_EPS);
      for (let j = 0; j < dim; j++) W[c * dim + j] *= inv;
    }
  }
  return { weights: W, numClasses: C, dim };
}

// ---------------------------------------------------------------------------------------------
// On-disk cache

export const CLASSIFIER_CACHE_FORMAT = 'spikeclip-classifier-1';

export interface ClassifierCacheKey {
  /** sha256 of the checkpoint's model.safetensors. */
  checkpointHash: string;
  /** sha256 of the tokenizer files the prompts were tokenized with. */
  tokenizerHash: string;
  templatesHash: string;
  classNamesHash: string;
  renormalize: boolean;
  contextLength: number;
}

/** `<cacheDir>/classifiers/<digest of the key>.safetensors`. */
export function classifierCachePath(cacheDir: string, key: ClassifierCacheKey): string {
  return path.join(cacheDir, 'classifiers', `${hashJson({ format: CLASSIFIER_CACHE_FORMAT, ...key }).slice(0, 40)}.safetensors`);
}

function keyText(key: ClassifierCacheKey): string {
  return JSON.stringify({ format: CLASSIFIER_CACHE_FORMAT, ...key });
}

/** The cached W for `key`, or undefined when there is none (or it is damaged or for another key). */
export function readCachedClassMatrix(cacheDir: string, key: ClassifierCacheKey): ClassMatrix | undefined {
  const file = classifierCachePath(cacheDir, key);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    const st = parseSafetensors(bytes, file);
    if (st.metadata.key !== keyText(key)) return undefined;
    const w = st.tensors.get('W');
    if (!w || w.shape.length !== 2) return undefined;
    return { weights: Float32Array.from(tensorToFloat32(w)), numClasses: w.shape[0], dim: w.shape[1] };
  } catch {
    return undefined;
  }
}

/** Writes W for `key` atomically (creating the folder). */
export async function writeCachedClassMatrix(cacheDir: string, key: ClassifierCacheKey, W: ClassMatrix): Promise<string> {
  const file = classifierCachePath(cacheDir, key);
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const bytes = serializeSafetensors(new Map([['W', { shape: [W.numClasses, W.dim], data: W.weights }]]), { key: keyText(key) });
  await writeFileAtomic(file, bytes);
  return file;
}

export interface CachedClassMatrix {
  matrix: ClassMatrix;
  /** True when W came from the cache. */
  hit: boolean;
  /** The cache file (undefined with the cache off). */
  file?: string;
}

/**
 * W from the cache when there, else built and stored. `cacheDir` undefined turns the cache off.
 * A cache that cannot be written (read-only disk) is reported through `onWarning`, not fatal.
 */
export async function classMatrixCached(o: {
  cacheDir?: string;
  key: ClassifierCacheKey;
  expect: { numClasses: number };
  build: () => ClassMatrix;
  onWarning?: (m: string) => void;
}): Promise<CachedClassMatrix> {
  if (o.cacheDir !== undefined) {
    const hit = readCachedClassMatrix(o.cacheDir, o.key);
    if (hit && hit.numClasses === o.expect.numClasses) return { matrix: hit, hit: true, file: classifierCachePath(o.cacheDir, o.key) };
  }
  const matrix = o.build();
  if (o.cacheDir === undefined) return { matrix, hit: false };
  try {
    return { matrix, hit: false, file: await writeCachedClassMatrix(o.cacheDir, o.key, matrix) };
  } catch (e) {
    o.onWarning?.(`could not cache the class matrix in ${o.cacheDir}: ${(e as Error).message}`);
    return { matrix, hit: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Predictions

export interface BatchPredictions {
  /** Row-major [B, k] candidate indices, best first. */
  topk: Int32Array;
  k: number;
  /** Images whose embedding was all zeros (every candidate scores 0, so the ranking is arbitrary). */
  zeroEmbeddings: number;
}

/** Holds W on the device and ranks candidates for batches of image features. */
export class ZeroShotClassifier {
  readonly numCandidates: number;
  readonly dim: number;
  /** Candidates ranked per image: min(5, C). */
  readonly k: number;
  private readonly wT: tf.Tensor2D;

  constructor(W: ClassMatrix) {
    this.numCandidates = W.numClasses;
    this.dim = W.dim;
    this.k = Math.min(5, W.numClasses);
    this.wT = tf.tidy(() => tf.transpose(tf.tensor2d(W.weights, [W.numClasses, W.dim])) as tf.Tensor2D);
  }

  /** Scores `normalize(f_img) @ W^T` of image features [B, dim] (a new tensor the caller disposes). */
  scores(features: tf.Tensor2D): tf.Tensor2D {
    if (features.rank !== 2 || features.shape[1] !== this.dim) {
      throw new Error(`image features [${features.shape.join(', ')}] do not match the class matrix's ${this.dim} dimensions`);
    }
    return tf.tidy(() => tf.matMul(l2Normalize(features), this.wT) as tf.Tensor2D);
  }

  /** The k best candidates of each image; nothing stays allocated. */
  classify(features: tf.Tensor2D): BatchPredictions {
    let topk = new Int32Array(0);
    let zeros = 0;
    // (the tidy returns nothing: it would walk a returned typed array)
    tf.tidy(() => {
      const { indices } = tf.topk(this.scores(features), this.k, true);
      topk = Int32Array.from(indices.dataSync());
      zeros = tf.sum(tf.cast(tf.equal(tf.sum(tf.abs(features), 1), 0), 'int32')).dataSync()[0];
    });
    return { topk, k: this.k, zeroEmbeddings: zeros };
  }

  dispose(): void {
    this.wT.dispose();
  }
}
