/**
 * A teacher checkpoint for a Hugging Face model from the hub cache: the cached snapshot is
 * converted once (./checkpoint.ts convertHfClipFolder, atomic) into
 * `<spikeclip cache>/teachers/models--org--name/<commit>` and reused by every later run, since a
 * commit's files never change. Training, eval and embed then read it like any teacher checkpoint.
 */
import * as path from 'path';
import { readCheckpointConfig } from '../io/checkpoint';
import { convertHfClipFolder } from './checkpoint';
import type { ResolvedModelSource } from './hf-cache';

/** Where the teacher checkpoint of `repo` at `commit` is kept under the spikeclip cache `root`. */
export function hfTeacherCheckpointDir(root: string, repo: string, commit: string): string {
  return path.join(root, 'teachers', `models--${repo.replace(/\//g, '--')}`, commit);
}

async function isTeacherCheckpoint(dir: string): Promise<boolean> {
  try {
    return (await readCheckpointConfig(dir)).kind === 'teacher';
  } catch {
    return false;
  }
}

/**
 * The teacher checkpoint of a model resolved from the hub cache: converted on first use (`onConvert`
 * is called before the conversion starts), reused afterwards.
 */
export async function hfTeacherCheckpoint(
  source: ResolvedModelSource & { hf: NonNullable<ResolvedModelSource['hf']> },
  o: { cacheRoot: string; provenance: Record<string, unknown>; onConvert?: (dir: string) => void },
): Promise<{ dir: string; converted: boolean }> {
  const dir = hfTeacherCheckpointDir(o.cacheRoot, source.hf.repo, source.hf.commit);
  if (await isTeacherCheckpoint(dir)) return { dir, converted: false };
  o.onConvert?.(dir);
  await convertHfClipFolder(source.dir, dir, { provenance: { ...o.provenance, teacher: `${source.hf.repo}@${source.hf.commit}` } });
  return { dir, converted: true };
}
