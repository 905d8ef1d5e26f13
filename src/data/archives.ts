/**
 * The services behind `spikeclip data verify` and `spikeclip data download`: which official files
 * of a dataset are in a data folder and whether their MD5s match the published ones, and fetching
 * them (from the official URLs or a mirror). The checksum table, the MD5 helper, the resumable
 * downloader and the safe extraction are src/io/checksum.ts, src/io/download.ts and src/io/tar.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkFile, FileCheck, officialFiles, OfficialFile, verifyDataset } from '../io/checksum';
import { DownloadedFile, downloadDataset, DownloadProgress } from '../io/download';
import { DatasetError } from './types';
import { readSettingsTextSync } from '../io/bounded-read';

/** Datasets that are generated, not downloaded. */
export const BUILT_IN_DATASETS = ['shapes', 'shapes-simple'];

export interface VerifiedFile extends FileCheck {
  /** CIFAR's format variant, when the dataset has several. */
  variant?: string;
}

export interface VerifyReport {
  dataset: string;
  dataDir: string;
  files: VerifiedFile[];
  /** Files found whose MD5 differs from the published one. */
  mismatched: string[];
  /** Official files not found (for CIFAR: of both variants). */
  missing: string[];
  /** Every file of at least one variant is present and matches. */
  complete: boolean;
  /** Which variants are complete (CIFAR: binary, python; others: default). */
  completeVariants: string[];
  /** Where the expected MD5s came from: the published ones, or a `--checksums` file. */
  checksumSource: 'published' | 'checksums file';
}

/**
 * MD5 of every official file of `dataset` found in `dataDir` (or its flowers-102/ and
 * oxford-iiit-pet/ sub-folders), against the published checksums (or `checksums`, by file name).
 */
export async function verifyArchives(
  dataset: string,
  dataDir: string,
  onProgress?: (file: string, bytes: number, total: number) => void,
  checksums?: Record<string, string>,
): Promise<VerifyReport> {
  const official = officialFiles(dataset, 'all');
  checkOverrides(dataset, checksums);
  let checks: FileCheck[];
  if (!checksums) checks = await verifyDataset(dataset, dataDir, onProgress);
  else {
    const dirs = [dataDir, path.join(dataDir, 'flowers-102'), path.join(dataDir, 'oxford-iiit-pet')];
    checks = [];
    for (const f of official) {
      const where = dirs.map((d) => path.join(d, f.file)).find((p) => fs.existsSync(p)) ?? path.join(dataDir, f.file);
      checks.push(await checkFile(where, checksums[f.file] ?? f.md5, onProgress && ((b, t) => onProgress(f.file, b, t))));
    }
  }
  const files: VerifiedFile[] = checks.map((c, k) => (official[k].variant ? { ...c, variant: official[k].variant } : c));
  const groups = new Map<string, VerifiedFile[]>();
  for (const f of files) {
    const g = f.variant ?? 'default';
    groups.set(g, [...(groups.get(g) ?? []), f]);
  }
  const completeVariants = [...groups].filter(([, fs_]) => fs_.every((f) => f.found && f.ok)).map(([g]) => g);
  return {
    dataset,
    dataDir,
    files,
    mismatched: files.filter((f) => f.found && !f.ok).map((f) => f.file),
    missing: files.filter((f) => !f.found).map((f) => f.file),
    complete: completeVariants.length > 0,
    completeVariants,
    checksumSource: checksums ? 'checksums file' : 'published',
  };
}

/** "published" for the official checksums, "expected (checksums file)" for a --checksums file. */
function expectedWord(r: VerifyReport): string {
  return r.checksumSource === 'published' ? 'published' : 'expected (checksums file)';
}

/** The human table of a verification. */
export function renderVerifyReport(r: VerifyReport): string {
  const lines = [`${r.dataset} in ${r.dataDir}`];
  const w = Math.max(...r.files.map((f) => f.file.length));
  for (const f of r.files) {
    const state = !f.found ? 'missing' : f.ok ? 'ok' : 'MISMATCH';
    const detail = !f.found ? '' : f.ok ? `md5 ${f.actual}` : `md5 ${f.actual}, ${expectedWord(r)} ${f.expected}`;
    lines.push(`  ${f.file.padEnd(w)}  ${state.padEnd(8)}  ${detail}`.trimEnd());
  }
  if (r.complete) lines.push(`complete: ${r.completeVariants.filter((v) => v !== 'default').join(', ') || 'all files'} verified`);
  return lines.join('\n');
}

