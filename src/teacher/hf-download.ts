/**
 * Downloads the files of a Hugging Face CLIP model into the hub cache, in the layout huggingface_hub
 * writes and ./hf-cache.ts reads:
 *
 *   <cache>/models--org--name/blobs/<etag>                      the bytes, named by their ETag
 *   <cache>/models--org--name/snapshots/<commit>/<file>         relative symbolic link ../../blobs/<etag>
 *   <cache>/models--org--name/refs/<revision>                   the commit, when the revision is a name
 *
 * The requests are the Hub's own: `HEAD <endpoint>/<repo>/resolve/<revision>/<file>` answers with
 * `X-Repo-Commit` and `ETag` (for large files, `X-Linked-Etag` and `X-Linked-Size` on a redirect to
 * the download CDN, which is not followed for HEAD); then `GET` on the same URL at the commit, which
 * follows that redirect. The first file (config.json) fixes the commit and every other file is
 * fetched at that commit, so a branch that moves meanwhile cannot mix two commits.
 *
 * Every byte goes through src/io/download.ts (Node's fetch with undici's proxy agent, resume of an
 * interrupted `.part`, retries) and is checked against its ETag before it is renamed into blobs/:
 * a 64-hex ETag is the SHA-256 of the file (large files), a 40-hex one the git blob SHA-1. Links
 * and the ref are written atomically, the ref last, so an interrupted download leaves no revision
 * that points at an incomplete snapshot. HF_TOKEN, when given, is sent as `Authorization: Bearer`
 * to the endpoint only (never to the CDN a redirect leads to) and never written anywhere.
 *
 * (@huggingface/hub was evaluated and not used: 11 packages and 12 MB installed, and its
 * downloadFileToCacheDir neither resumes nor verifies a download.)
 */
import * as fs from 'fs';
import * as path from 'path';
import { EXIT, UserError } from '../errors';
import { siblingTempPath, writeFileAtomic } from '../io/atomic';
import { type DownloadChecksum, type DownloadProgress, downloadFile, headRequest } from '../io/download';
import { hfRepoDir, type HfModelRef } from './hf-cache';

export const HF_DEFAULT_ENDPOINT = 'https://huggingface.co';

