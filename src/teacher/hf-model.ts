/**
 * A model given by folder or by Hugging Face model id, as every command that takes a teacher sees
 * it: a folder that exists wins; else `org/name[@revision]` is looked up in the hub cache (offline,
 * ./hf-cache.ts); when it is not there (or its snapshot is incomplete) and downloading was asked for
 * (`--download`), it is fetched from HF_ENDPOINT (default https://huggingface.co) into that cache
 * (./hf-download.ts), unless HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, which forbids any
 * request, as in huggingface_hub. A model already in the cache is never asked for again.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DownloadProgress } from '../io/download';
import { HfCacheError, type HfModelRef, type ResolvedModelSource, hfHubCacheDir, parseHfModelId, resolveHfSnapshot } from './hf-cache';
import { HF_CLIP_REQUIRED, HF_CLIP_WEIGHTS, HF_DEFAULT_ENDPOINT, type HfDownloadResult, downloadHfModel } from './hf-download';

export interface ResolveModelOptions {
  env?: NodeJS.ProcessEnv;
  /** Fetch a model that is not cached (unless the environment says offline). */
  download?: boolean;
  /** What the argument names, for the error when it is neither a folder nor an id. */
  what?: string;
  onProgress?: (p: DownloadProgress) => void;
  onFile?: (file: string, action: 'download' | 'cached') => void;
}

export interface ResolvedModel extends ResolvedModelSource {
  /** Set when the model was (partly) downloaded by this call. */
  downloaded?: HfDownloadResult;
}

/** Where a model given by id came from: recorded in the provenance of what a run writes. */
export interface HfModelSource {
  /** The argument as given, e.g. openai/clip-vit-base-patch16. */
  id: string;
  repo: string;
  revision: string;
  commit: string;
  /** The Hugging Face cache snapshot folder it was read from. */
  snapshot: string;
  /** True when this run downloaded (some of) it. */
  downloaded: boolean;
}

/** huggingface_hub's truthy environment values. */
function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set: no request may be made. */
export function hfOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return isTrue(env.HF_HUB_OFFLINE) || isTrue(env.TRANSFORMERS_OFFLINE);
}

/** The Hub endpoint: HF_ENDPOINT, else https://huggingface.co. */
export function hfEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT?.trim() || HF_DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** The snapshot has what a CLIP teacher needs (an interrupted download may have left less). */
function completeSnapshot(dir: string): boolean {
  return HF_CLIP_REQUIRED.every((f) => fs.existsSync(path.join(dir, f))) && HF_CLIP_WEIGHTS.some((f) => fs.existsSync(path.join(dir, f)));
}

function cached(ref: HfModelRef, cache: string): ResolvedModelSource | HfCacheError {
  try {
    const r = resolveHfSnapshot(ref, cache);
    return completeSnapshot(r.dir) ? r : new HfCacheError(`${ref.repo}@${ref.revision}: the cached snapshot ${r.dir} is incomplete (an interrupted download?)`, '');
  } catch (e) {
    if (e instanceof HfCacheError) return e;
    throw e;
  }
}

/**
 * `from` as a folder, or as a Hugging Face model id from the cache (downloaded first when
 * `download` is set and the environment allows it). Throws HfCacheError (one line with the fix).
 */
export async function resolveModel(from: string, o: ResolveModelOptions = {}): Promise<ResolvedModel> {
  if (fs.existsSync(from)) return { dir: from };
  const env = o.env ?? process.env;
  const ref = parseHfModelId(from);
  const what = o.what ?? 'a Hugging Face CLIP folder';
  if (!ref) throw new HfCacheError(`${from}: no such folder`, `give ${what}, or a model id such as openai/clip-vit-base-patch16`);
  const cache = hfHubCacheDir(env);
  const hit = cached(ref, cache);
  if (!(hit instanceof HfCacheError)) return hit;
  const orFolder = `and there is no folder ${from}`;
  const endpoint = hfEndpoint(env);
  if (hfOffline(env)) {
    throw new HfCacheError(
      `${hit.message} (${orFolder}), and HF_HUB_OFFLINE is set, so it cannot be downloaded`,
      `unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) and add --download to fetch it from ${endpoint}, or set HF_HUB_CACHE or HF_HOME to a cache that has it`,
    );
  }
  if (!o.download) {
    throw new HfCacheError(
      `${hit.message} (${orFolder})`,
      `add --download to fetch it from ${endpoint} into that cache, set HF_HUB_CACHE or HF_HOME to a cache that has it, or give ${what}`,
    );
  }
  const downloaded = await downloadHfModel(ref, { cache, endpoint, token: env.HF_TOKEN || undefined, onProgress: o.onProgress, onFile: o.onFile });
  return { ...resolveHfSnapshot(ref, cache), downloaded };
}