/** Throws the error a failed verification exits with (after the table has been shown). */
export function verifyFailure(r: VerifyReport): DatasetError | undefined {
  const fix = `spikeclip data download --dataset ${r.dataset} --data-dir ${r.dataDir}`;
  if (r.mismatched.length > 0) {
    const details = r.files
      .filter((f) => f.found && !f.ok)
      .map((f) => `${f.path} has MD5 ${f.actual}, ${expectedWord(r)} ${f.expected}`)
      .join('; ');
    return new DatasetError(`checksum mismatch: ${details} (fix: delete the file and run \`${fix}\`)`);
  }
  if (r.files.every((f) => !f.found)) {
    return new DatasetError(`no official ${r.dataset} files in ${r.dataDir}: expected ${r.files.map((f) => f.file).join(', ')} (fix: \`${fix}\`, or point --data-dir at the folder that holds them)`);
  }
  if (!r.complete) {
    return new DatasetError(`${r.dataset} is incomplete in ${r.dataDir}: missing ${r.missing.join(', ')} (fix: \`${fix}\`)`);
  }
  return undefined;
}

export interface FetchOptions {
  dataDir: string;
  /** CIFAR: binary (default) or python. */
  variant?: 'binary' | 'python';
  /** Extract archives (default true). */
  extract?: boolean;
  /** Fetch `<urlBase>/<file>` instead of the official URLs (a mirror). */
  urlBase?: string;
  /** Replacement MD5s by file name (for a mirror of re-packed or test archives). */
  checksums?: Record<string, string>;
  onProgress?: (p: DownloadProgress) => void;
  onStep?: (step: { file: string; action: 'download' | 'skip' | 'extract'; url?: string }) => void;
  retries?: number;
  timeoutMs?: number;
}

export interface FetchReport {
  dataset: string;
  dataDir: string;
  files: Array<DownloadedFile & { url: string }>;
}

/** Reads a `--checksums` file: a JSON object of file name -> MD5 (32 hex digits). */
export function readChecksumFile(file: string): Record<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(readSettingsTextSync(file, (m) => new DatasetError(m)));
  } catch (e) {
    throw new DatasetError(`cannot read checksums from ${file}: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DatasetError(`${file}: expected a JSON object of file name -> MD5`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof v !== 'string' || !/^[0-9a-fA-F]{32}$/.test(v)) throw new DatasetError(`${file}: the MD5 of ${k} must be 32 hex digits`);
    out[k] = v.toLowerCase();
  }
  return out;
}

function checkOverrides(dataset: string, checksums?: Record<string, string>): void {
  if (!checksums) return;
  const known = new Set(officialFiles(dataset, 'all').map((f) => f.file));
  for (const k of Object.keys(checksums)) {
    if (!known.has(k)) throw new DatasetError(`the checksums file names ${k}, which is not an official file of ${dataset} (${[...known].join(', ')})`);
  }
}

/** The URL a file is fetched from. */
export function urlOf(f: OfficialFile, urlBase?: string): string {
  if (!urlBase) return f.url;
  return `${urlBase.replace(/\/+$/, '')}/${encodeURIComponent(f.file)}`;
}

/** Downloads (resuming), verifies and extracts the official files of a dataset. */
export async function fetchDataset(dataset: string, opts: FetchOptions): Promise<FetchReport> {
  const dataDir = path.resolve(opts.dataDir);
  const files = officialFiles(dataset, opts.variant ?? 'binary').map((f) => (opts.checksums?.[f.file] ? { ...f, md5: opts.checksums[f.file] } : f));
  checkOverrides(dataset, opts.checksums);
  const urls = new Map(files.map((f) => [f.file, urlOf(f, opts.urlBase)]));
  const out = await downloadDataset(dataset, {
    dataDir,
    variant: opts.variant,
    extract: opts.extract,
    files,
    urlFor: (f) => urls.get(f.file) ?? f.url,
    onProgress: opts.onProgress,
    onStep: (s) => opts.onStep?.({ ...s, url: urls.get(s.file) }),
    retries: opts.retries,
    timeoutMs: opts.timeoutMs,
  });
  return { dataset, dataDir, files: out.map((f) => ({ ...f, url: urls.get(f.file) ?? '' })) };
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** One progress line. */
export function progressText(p: DownloadProgress): string {
  if (p.total) return `${p.file}: ${mb(p.received)} / ${mb(p.total)} (${Math.floor((100 * p.received) / p.total)}%)`;
  return `${p.file}: ${mb(p.received)}`;
}

export function renderFetchReport(r: FetchReport): string {
  const lines = [`${r.dataset} in ${r.dataDir}`];
  for (const f of r.files) {
    const how = f.skipped ? 'already there, checksum ok' : `${mb(f.bytes)} downloaded${f.resumed ? ' (resumed)' : ''}, checksum ok`;
    lines.push(`  ${f.file}: ${how}${f.extractedFiles > 0 ? `, ${f.extractedFiles} files extracted` : ''}`);
  }
  lines.push(`ready: spikeclip data info --dataset ${r.dataset} --data-dir ${r.dataDir}`);
  return lines.join('\n');
}
