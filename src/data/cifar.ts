/**
 * CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the official archives or their extracted folders.
 *
 * Binary version (`cifar-10-binary.tar.gz` -> `cifar-10-batches-bin/`, `cifar-100-binary.tar.gz`
 * -> `cifar-100-binary/`): fixed-size records of the label byte(s) then 3072 pixel bytes, the red
 * plane, then green, then blue, each 32x32 row-major. CIFAR-10 records have one label byte (3073
 * bytes); CIFAR-100 records have the coarse then the fine label byte (3074 bytes).
 *
 * Python version (`cifar-10-python.tar.gz` -> `cifar-10-batches-py/`, `cifar-100-python.tar.gz`
 * -> `cifar-100-python/`): pickled dicts with a uint8 `data` array (N x 3072, same plane order) and
 * `labels` / `fine_labels` lists, read with the allow-list pickle reader (nothing is executed).
 *
 * Class names are CLIP's (src/text/classnames.ts), which for both CIFARs are the datasets' own
 * names with underscores as spaces. When the archive's name file (`batches.meta.txt`,
 * `fine_label_names.txt`, `batches.meta`, `meta`) is present it is checked against them, so a file
 * whose classes are in another order is refused rather than silently mislabelling.
 *
 * Everything of one split is held in memory (the train split is 50,000 x 3 KiB = 150 MiB); samples
 * are interleaved to HWC RGB on demand. Archives are read in one streaming pass, never extracted.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NumpyArray, readNumpyPickle } from '../io/pickle';
import { TarError, readTarMembers } from '../io/tar';
import { CIFAR100_CLASSES, CIFAR10_CLASSES } from '../text/classnames';
import { FingerprintedSplit } from './splits';
import { DatasetError, ImageSource, RgbImage, Sample } from './types';

export type CifarName = 'cifar10' | 'cifar100';
export type CifarFormat = 'binary' | 'python';
/** The official splits of both CIFARs (validation is carved from train by the registry). */
export type CifarSplitName = 'train' | 'test';

interface FormatLayout {
  archive: string;
  folder: string;
  train: string[];
  test: string[];
  /** Class-name file (binary: text, python: pickle). */
  meta: string;
}

interface CifarLayout {
  title: string;
  numClasses: number;
  binary: FormatLayout;
  python: FormatLayout;
}

/** File names of the official archives and what is inside them. */
export const CIFAR_LAYOUT: Record<CifarName, CifarLayout> = {
  cifar10: {
    title: 'CIFAR-10',
    numClasses: 10,
    binary: {
      archive: 'cifar-10-binary.tar.gz',
      folder: 'cifar-10-batches-bin',
      train: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`),
      test: ['test_batch.bin'],
      meta: 'batches.meta.txt',
    },
    python: {
      archive: 'cifar-10-python.tar.gz',
      folder: 'cifar-10-batches-py',
      train: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}`),
      test: ['test_batch'],
      meta: 'batches.meta',
    },
  },
  cifar100: {
    title: 'CIFAR-100',
    numClasses: 100,
    binary: {
      archive: 'cifar-100-binary.tar.gz',
      folder: 'cifar-100-binary',
      train: ['train.bin'],
      test: ['test.bin'],
      meta: 'fine_label_names.txt',
    },
    python: {
      archive: 'cifar-100-python.tar.gz',
      folder: 'cifar-100-python',
      train: ['train'],
      test: ['test'],
      meta: 'meta',
    },
  },
};

const PIXELS = 3072;
const SIDE = 32;
const PLANE = SIDE * SIDE;

/**
 * A dataset label name in CLIP's spelling: underscores become spaces, case is kept. For CIFAR-10,
 * CIFAR-100 and Oxford-IIIT Pet, CLIP's class names (data/prompts.md) are exactly the datasets'
 * own names spelt this way (`aquarium_fish` -> `aquarium fish`).
 */
export function clipSpelling(name: string): string {
  return name.trim().replace(/_/g, ' ');
}

