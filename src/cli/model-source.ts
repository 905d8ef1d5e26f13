/**
 * The one place where a command turns a model argument that may be a Hugging Face model id into a
 * folder: `--teacher` of pretrain and finetune, `--checkpoint` of eval and embed (a
 * teacher checkpoint, or an id) and `convert teacher --from` (a Hugging Face folder, or an id).
 *
 * A path that exists wins; a string that is not spelled like `org/name[@revision]` is passed on
 * unchanged (the loader's own error names it); an id is resolved from the Hugging Face hub cache,
 * downloaded with --download (src/teacher/hf-model.ts), and, where a spikeclip teacher checkpoint is
 * wanted, converted once into SPIKECLIP_CACHE/teachers (src/teacher/hf-teacher.ts).
 */
import { Flags } from '@oclif/core';
import * as fs from 'fs';
import { defaultCacheDir } from '../data/cache';
import { parseHfModelId } from '../teacher/hf-cache';
import { type HfModelSource, type ResolvedModel, hfEndpoint, resolveModel } from '../teacher/hf-model';
import { hfTeacherCheckpoint } from '../teacher/hf-teacher';
import type { Progress } from './progress';
import { makeProvenance } from './provenance';

/** `--download`, for commands whose model argument may be a Hugging Face model id. */
export const downloadFlag = {
  download: Flags.boolean({
    description:
      'A Hugging Face model id that is not in the local Hugging Face cache is downloaded into it (from HF_ENDPOINT, default https://huggingface.co; HF_TOKEN for private or gated models). Without it nothing is fetched; HF_HUB_OFFLINE=1 forbids it.',
    default: false,
  }),
};

export interface ResolveArgOptions {
  /** --download. */
  download: boolean;
  progress: Progress;
  note: (line: string) => void;
  /** What the argument should be, for the error when it is neither a folder nor an id. */
  what: string;
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

async function resolveWithProgress(spec: string, o: ResolveArgOptions): Promise<ResolvedModel> {
  let current = '';
  const r = await resolveModel(spec, {
    download: o.download,
    what: o.what,
    onFile: (file, action) => {
      current = file;
      if (action === 'download') o.progress.update(`${spec}: downloading ${file}`);
    },
    onProgress: (p) => o.progress.tick(`${spec}: ${current} ${mb(p.received)}${p.total ? ` / ${mb(p.total)} (${Math.floor((100 * p.received) / p.total)}%)` : ''}`),
  });
  o.progress.stop();
  if (r.hf) {
    const fetched = r.downloaded?.files.filter((f) => f.downloaded) ?? [];
    const how = r.downloaded ? `downloaded ${fetched.length} file(s), ${mb(fetched.reduce((a, f) => a + f.bytes, 0))}, from ${hfEndpoint()} into` : 'from';
    o.note(`${r.hf.repo}@${r.hf.revision}: commit ${r.hf.commit}, ${how} the Hugging Face cache ${r.hf.cache}`);
  }
  return r;
}

function sourceOf(spec: string, r: ResolvedModel): HfModelSource | undefined {
  if (!r.hf) return undefined;
  return { id: spec, repo: r.hf.repo, revision: r.hf.revision, commit: r.hf.commit, snapshot: r.dir, downloaded: r.downloaded !== undefined };
}

/** A Hugging Face CLIP folder, or the snapshot of a model id (`convert teacher --from`). */
export async function resolveHfFolderArg(spec: string, o: ResolveArgOptions): Promise<{ dir: string; source?: HfModelSource }> {
  const r = await resolveWithProgress(spec, o);
  return { dir: r.dir, source: sourceOf(spec, r) };
}

/**
 * A checkpoint argument that may also be a model id: the path as given, or the teacher checkpoint
 * converted from the model's cached snapshot (once; reused by later runs).
 */
export async function resolveCheckpointArg(spec: string, o: ResolveArgOptions & { seed?: number }): Promise<{ dir: string; source?: HfModelSource }> {
  if (fs.existsSync(spec) || parseHfModelId(spec) === undefined) return { dir: spec };
  const r = await resolveWithProgress(spec, o);
  const source = sourceOf(spec, r);
  if (!r.hf || !source) return { dir: r.dir };
  const ck = await hfTeacherCheckpoint(
    { dir: r.dir, hf: r.hf },
    {
      cacheRoot: defaultCacheDir(),
      provenance: makeProvenance({ seed: o.seed ?? 0 }) as unknown as Record<string, unknown>,
      onConvert: (dir) => o.progress.update(`converting ${spec} into a teacher checkpoint (once): ${dir}`),
    },
  );
  o.progress.stop();
  if (ck.converted) o.note(`converted ${r.hf.repo}@${r.hf.commit.slice(0, 12)} into the teacher checkpoint ${ck.dir}`);
  return { dir: ck.dir, source };
}
