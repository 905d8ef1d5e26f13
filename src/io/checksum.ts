/**
 * Checksums of dataset files and the table of official download locations.
 *
 * The MD5s are the published ones: the CIFAR pages (www.cs.toronto.edu/~kriz/cifar.html) list all
 * four archives, and torchvision's dataset classes carry the same values for the python CIFAR
 * archives, Flowers-102 (102flowers.tgz, imagelabels.mat, setid.mat) and Oxford-IIIT Pet
 * (images.tar.gz, annotations.tar.gz); they were cross-checked against torchvision's source.
 * Errors are DatasetErrors (a user's bad or missing file, exit status 4).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DatasetError } from '../data/types';

/** An official file of a dataset. */
export interface OfficialFile {
  /** Dataset name as the CLI spells it. */
  dataset: string;
  /** File name, as published and as it is stored under --data-dir. */
  file: string;
  url: string;
  md5: string;
  /** Size in bytes where known (shown in progress before the server says). */
  size?: number;
  /** A tar archive to extract after download (safely, see src/io/tar.ts). */
  archive: boolean;
  /** For datasets published in several formats (CIFAR): which one this is. */
  variant?: 'binary' | 'python';
}

const KRIZ = 'https://www.cs.toronto.edu/~kriz';
const FLOWERS = 'https://www.robots.ox.ac.uk/~vgg/data/flowers/102';
const PETS = 'https://www.robots.ox.ac.uk/~vgg/data/pets/data';

/** Official URLs and MD5s. */
export const OFFICIAL_FILES: readonly OfficialFile[] = Object.freeze([
  { dataset: 'cifar10', variant: 'binary', file: 'cifar-10-binary.tar.gz', url: `${KRIZ}/cifar-10-binary.tar.gz`, md5: 'c32a1d4ab5d03f1284b67883e8d87530', size: 170_052_171, archive: true },
  { dataset: 'cifar10', variant: 'python', file: 'cifar-10-python.tar.gz', url: `${KRIZ}/cifar-10-python.tar.gz`, md5: 'c58f30108f718f92721af3b95e74349a', archive: true },
  { dataset: 'cifar100', variant: 'binary', file: 'cifar-100-binary.tar.gz', url: `${KRIZ}/cifar-100-binary.tar.gz`, md5: '03b5dce01913d631647c71ecec9e9cb8', size: 168_513_733, archive: true },
  { dataset: 'cifar100', variant: 'python', file: 'cifar-100-python.tar.gz', url: `${KRIZ}/cifar-100-python.tar.gz`, md5: 'eb9058c3a382ffc7106e4002c42a8d85', archive: true },
  { dataset: 'flowers102', file: '102flowers.tgz', url: `${FLOWERS}/102flowers.tgz`, md5: '52808999861908f626f3c1f4e79d11fa', archive: true },
  { dataset: 'flowers102', file: 'imagelabels.mat', url: `${FLOWERS}/imagelabels.mat`, md5: 'e0620be6f572b9609742df49c70aed4d', archive: false },
  { dataset: 'flowers102', file: 'setid.mat', url: `${FLOWERS}/setid.mat`, md5: 'a5357ecc9cb78c4bef273ce3793fc85c', archive: false },
  { dataset: 'pets', file: 'images.tar.gz', url: `${PETS}/images.tar.gz`, md5: '5c4f3ee8e5d25df40f4fd59a7f44e54c', archive: true },
  { dataset: 'pets', file: 'annotations.tar.gz', url: `${PETS}/annotations.tar.gz`, md5: '95a8c909bbe2e81eed6a22bccdf3f68f', archive: true },
] as OfficialFile[]);

/** Datasets with official files. */
export function downloadableDatasets(): string[] {
  return [...new Set(OFFICIAL_FILES.map((f) => f.dataset))];
}

/**
 * The official files of a dataset. CIFAR comes in two variants: `binary` (the default, read
 * without any pickle) or `python`; `all` lists both (for verification).
 */
export function officialFiles(dataset: string, variant: 'binary' | 'python' | 'all' = 'binary'): OfficialFile[] {
  const files = OFFICIAL_FILES.filter((f) => f.dataset === dataset && (variant === 'all' || f.variant === undefined || f.variant === variant));
  if (files.length === 0) {
    throw new DatasetError(`no official files are known for dataset ${JSON.stringify(dataset)}; downloadable datasets: ${downloadableDatasets().join(', ')}`);
  }
  return files;
}

/** Hex digest of a file, streamed (bounded memory), with optional progress in bytes. */
export async function fileDigest(file: string, algorithm = 'md5', onProgress?: (bytes: number, total: number) => void): Promise<string> {
  const total = fs.statSync(file).size;
  const hash = crypto.createHash(algorithm);
  let done = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.(done, total);
  }
  return hash.digest('hex');
}

/** MD5 of a file as lower-case hex. */
export function md5File(file: string, onProgress?: (bytes: number, total: number) => void): Promise<string> {
  return fileDigest(file, 'md5', onProgress);
}

export interface FileCheck {
  file: string;
  path: string;
  found: boolean;
  /** Size on disk when found. */
  bytes?: number;
  expected: string;
  actual?: string;
  ok: boolean;
}

/** Checks one file against an expected MD5 (missing files are reported, not thrown). */
export async function checkFile(file: string, expectedMd5: string, onProgress?: (bytes: number, total: number) => void): Promise<FileCheck> {
  const name = path.basename(file);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) return { file: name, path: file, found: false, expected: expectedMd5, ok: false };
  const actual = await md5File(file, onProgress);
  return { file: name, path: file, found: true, bytes: fs.statSync(file).size, expected: expectedMd5, actual, ok: actual === expectedMd5.toLowerCase() };
}

/**
 * Checks every official file of a dataset present in `dataDir` (also its torchvision-style
 * subfolders `flowers-102/` and `oxford-iiit-pet/`) against the published MD5s.
 */
export async function verifyDataset(dataset: string, dataDir: string, onProgress?: (file: string, bytes: number, total: number) => void): Promise<FileCheck[]> {
  const dirs = [dataDir, path.join(dataDir, 'flowers-102'), path.join(dataDir, 'oxford-iiit-pet')];
  const out: FileCheck[] = [];
  for (const f of officialFiles(dataset, 'all')) {
    const where = dirs.map((d) => path.join(d, f.file)).find((p) => fs.existsSync(p)) ?? path.join(dataDir, f.file);
    out.push(await checkFile(where, f.md5, onProgress && ((b, t) => onProgress(f.file, b, t))));
  }
  return out;
}
