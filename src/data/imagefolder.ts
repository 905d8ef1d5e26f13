/**
 * Generic labelled image folders with torchvision ImageFolder semantics: `root/<class>/.../*.jpg`
 * (also .jpeg, .png, .webp; extensions case-insensitive). Classes are the sub-folder names sorted
 * by code point; each class's files are found recursively and sorted the way torchvision walks
 * them (folders in sorted order, files sorted within each folder); the label is the class's index.
 * Two differences from torchvision, both deliberate: hidden entries (names starting with `.`, e.g.
 * `.ipynb_checkpoints`) are ignored, and symbolic links are followed like torchvision does but a
 * folder is never visited twice (no loops).
 *
 * Layouts:
 * - flat: `root/<class>/...` is one pool of images, exposed as the split `trainval` (the registry
 *   carves `train`/`val` from it);
 * - split folders (ImageNet style): `root/train/<class>/...`, `root/val/<class>/...` and/or
 *   `root/test/<class>/...` (also `trainval/`); each is a split, and the class list is the sorted
 *   union of the class folders of all of them, so a label means the same class in every split.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FingerprintedSplit } from './splits';
import { DatasetError, ImageSource, Sample } from './types';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'] as const;
const SPLIT_FOLDERS = ['train', 'val', 'test', 'trainval'] as const;

export function isImageFile(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(name).toLowerCase());
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

function subfolders(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith('.') && statOrNull(path.join(dir, n))?.isDirectory())
    .sort(byCodePoint);
}

/** All image files under `dir`, in torchvision's walk order (sorted folders, sorted files per folder). */
export function listImages(dir: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (d: string) => {
    const real = fs.realpathSync(d);
    if (seen.has(real)) return;
    seen.add(real);
    const names = fs.readdirSync(d).filter((n) => !n.startsWith('.')).sort(byCodePoint);
    const dirs: string[] = [];
    for (const n of names) {
      const p = path.join(d, n);
      const st = statOrNull(p);
      if (!st) continue; // dangling link
      if (st.isDirectory()) dirs.push(p);
      else if (st.isFile() && isImageFile(n)) out.push(p);
    }
    for (const p of dirs) walk(p);
  };
  walk(dir);
  return out;
}

export interface ImageFolderLayout {
  root: string;
  kind: 'flat' | 'split-folders';
  /** Splits present: ['trainval'] for flat folders, else the split folders found. */
  splits: string[];
  classes: string[];
}

/** Inspects a folder: flat or split folders, and the class list. */
export function imageFolderLayout(rootDir: string): ImageFolderLayout {
  const root = path.resolve(rootDir);
  const st = statOrNull(root);
  if (!st?.isDirectory()) throw new DatasetError(`image folder ${root} does not exist or is not a folder (fix: --dataset folder:DIR with DIR holding one sub-folder per class)`);
  const splitDirs = SPLIT_FOLDERS.filter((s) => statOrNull(path.join(root, s))?.isDirectory());
  if (splitDirs.length > 0) {
    const classes = [...new Set(splitDirs.flatMap((s) => subfolders(path.join(root, s))))].sort(byCodePoint);
    if (classes.length === 0) throw new DatasetError(`${root}: the split folders ${splitDirs.join(', ')} hold no class folders`);
    return { root, kind: 'split-folders', splits: [...splitDirs], classes };
  }
  const classes = subfolders(root);
  if (classes.length === 0) throw new DatasetError(`${root} has no class folders (expected ${root}/<class>/<image>.jpg)`);
  return { root, kind: 'flat', splits: ['trainval'], classes };
}

/** Opens one split of an image folder (`trainval` for a flat folder). */
export async function openImageFolder(rootDir: string, split: string, datasetName = `folder:${rootDir}`): Promise<FingerprintedSplit> {
  const layout = imageFolderLayout(rootDir);
  if (!layout.splits.includes(split)) {
    throw new DatasetError(`${layout.root} has the split(s) ${layout.splits.join(', ')}${layout.kind === 'flat' ? ' (a flat folder: one pool of images)' : ''}, not ${JSON.stringify(split)}`);
  }
  const base = layout.kind === 'flat' ? layout.root : path.join(layout.root, split);
  const paths: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  layout.classes.forEach((c, label) => {
    const dir = path.join(base, c);
    if (!statOrNull(dir)?.isDirectory()) return; // a class absent from this split
    const files = listImages(dir);
    if (files.length === 0) empty.push(c);
    for (const f of files) {
      paths.push(f);
      labels.push(label);
    }
  });
  if (empty.length > 0) {
    throw new DatasetError(`${base}: no ${IMAGE_EXTENSIONS.join('/')} files in the class folder(s) ${empty.slice(0, 5).join(', ')}${empty.length > 5 ? ` and ${empty.length - 5} more` : ''}`);
  }
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= paths.length) throw new RangeError(`${datasetName}/${split}: sample index ${i} is out of range [0, ${paths.length})`);
  };
  return {
    dataset: datasetName,
    split,
    classNames: layout.classes.slice(),
    size: paths.length,
    files: [base],
    sample(i: number): Sample {
      check(i);
      return { index: i, label: labels[i], id: path.relative(base, paths[i]).split(path.sep).join('/') };
    },
    source(i: number): ImageSource {
      check(i);
      return { kind: 'file', path: paths[i] };
    },
  };
}
