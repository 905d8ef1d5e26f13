/**
 * Split helpers shared by the dataset loaders: a deterministic, stratified validation split carved
 * from a training split, and subsets/unions of splits that keep the DatasetSplit interface.
 *
 * Carving: for every class, its samples' indices are shuffled with a seeded generator and the first
 * `round(fraction * count)` go to validation (at least one when the class has two or more samples
 * and the fraction is positive, never all of them: a class keeps at least one training sample); the
 * rest stay in train. Both index lists are returned in ascending
 * order, so the result depends only on the labels, the fraction and the seed.
 */
import { DatasetError, DatasetSplit, ImageSource, Sample } from './types';
import { mulberry32 } from './rng';

/**
 * `DatasetSplit.fingerprint` (the loader cache's key) is optional; this alias keeps this file
 * compiling whether or not the shared interface declares it.
 */
export type FingerprintedSplit = DatasetSplit & { fingerprint?: string };

/** Default fraction of the official train split carved out as validation where a dataset has none. */
export const DEFAULT_VAL_FRACTION = 0.1;

/** Mixes a seed and a class index into an independent 32-bit seed (murmur3 finaliser). */
function mix(seed: number, k: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface CarvedSplit {
  train: number[];
  val: number[];
}

/** Stratified, seeded train/validation partition of indices 0..labels.length-1 (see module comment). */
export function carveValidation(labels: ArrayLike<number>, fraction: number, seed: number): CarvedSplit {
  if (!(fraction >= 0 && fraction < 1)) throw new DatasetError(`the validation fraction must be in [0, 1), got ${fraction}`);
  if (!Number.isInteger(seed)) throw new DatasetError(`the split seed must be an integer, got ${seed}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    let list = byClass.get(l);
    if (!list) byClass.set(l, (list = []));
    list.push(i);
  }
  const inVal = new Uint8Array(labels.length);
  for (const [label, idx] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    let k = Math.round(fraction * idx.length);
    if (fraction > 0 && k === 0 && idx.length >= 2) k = 1;
    k = Math.min(k, idx.length - 1); // a class always keeps at least one training sample
    if (k === 0) continue;
    const rng = mulberry32(mix(seed, label));
    // Partial Fisher-Yates: the first k slots become a uniform random k-subset.
    const a = idx.slice();
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (a.length - i));
      [a[i], a[j]] = [a[j], a[i]];
      inVal[a[i]] = 1;
    }
  }
  const train: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < labels.length; i++) (inVal[i] ? val : train).push(i);
  return { train, val };
}

/** All labels of a split, in index order. */
export function labelsOf(split: DatasetSplit): Int32Array {
  const out = new Int32Array(split.size);
  for (let i = 0; i < split.size; i++) out[i] = split.sample(i).label;
  return out;
}

function checkIndex(split: { dataset: string; split: string; size: number }, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= split.size) {
    throw new RangeError(`${split.dataset}/${split.split}: sample index ${i} is out of range [0, ${split.size})`);
  }
}

/** The samples of `base` at `indices` (in that order), renamed `splitName`. */
export function subsetSplit(base: FingerprintedSplit, indices: readonly number[], splitName: string): FingerprintedSplit {
  const idx = Int32Array.from(indices);
  for (const i of idx) checkIndex(base, i);
  const out: FingerprintedSplit = {
    dataset: base.dataset,
    split: splitName,
    classNames: base.classNames,
    size: idx.length,
    files: base.files,
    sample(i: number): Sample {
      checkIndex(out, i);
      return { ...base.sample(idx[i]), index: i };
    },
    source(i: number): ImageSource {
      checkIndex(out, i);
      return base.source(idx[i]);
    },
  };
  if (base.fingerprint !== undefined) out.fingerprint = `${base.fingerprint}|${splitName}:${fingerprintIndices(idx)}`;
  return out;
}

/**
 * The images of some classes only, with those classes as the class list (in the order given) and
 * labels renumbered to match: a zero-shot evaluation among a subset of the classes, e.g. the ones
 * held out of training. Unknown or repeated names are a DatasetError.
 */
export function classSubsetSplit(base: FingerprintedSplit, names: readonly string[]): FingerprintedSplit {
  if (names.length === 0) throw new DatasetError('a class subset needs at least one class');
  const newLabel = new Map<number, number>();
  names.forEach((n, k) => {
    const l = base.classNames.indexOf(n);
    if (l < 0) throw new DatasetError(`class "${n}" is not one of ${base.dataset}'s classes (${base.classNames.slice(0, 12).join(', ')}${base.classNames.length > 12 ? ', ...' : ''})`);
    if (newLabel.has(l)) throw new DatasetError(`class "${n}" is named twice`);
    newLabel.set(l, k);
  });
  const idx: number[] = [];
  for (let i = 0; i < base.size; i++) if (newLabel.has(base.sample(i).label)) idx.push(i);
  const inner = subsetSplit(base, idx, base.split);
  const out: FingerprintedSplit = {
    ...inner,
    classNames: [...names],
    sample(i: number): Sample {
      const s = inner.sample(i);
      return { ...s, label: newLabel.get(s.label) as number };
    },
  };
  if (base.prepare) out.prepare = () => (base.prepare as () => Promise<void>)();
  if (inner.fingerprint !== undefined) out.fingerprint = `${inner.fingerprint}|classes:${fingerprintIndices(Int32Array.from(names.map((n) => base.classNames.indexOf(n))))}`;
  return out;
}

/** The samples of several splits one after another (same dataset and class list), named `splitName`. */
export function concatSplits(parts: FingerprintedSplit[], splitName: string): FingerprintedSplit {
  if (parts.length === 0) throw new DatasetError('cannot join zero splits');
  const starts: number[] = [];
  let total = 0;
  for (const p of parts) {
    starts.push(total);
    total += p.size;
  }
  const locate = (i: number): [FingerprintedSplit, number] => {
    let k = parts.length - 1;
    while (starts[k] > i) k--;
    return [parts[k], i - starts[k]];
  };
  const out: FingerprintedSplit = {
    dataset: parts[0].dataset,
    split: splitName,
    classNames: parts[0].classNames,
    size: total,
    files: [...new Set(parts.flatMap((p) => p.files))],
    sample(i: number): Sample {
      checkIndex(out, i);
      const [p, j] = locate(i);
      return { ...p.sample(j), index: i };
    },
    source(i: number): ImageSource {
      checkIndex(out, i);
      const [p, j] = locate(i);
      return p.source(j);
    },
  };
  if (parts.every((p) => p.fingerprint !== undefined)) out.fingerprint = parts.map((p) => p.fingerprint).join('+');
  return out;
}

/** A short, order-sensitive digest of an index list (FNV-1a over the values). */
function fingerprintIndices(idx: Int32Array): string {
  let h = 0x811c9dc5;
  for (const v of idx) {
    h ^= v & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= v >>> 16;
    h = Math.imul(h, 0x01000193);
  }
  return `${idx.length}-${(h >>> 0).toString(16)}`;
}
