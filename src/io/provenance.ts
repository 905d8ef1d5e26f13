/**
 * Provenance recorded in every checkpoint and result file: which code, which command line,
 * which seed, when, on which backend.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { HfModelSource } from '../teacher/hf-model';

export interface Provenance {
  /** spikeclip's package version. */
  codeVersion: string;
  /** Git commit of the code, when it runs from a git checkout. */
  gitCommit?: string;
  /** The command line as typed (argv after the node binary and script). */
  commandLine: string[];
  /** The --seed of commands that make random choices (absent for those that make none). */
  seed?: number;
  createdAt: string;
  backend?: { name: string; threads: number };
  /** Checkpoint or dataset a stage started from, when there is one. */
  teacher?: string;
  /** When the teacher was given as a Hugging Face model id: the id, revision and commit it resolved to. */
  teacherSource?: HfModelSource;
  data?: string[];
}

function packageRoot(): string {
  // dist/io/provenance.js or src/io/provenance.ts: two levels up holds package.json
  return path.resolve(__dirname, '..', '..');
}

export function codeVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function gitCommit(): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    const sha = out.toString().trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

export function makeProvenance(opts: { seed?: number; argv?: string[]; backend?: { name: string; threads: number }; teacher?: string; teacherSource?: HfModelSource; data?: string[] }): Provenance {
  const p: Provenance = {
    codeVersion: codeVersion(),
    commandLine: ['spikeclip', ...(opts.argv ?? process.argv.slice(2))],
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    createdAt: new Date().toISOString(),
  };
  const commit = gitCommit();
  if (commit) p.gitCommit = commit;
  if (opts.backend) p.backend = opts.backend;
  if (opts.teacher) p.teacher = opts.teacher;
  if (opts.teacherSource) p.teacherSource = opts.teacherSource;
  if (opts.data) p.data = opts.data;
  return p;
}
