/**
 * Oxford Flowers-102 (Nilsback & Zisserman 2008) from the official files:
 * - `102flowers.tgz` holding `jpg/image_00001.jpg` ... `jpg/image_08189.jpg`, or that `jpg/` folder
 *   extracted;
 * - `imagelabels.mat`: `labels`, 1x8189, the class (1..102) of image k at position k;
 * - `setid.mat`: `trnid` (1,020), `valid` (1,020), `tstid` (6,149): image numbers per split.
 * The files may sit in `--data-dir` itself or in its `flowers-102/` subfolder (torchvision's layout).
 *
 * Splits: `train`, `val`, `test` as published, and `trainval` = train then val. Labels are 0-based
 * (file label - 1), in the order of CLIP's 102 flower names. Images inside the archive are read
 * by random access (see TarArchive: the .tgz is decompressed once to a cache file).
 */
import * as fs from 'fs';
import * as path from 'path';
import { MatError, matVector, readMatFile } from '../io/mat';
import { FLOWERS102_CLASSES } from '../text/classnames';
import { FingerprintedSplit, concatSplits } from './splits';
import { DatasetError, ImageSource, Sample } from './types';
import { ImageLocation, openImageFiles, pathExists } from './image-files';

export const FLOWERS102_FILES = Object.freeze({
  images: '102flowers.tgz',
  imageFolder: 'jpg',
  labels: 'imagelabels.mat',
  setid: 'setid.mat',
});

export const FLOWERS102_SPLITS = ['train', 'val', 'test', 'trainval'] as const;
export type Flowers102Split = (typeof FLOWERS102_SPLITS)[number];

const SETID_KEYS: Record<'train' | 'val' | 'test', string> = { train: 'trnid', val: 'valid', test: 'tstid' };
const NUM_CLASSES = 102;

export interface Flowers102Options {
  dataDir: string;
  split: string;
  /** Where the decompressed copy of 102flowers.tgz goes (default: beside it, see TarArchive). */
  cacheDir?: string;
}

/** Where the three pieces were found. */
export interface Flowers102Location {
  root: string;
  labels: string;
  setid: string;
  images: ImageLocation;
}


/** Finds the files (in `dataDir` or `dataDir/flowers-102`); a DatasetError lists what is missing. */
export function locateFlowers102(dataDir: string): Flowers102Location {
  const dir = path.resolve(dataDir);
  const roots = [dir, path.join(dir, 'flowers-102'), path.join(dir, 'flowers102')];
  const score = (r: string) =>
    [pathExists(path.join(r, FLOWERS102_FILES.labels), false), pathExists(path.join(r, FLOWERS102_FILES.setid), false), pathExists(path.join(r, FLOWERS102_FILES.imageFolder), true) || pathExists(path.join(r, FLOWERS102_FILES.images), false)].filter(Boolean).length;
  const root = roots.reduce((best, r) => (score(r) > score(best) ? r : best), roots[0]);
  const missing: string[] = [];
  const labels = path.join(root, FLOWERS102_FILES.labels);
  const setid = path.join(root, FLOWERS102_FILES.setid);
  if (!pathExists(labels, false)) missing.push(FLOWERS102_FILES.labels);
  if (!pathExists(setid, false)) missing.push(FLOWERS102_FILES.setid);
  let images: Flowers102Location['images'] | null = null;
  if (pathExists(path.join(root, FLOWERS102_FILES.imageFolder), true)) images = { kind: 'folder', path: path.join(root, FLOWERS102_FILES.imageFolder) };
  else if (pathExists(path.join(root, FLOWERS102_FILES.images), false)) images = { kind: 'archive', path: path.join(root, FLOWERS102_FILES.images) };
  else missing.push(`${FLOWERS102_FILES.images} (or its extracted ${FLOWERS102_FILES.imageFolder}/ folder)`);
  if (missing.length > 0 || !images) {
    throw new DatasetError(
      `Flowers-102 is incomplete in ${root}: missing ${missing.join(', ')} ` +
        `(fix: spikeclip data download --dataset flowers102 --data-dir ${dataDir}, or put 102flowers.tgz, imagelabels.mat and setid.mat in one folder)`,
    );
  }
  return { root, labels, setid, images };
}

function readVector(file: string, name: string): Float64Array {
  try {
    return matVector(readMatFile(file), name, file);
  } catch (e) {
    if (e instanceof MatError) throw new DatasetError(e.message);
    throw e;
  }
}

/** The 1-based image numbers of a split and every image's 0-based label. */
export function readFlowersMeta(loc: Flowers102Location, split: 'train' | 'val' | 'test'): { ids: number[]; labels: Int32Array } {
  const raw = readVector(loc.labels, 'labels');
  const labels = new Int32Array(raw.length);
  raw.forEach((v, k) => {
    if (!Number.isInteger(v) || v < 1 || v > NUM_CLASSES) throw new DatasetError(`${loc.labels}: image ${k + 1} has label ${v}, expected an integer in 1..${NUM_CLASSES}`);
    labels[k] = v - 1;
  });
  const key = SETID_KEYS[split];
  const ids = Array.from(readVector(loc.setid, key));
  ids.forEach((id, j) => {
    if (!Number.isInteger(id) || id < 1 || id > labels.length) {
      throw new DatasetError(`${loc.setid}: ${key}[${j}] is image ${id}, but ${path.basename(loc.labels)} labels images 1..${labels.length}`);
    }
  });
  return { ids, labels };
}

export function flowerImageName(id: number): string {
  return `image_${String(id).padStart(5, '0')}.jpg`;
}

function stamp(p: string): string {
  const st = fs.statSync(p);
  return `${st.size}:${Math.floor(st.mtimeMs)}`;
}

async function openOfficial(loc: Flowers102Location, split: 'train' | 'val' | 'test', opts: Flowers102Options): Promise<FingerprintedSplit> {
  const { ids, labels } = readFlowersMeta(loc, split);
  const names = ids.map(flowerImageName);
  const read = await openImageFiles(loc.images, names, { memberDir: 'jpg', split, archiveName: FLOWERS102_FILES.images, cacheDir: opts.cacheDir });
  const files = [loc.labels, loc.setid, loc.images.path];
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= ids.length) throw new RangeError(`flowers102/${split}: sample index ${i} is out of range [0, ${ids.length})`);
  };
  return {
    dataset: 'flowers102',
    split,
    classNames: [...FLOWERS102_CLASSES],
    size: ids.length,
    files,
    fingerprint: `flowers102:${split}:${stamp(loc.labels)}:${stamp(loc.setid)}:${loc.images.path}:${loc.images.kind === 'archive' ? stamp(loc.images.path) : 'folder'}`,
    sample(i: number): Sample {
      check(i);
      return { index: i, label: labels[ids[i] - 1], id: names[i] };
    },
    source(i: number): ImageSource {
      check(i);
      return read(i);
    },
  };
}

/** Opens a Flowers-102 split: `train`, `val`, `test` or `trainval`. */
export async function openFlowers102(opts: Flowers102Options): Promise<FingerprintedSplit> {
  if (!(FLOWERS102_SPLITS as readonly string[]).includes(opts.split)) {
    throw new DatasetError(`Flowers-102 has the splits ${FLOWERS102_SPLITS.join(', ')}, not ${JSON.stringify(opts.split)}`);
  }
  const loc = locateFlowers102(opts.dataDir);
  if (opts.split === 'trainval') {
    const parts = [await openOfficial(loc, 'train', opts), await openOfficial(loc, 'val', opts)];
    return concatSplits(parts, 'trainval');
  }
  return openOfficial(loc, opts.split as 'train' | 'val' | 'test', opts);
}