/** What a CLIP teacher needs: all required files, one weights layout (first found), optional extras. */
export const HF_CLIP_REQUIRED = ['config.json', 'vocab.json', 'merges.txt'] as const;
export const HF_CLIP_WEIGHTS = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;
export const HF_CLIP_OPTIONAL = ['preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

export class HfDownloadError extends UserError {
  constructor(message: string, fix: string, exitCode: number = EXIT.badInput, code = 'E_HF_DOWNLOAD') {
    super(message, { fix, code, exitCode });
    this.name = 'HfDownloadError';
  }
}

export interface HfDownloadOptions {
  /** The hub cache folder (hfHubCacheDir()). */
  cache: string;
  /** HF_ENDPOINT (default https://huggingface.co). */
  endpoint?: string;
  /** HF_TOKEN: sent as a bearer token to the endpoint. */
  token?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Called before each file: whether it is fetched or already in blobs/. */
  onFile?: (file: string, action: 'download' | 'cached') => void;
  retries?: number;
  timeoutMs?: number;
}

export interface HfDownloadedFile {
  file: string;
  etag: string;
  bytes: number;
  /** False when the blob was already in the cache. */
  downloaded: boolean;
}

export interface HfDownloadResult {
  commit: string;
  /** The snapshot folder. */
  dir: string;
  files: HfDownloadedFile[];
}

interface FileMeta {
  file: string;
  commit: string;
  etag: string;
  size: number | null;
}

/** `"abc"`, `W/"abc"` -> `abc`, as huggingface_hub normalises ETags. */
export function normaliseEtag(v: string): string {
  return v.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function checksumOf(etag: string): DownloadChecksum | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return { algorithm: 'sha256', hex: etag };
  if (/^[0-9a-f]{40}$/.test(etag)) return { algorithm: 'git-blob-sha1', hex: etag };
  return undefined;
}

/** The resolve URL of `file` at `revision` (both escaped as huggingface_hub escapes them). */
export function hfResolveUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Writes a relative symbolic link atomically (a copy where links are not allowed, as on Windows without developer mode). */
function linkAtomic(blob: string, link: string): void {
  fs.mkdirSync(path.dirname(link), { recursive: true });
  const tmp = siblingTempPath(link);
  try {
    fs.symlinkSync(path.relative(path.dirname(link), blob), tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    fs.copyFileSync(blob, tmp);
  }
  try {
    fs.renameSync(tmp, link);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function shardNames(indexFile: string, where: string): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new HfDownloadError(`${where}: invalid JSON (${(e as Error).message})`, 'the file on the server is damaged; try another --revision');
  }
  const map = (raw as { weight_map?: unknown }).weight_map;
  if (typeof map !== 'object' || map === null) throw new HfDownloadError(`${where}: expected {"weight_map": {tensor: file}}`, 'the file on the server is damaged; try another --revision');
  const files = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const f of files) {
    if (typeof f !== 'string' || f.includes('/') || f.includes('\\') || f.startsWith('.')) throw new HfDownloadError(`${where}: invalid shard name ${JSON.stringify(f)}`, 'the file on the server is damaged; try another --revision');
  }
  return files as string[];
}

/**
 * Downloads what a CLIP teacher needs of `ref` into `opts.cache` (see the module comment) and
 * returns the snapshot. Files whose blob is already cached are linked without a download.
 */
export async function downloadHfModel(ref: HfModelRef, opts: HfDownloadOptions): Promise<HfDownloadResult> {
  const endpoint = (opts.endpoint ?? HF_DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const repoDir = hfRepoDir(opts.cache, ref.repo);
  const name = `${ref.repo}@${ref.revision}`;

  /** The file's commit and ETag, or null when the revision has no such file. */
  const meta = async (revision: string, file: string): Promise<FileMeta | null> => {
    const url = hfResolveUrl(endpoint, ref.repo, revision, file);
    const res = await headRequest(url, { headers: auth, timeoutMs: opts.timeoutMs }).catch((e: Error) => {
      throw new HfDownloadError(`${name}: ${e.message}`, `check the network and HTTPS_PROXY / NO_PROXY, or set HF_HUB_OFFLINE=1 and use a cached model`, EXIT.notAvailable, 'E_HF_NETWORK');
    });
    const errorCode = res.headers.get('x-error-code');
    if (res.status === 401 || res.status === 403 || errorCode === 'RepoNotFound' || errorCode === 'GatedRepo') {
      throw new HfDownloadError(
        `${ref.repo}: ${endpoint} answered HTTP ${res.status}${errorCode ? ` (${errorCode})` : ''}: no such model, or it is private or gated`,
        opts.token ? 'check the model id; for a gated model accept its licence on its page with the account of HF_TOKEN' : 'check the model id; for a private or gated model set HF_TOKEN to an access token',
      );
    }
    if (errorCode === 'RevisionNotFound') throw new HfDownloadError(`${ref.repo} has no revision "${revision}" on ${endpoint}`, 'give a branch, tag or commit the model has (@main by default)');
    if (res.status === 404) return null;
    if (res.status !== 200 && !(res.status >= 300 && res.status < 400)) {
      throw new HfDownloadError(`${name}: HEAD ${file} answered HTTP ${res.status}`, 'try again later; if it persists, check HF_ENDPOINT', EXIT.notAvailable, 'E_HF_NETWORK');
    }
    const commit = res.headers.get('x-repo-commit') ?? '';
    const etagRaw = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
    if (!/^[0-9a-f]{40}$/.test(commit) || !etagRaw) {
      throw new HfDownloadError(`${name}: ${endpoint} did not answer ${file} as the Hugging Face Hub does (no X-Repo-Commit or ETag header)`, 'check HF_ENDPOINT (and that no proxy rewrites the answer)', EXIT.notAvailable, 'E_HF_NETWORK');
    }
    const etag = normaliseEtag(etagRaw);
    if (!/^[A-Za-z0-9._-]+$/.test(etag)) throw new HfDownloadError(`${name}: ${file} has an unusable ETag ${JSON.stringify(etagRaw)}`, 'check HF_ENDPOINT', EXIT.notAvailable, 'E_HF_NETWORK');
    const sizeHeader = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
    return { file, commit, etag, size };
  };
  const required = async (revision: string, file: string): Promise<FileMeta> => {
    const m = await meta(revision, file);
    if (!m) throw new HfDownloadError(`${ref.repo}@${revision === ref.revision ? ref.revision : revision.slice(0, 12)} has no ${file} on ${endpoint} (HTTP 404)`, 'is it a CLIP model in the transformers format? give another model id or revision');
    return m;
  };

  const first = await required(ref.revision, HF_CLIP_REQUIRED[0]);
  const commit = first.commit;
  const snapshot = path.join(repoDir, 'snapshots', commit);
  const files: HfDownloadedFile[] = [];
  const fetchFile = async (m: FileMeta): Promise<string> => {
    const blob = path.join(repoDir, 'blobs', m.etag);
    const cached = fs.existsSync(blob);
    opts.onFile?.(m.file, cached ? 'cached' : 'download');
    if (!cached) {
      try {
        await downloadFile(hfResolveUrl(endpoint, ref.repo, commit, m.file), blob, { headers: auth, checksum: checksumOf(m.etag), size: m.size ?? undefined, onProgress: opts.onProgress, retries: opts.retries, timeoutMs: opts.timeoutMs });
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new HfDownloadError(`${ref.repo}@${commit.slice(0, 12)}: ${m.file}: ${(e as Error).message}`, 'run the command again with --download: it resumes where it stopped', EXIT.notAvailable, 'E_HF_NETWORK');
      }
    }
    linkAtomic(blob, path.join(snapshot, m.file));
    files.push({ file: m.file, etag: m.etag, bytes: fs.statSync(blob).size, downloaded: !cached });
    return path.join(snapshot, m.file);
  };

  await fetchFile(first);
  for (const f of HF_CLIP_REQUIRED.slice(1)) await fetchFile(await required(commit, f));
  let weights: FileMeta | null = null;
  for (const f of HF_CLIP_WEIGHTS) {
    weights = await meta(commit, f);
    if (weights) break;
  }
  if (!weights) throw new HfDownloadError(`${ref.repo}@${commit.slice(0, 12)} has no model.safetensors or pytorch_model.bin on ${endpoint} (HTTP 404)`, 'is it a CLIP model in the transformers format? give another model id or revision');
  const weightsPath = await fetchFile(weights);
  if (weights.file.endsWith('.index.json')) {
    for (const shard of shardNames(weightsPath, `${ref.repo} ${weights.file}`)) await fetchFile(await required(commit, shard));
  }
  for (const f of HF_CLIP_OPTIONAL) {
    const m = await meta(commit, f);
    if (m) await fetchFile(m);
  }
  if (ref.revision !== commit) {
    const refFile = path.join(repoDir, 'refs', ref.revision);
    fs.mkdirSync(path.dirname(refFile), { recursive: true });
    await writeFileAtomic(refFile, commit);
  }
  return { commit, dir: snapshot, files };
}
