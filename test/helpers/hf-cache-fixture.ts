/**
 * Writes a model into a Hugging Face hub cache folder as huggingface_hub stores it:
 * models--org--name/blobs/<sha256>, snapshots/<commit>/<file> as relative links into blobs/, and
 * refs/<name> holding the commit.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** Copies the files of `src` into `cache` as `repo` at `commit`; returns the snapshot folder. */
export function addToHfCache(cache: string, repo: string, src: string, commit: string, refs: string[]): string {
  const repoDir = path.join(cache, `models--${repo.replace('/', '--')}`);
  const snap = path.join(repoDir, 'snapshots', commit);
  fs.mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
  fs.mkdirSync(snap, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    const bytes = fs.readFileSync(path.join(src, f));
    const blob = createHash('sha256').update(bytes).digest('hex');
    fs.writeFileSync(path.join(repoDir, 'blobs', blob), bytes);
    fs.symlinkSync(path.join('..', '..', 'blobs', blob), path.join(snap, f));
  }
  fs.mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
  for (const r of refs) fs.writeFileSync(path.join(repoDir, 'refs', r), commit);
  return snap;
}