/** Parses a label-names file: one name per line, blank lines (the trailing ones) ignored. */
export function parseLabelNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Where a CIFAR dataset was found. */
export interface CifarSource {
  format: CifarFormat;
  kind: 'folder' | 'archive';
  /** The folder (e.g. `.../cifar-10-batches-bin`) or the archive file. */
  path: string;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds a CIFAR dataset: `dataDir` may be the extracted folder or the archive itself, or a folder
 * holding either. Preference: binary folder, binary archive, python folder, python archive.
 */
export function locateCifar(name: CifarName, dataDir: string): CifarSource {
  const layout = CIFAR_LAYOUT[name];
  const dir = path.resolve(dataDir);
  for (const format of ['binary', 'python'] as const) {
    const f = layout[format];
    if (path.basename(dir) === f.folder && isDir(dir)) return { format, kind: 'folder', path: dir };
    if (path.basename(dir) === f.archive && isFile(dir)) return { format, kind: 'archive', path: dir };
  }
  for (const format of ['binary', 'python'] as const) {
    const f = layout[format];
    if (isDir(path.join(dir, f.folder))) return { format, kind: 'folder', path: path.join(dir, f.folder) };
    if (isFile(path.join(dir, f.archive))) return { format, kind: 'archive', path: path.join(dir, f.archive) };
  }
  throw new DatasetError(
    `no ${layout.title} found in ${dir}: expected ${layout.binary.folder}/ or ${layout.binary.archive} ` +
      `(or the python version ${layout.python.folder}/ or ${layout.python.archive}) ` +
      `(fix: spikeclip data download --dataset ${name} --data-dir ${dataDir}, or point --data-dir at the folder that holds them)`,
  );
}

/** One batch file's records, kept in the layout they were read in. */
export interface CifarBatch {
  file: string;
  count: number;
  /** Buffer holding the pixel planes. Record r's pixels start at `pixelOffset + r * stride`. */
  pixels: Uint8Array;
  stride: number;
  pixelOffset: number;
  labels: Uint8Array;
}

/**
 * Parses a binary batch: `labelBytes` = 1 (CIFAR-10) or 2 (CIFAR-100: coarse then fine; the fine
 * label is kept). Checks the size is a whole number of records and every label is in range.
 */
export function parseCifarBinary(buf: Uint8Array, opts: { file: string; labelBytes: 1 | 2; numClasses: number }): CifarBatch {
  const stride = PIXELS + opts.labelBytes;
  if (buf.length === 0) throw new DatasetError(`${opts.file} is empty`);
  if (buf.length % stride !== 0) {
    throw new DatasetError(
      `${opts.file} is truncated or not a CIFAR batch: ${buf.length} bytes is not a whole number of ${stride}-byte records ` +
        `(${Math.floor(buf.length / stride)} records and ${buf.length % stride} bytes left over)`,
    );
  }
  const count = buf.length / stride;
  const labels = new Uint8Array(count);
  const coarseClasses = 20;
  for (let r = 0; r < count; r++) {
    const base = r * stride;
    if (opts.labelBytes === 2 && buf[base] >= coarseClasses) {
      throw new DatasetError(`${opts.file}: record ${r} has coarse label ${buf[base]}, but CIFAR-100 has ${coarseClasses} superclasses`);
    }
    const l = buf[base + opts.labelBytes - 1];
    if (l >= opts.numClasses) throw new DatasetError(`${opts.file}: record ${r} has label ${l}, but the dataset has ${opts.numClasses} classes (0..${opts.numClasses - 1})`);
    labels[r] = l;
  }
  return { file: opts.file, count, pixels: buf, stride, pixelOffset: opts.labelBytes, labels };
}

/** CHW planes (R, G, B) of one record -> an interleaved HWC RGB image. */
export function planarToRgb(pixels: Uint8Array, offset: number): RgbImage {
  const data = new Uint8Array(PIXELS);
  for (let p = 0; p < PLANE; p++) {
    data[3 * p] = pixels[offset + p];
    data[3 * p + 1] = pixels[offset + PLANE + p];
    data[3 * p + 2] = pixels[offset + 2 * PLANE + p];
  }
  return { width: SIDE, height: SIDE, data };
}

export interface CifarOpenOptions {
  dataDir: string;
  split: CifarSplitName;
}

/** Reads the named files of a folder or archive (member paths are `<folder>/<name>`). */
async function readFiles(src: CifarSource, folder: string, names: string[], optional: string[]): Promise<Map<string, { bytes: Buffer; label: string }>> {
  const out = new Map<string, { bytes: Buffer; label: string }>();
  if (src.kind === 'folder') {
    for (const n of [...names, ...optional]) {
      const p = path.join(src.path, n);
      if (!isFile(p)) {
        if (optional.includes(n)) continue;
        throw new DatasetError(`${p} is missing (the ${folder}/ folder is incomplete: re-extract the archive or run spikeclip data download)`);
      }
      out.set(n, { bytes: fs.readFileSync(p), label: p });
    }
    return out;
  }
  let members: Map<string, Buffer>;
  try {
    members = await readTarMembers(src.path, [...names, ...optional].map((n) => `${folder}/${n}`));
  } catch (e) {
    if (e instanceof TarError) throw new DatasetError(e.message);
    throw e;
  }
  for (const n of [...names, ...optional]) {
    const bytes = members.get(`${folder}/${n}`);
    if (!bytes) {
      if (optional.includes(n)) continue;
      throw new DatasetError(`${src.path} has no member ${folder}/${n} (the archive is incomplete or not the official one)`);
    }
    out.set(n, { bytes, label: `${src.path}:${folder}/${n}` });
  }
  return out;
}

/** Builds the DatasetSplit over parsed batches. */
function makeSplit(name: CifarName, split: string, batches: CifarBatch[], classNames: string[], src: CifarSource, files: string[]): FingerprintedSplit {
  const starts: number[] = [];
  let total = 0;
  for (const b of batches) {
    starts.push(total);
    total += b.count;
  }
  const locate = (i: number): [CifarBatch, number] => {
    if (!Number.isInteger(i) || i < 0 || i >= total) throw new RangeError(`${name}/${split}: sample index ${i} is out of range [0, ${total})`);
    let k = batches.length - 1;
    while (starts[k] > i) k--;
    return [batches[k], i - starts[k]];
  };
  // The loader cache's key: the archive's size and mtime, or every batch file's for a folder.
  const stamps = (src.kind === 'archive' ? [src.path] : batches.map((b) => b.file)).map((p) => {
    const st = fs.statSync(p);
    return `${st.size}:${Math.floor(st.mtimeMs)}`;
  });
  return {
    dataset: name,
    split,
    classNames,
    size: total,
    files,
    fingerprint: `${name}:${src.format}:${split}:${src.path}:${stamps.join(',')}`,
    sample(i: number): Sample {
      const [b, r] = locate(i);
      return { index: i, label: b.labels[r], id: `${path.basename(b.file)}:${r}` };
    },
    source(i: number): ImageSource {
      const [b, r] = locate(i);
      return { kind: 'rgb', image: planarToRgb(b.pixels, b.pixelOffset + r * b.stride) };
    },
  };
}

/** Opens an official CIFAR split (`train` or `test`) from the binary or python version. */
export async function openCifar(name: CifarName, opts: CifarOpenOptions): Promise<FingerprintedSplit> {
  const layout = CIFAR_LAYOUT[name];
  if (opts.split !== 'train' && opts.split !== 'test') {
    throw new DatasetError(`${layout.title} has the official splits train and test, not ${JSON.stringify(opts.split)}`);
  }
  const src = locateCifar(name, opts.dataDir);
  if (src.format === 'python') return openCifarPython(name, src, opts.split);
  const f = layout.binary;
  const wanted = f[opts.split];
  const files = await readFiles(src, f.folder, wanted, [f.meta]);
  const labelBytes = name === 'cifar10' ? 1 : 2;
  const batches = wanted.map((n) => {
    const { bytes, label } = files.get(n) as { bytes: Buffer; label: string };
    return parseCifarBinary(bytes, { file: label, labelBytes, numClasses: layout.numClasses });
  });
  const meta = files.get(f.meta);
  const classNames = checkNames(name, meta ? parseLabelNames(meta.bytes.toString('utf8')) : null, meta?.label ?? '');
  return makeSplit(name, opts.split, batches, classNames, src, wanted.map((n) => (files.get(n) as { label: string }).label));
}

/** CLIP's class names, after checking the dataset's own name list (when present) agrees with them. */
function checkNames(name: CifarName, names: string[] | null, file: string): string[] {
  const clip = name === 'cifar10' ? CIFAR10_CLASSES : CIFAR100_CLASSES;
  if (names) {
    const title = CIFAR_LAYOUT[name].title;
    if (names.length !== clip.length) throw new DatasetError(`${file} lists ${names.length} class names, ${title} has ${clip.length}`);
    names.forEach((n, k) => {
      if (clipSpelling(n) !== clip[k]) throw new DatasetError(`${file}: class ${k} is ${JSON.stringify(n)}, but ${title}'s class ${k} is ${JSON.stringify(clip[k])} (not the official name list)`);
    });
  }
  return [...clip];
}

/** Parses a python batch pickle: a dict with a uint8 `data` array (N x 3072) and `labels` / `fine_labels`. */
export function parseCifarPython(bytes: Uint8Array, opts: { file: string; numClasses: number }): CifarBatch {
  const obj = readNumpyPickle(bytes, { source: opts.file });
  if (!(obj instanceof Map)) throw new DatasetError(`${opts.file} is not a CIFAR python batch (the pickle holds no dict)`);
  const data = obj.get('data');
  if (!(data instanceof NumpyArray)) throw new DatasetError(`${opts.file} is not a CIFAR python batch (no numpy array under "data")`);
  if (data.dtype !== 'uint8' || data.shape.length !== 2 || data.shape[1] !== PIXELS) {
    throw new DatasetError(`${opts.file}: "data" is a ${data.dtype} array of shape [${data.shape.join(', ')}], expected uint8 [N, ${PIXELS}]`);
  }
  const count = data.shape[0];
  const raw = obj.has('fine_labels') ? obj.get('fine_labels') : obj.get('labels');
  if (!Array.isArray(raw)) throw new DatasetError(`${opts.file} is not a CIFAR python batch (no "labels" or "fine_labels" list)`);
  if (raw.length !== count) throw new DatasetError(`${opts.file} has ${count} images but ${raw.length} labels (truncated or corrupt)`);
  const labels = new Uint8Array(count);
  raw.forEach((l, r) => {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= opts.numClasses) {
      throw new DatasetError(`${opts.file}: record ${r} has label ${String(l)}, but the dataset has ${opts.numClasses} classes (0..${opts.numClasses - 1})`);
    }
    labels[r] = l;
  });
  return { file: opts.file, count, pixels: data.data as Uint8Array, stride: PIXELS, pixelOffset: 0, labels };
}

/** Class names from a python meta pickle (`label_names` or `fine_label_names`). */
function parsePythonMeta(bytes: Uint8Array, file: string, key: string): string[] {
  const obj = readNumpyPickle(bytes, { source: file });
  const names = obj instanceof Map ? obj.get(key) : undefined;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new DatasetError(`${file} has no list of strings under "${key}"`);
  return names as string[];
}

async function openCifarPython(name: CifarName, src: CifarSource, split: CifarSplitName): Promise<FingerprintedSplit> {
  const layout = CIFAR_LAYOUT[name];
  const f = layout.python;
  const wanted = f[split];
  const files = await readFiles(src, f.folder, wanted, [f.meta]);
  const batches = wanted.map((n) => {
    const { bytes, label } = files.get(n) as { bytes: Buffer; label: string };
    return parseCifarPython(bytes, { file: label, numClasses: layout.numClasses });
  });
  const meta = files.get(f.meta);
  const classNames = checkNames(name, meta ? parsePythonMeta(meta.bytes, meta.label, name === 'cifar10' ? 'label_names' : 'fine_label_names') : null, meta?.label ?? '');
  return makeSplit(name, split, batches, classNames, src, wanted.map((n) => (files.get(n) as { label: string }).label));
}
