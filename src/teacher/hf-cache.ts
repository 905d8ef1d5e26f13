/**
 * Hugging Face model ids (`openai/clip-vit-base-patch16`, optionally `@revision`) resolved from the
 * local Hugging Face hub cache, offline, as transformers and huggingface_hub lay it out:
 *
 *   <cache>/models--openai--clip-vit-base-patch16/
 *     refs/main                 the commit hash the branch or tag `main` points to
 *     snapshots/<commit>/...    the files of that commit (symbolic links into blobs/)
 *     blobs/<hash>              the file contents
 *
 * <cache> is HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub, as huggingface_hub chooses it. ./hf-model.ts puts it together with
 * folders (a folder that exists wins over an id of the same spelling) and downloads (./hf-download.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXIT, UserError } from '../errors';

export interface HfModelRef {
  /** `openai/clip-vit-base-patch16` */
  repo: string;
  /** A branch, tag or commit (default `main`). */
  revision: string;
}

export interface ResolvedModelSource {
  /** The folder to read. */
  dir: string;
  /** Set when `dir` came from the Hugging Face cache. */
  hf?: HfModelRef & { commit: string; cache: string };
}

export class HfCacheError extends UserError {
  constructor(message: string, fix: string) {
    super(message, { fix, code: 'E_HF_NOT_CACHED', exitCode: EXIT.badInput });
    this.name = 'HfCacheError';
  }
}

/** The hub cache folder huggingface_hub uses with this environment. */
export function hfHubCacheDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  if (env.HF_HUB_CACHE) return path.resolve(env.HF_HUB_CACHE);
  if (env.HF_HOME) return path.join(path.resolve(env.HF_HOME), 'hub');
  const xdg = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(home, '.cache');
  return path.join(xdg, 'huggingface', 'hub');
}

const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const ID = new RegExp(`^(${NAME}/${NAME})(?:@([A-Za-z0-9._/-]+))?$`);

/** `org/name[@revision]` as a model reference, or undefined when it is not spelled like one. */
export function parseHfModelId(s: string): HfModelRef | undefined {
  const m = ID.exec(s);
  if (!m || m[1].includes('..') || m[1].includes('--')) return undefined;
  return { repo: m[1], revision: m[2] ?? 'main' };
}

/** The folder of `repo` in the hub cache: `models--org--name`. */
export function hfRepoDir(cache: string, repo: string): string {
  return path.join(cache, `models--${repo.replace(/\//g, '--')}`);
}

/** The snapshot folder of `ref` in `cache` (throws HfCacheError with what to do when it is not there). */
export function resolveHfSnapshot(ref: HfModelRef, cache: string, required: readonly string[] = ['config.json']): ResolvedModelSource {
  const repoDir = hfRepoDir(cache, ref.repo);
  const download = `download it where there is network (\`huggingface-cli download ${ref.repo}${ref.revision === 'main' ? '' : ` --revision ${ref.revision}`}\` or once with transformers), set HF_HUB_CACHE or HF_HOME to the cache that has it, or give the model's folder`;
  if (!fs.existsSync(repoDir)) throw new HfCacheError(`${ref.repo} is not in the Hugging Face cache ${cache}`, download);
  let commit: string;
  const refFile = path.join(repoDir, 'refs', ref.revision);
  if (/^[0-9a-f]{40}$/.test(ref.revision) && fs.existsSync(path.join(repoDir, 'snapshots', ref.revision))) {
    commit = ref.revision;
  } else if (fs.existsSync(refFile) && fs.statSync(refFile).isFile()) {
    commit = fs.readFileSync(refFile, 'utf8').trim();
  } else {
    throw new HfCacheError(`${ref.repo} has no revision "${ref.revision}" in the Hugging Face cache ${cache}`, download);
  }
  const dir = path.join(repoDir, 'snapshots', commit);
  if (!/^[0-9a-f]{40}$/.test(commit) || !fs.existsSync(dir)) {
    throw new HfCacheError(`${ref.repo}@${ref.revision}: the cache names commit "${commit}" but has no snapshot of it (${dir})`, download);
  }
  const missing = required.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length > 0) throw new HfCacheError(`${ref.repo}@${ref.revision}: the cached snapshot lacks ${missing.join(', ')} (an interrupted download?)`, download);
  return { dir, hf: { ...ref, commit, cache } };
}
