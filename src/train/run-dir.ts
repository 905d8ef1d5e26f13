/**
 * The run folder of one training invocation (open_clip's layout, with safetensors checkpoints):
 *
 *   params.json              resolved options, provenance, code version (written once, atomically)
 *   out.log                  the log lines, time-stamped (appended)
 *   results.jsonl            one JSON object per logging step and per epoch (appended)
 *   checkpoints/epoch_K/     checkpoint after epoch K (1-based), with the training state
 *   checkpoints/step_N/      checkpoint written mid-epoch (Ctrl-C, --save-every-steps)
 *   checkpoints/latest       symlink to the newest complete checkpoint
 *   checkpoints/best         symlink to the best checkpoint by the selection metric
 *
 * Every checkpoint directory is written whole with writeDirAtomic under a name never used before,
 * and `latest`/`best` are replaced by renaming a fresh symlink over them (atomic on POSIX), so a
 * crash or kill -9 at any moment leaves `latest` pointing at a complete checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from '../io/atomic';
import { isCheckpointDir } from '../io/checkpoint';
import { TrainError } from './errors';

export const RUN_FILES = {
  params: 'params.json',
  log: 'out.log',
  results: 'results.jsonl',
  checkpoints: 'checkpoints',
  latest: 'latest',
  best: 'best',
} as const;

/** Options that may differ between a run and its resumption without --force. */
export const RESUMABLE_CHANGES = new Set([
  'epochs',
  'maxSteps',
  'saveEvery',
  'saveEverySteps',
  'evalEvery',
  'logEvery',
  'keep',
  'resume',
  'force',
  'threads',
  'backend',
  'patience',
]);

export interface RunParamsFile {
  command: string;
  /** The resolved options (every default filled in). */
  options: Record<string, unknown>;
  provenance: Record<string, unknown>;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The option keys whose values differ (apart from those a resumption may change). */
export function differingOptions(before: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...keys].filter((k) => !RESUMABLE_CHANGES.has(k) && !sameJson(before[k], now[k])).sort();
}

function canWrite(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The nearest existing ancestor of `p` (p itself when it exists). */
function existingAncestor(p: string): string {
  let cur = path.resolve(p);
  while (!fs.existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

export class RunDir {
  readonly root: string;
  readonly checkpoints: string;

  private constructor(root: string) {
    this.root = root;
    this.checkpoints = path.join(root, RUN_FILES.checkpoints);
  }

  file(name: keyof typeof RUN_FILES): string {
    return path.join(this.root, RUN_FILES[name]);
  }

  /**
   * Checks (nothing is written) that `out` can hold a new run, or that it holds the run being
   * resumed. A new run needs `out` absent, empty, or without params.json; a writable place.
   */
  static check(out: string, o: { resuming: boolean }): { root: string; exists: boolean } {
    const root = path.resolve(out);
    if (fs.existsSync(root) && !fs.statSync(root).isDirectory()) {
      throw new TrainError(`--out ${out} exists and is not a folder`, 'E_OUT', 'give --out a new folder for the run');
    }
    const anc = existingAncestor(root);
    if (!fs.statSync(anc).isDirectory()) throw new TrainError(`--out ${out}: ${anc} is a file, so the run folder cannot be made`, 'E_OUT', 'give --out a path inside a folder');
    if (!canWrite(anc) || (fs.existsSync(root) && !canWrite(root))) {
      throw new TrainError(`--out ${out} is not writable (${anc})`, 'E_OUT', 'choose a folder you can write to');
    }
    const paramsFile = path.join(root, RUN_FILES.params);
    const exists = fs.existsSync(paramsFile);
    if (exists && !o.resuming) {
      throw new TrainError(`--out ${out} already holds a run (${RUN_FILES.params}); nothing was overwritten`, 'E_OUT_EXISTS', `continue it with --resume latest, or give a new --out`);
    }
    return { root, exists };
  }

  /** Creates (or reopens, when resuming) the run folder and records the params. */
  static open(out: string, params: RunParamsFile, o: { resuming: boolean }): RunDir {
    const { root, exists } = RunDir.check(out, o);
    fs.mkdirSync(path.join(root, RUN_FILES.checkpoints), { recursive: true });
    const run = new RunDir(root);
    if (!exists) writeFileAtomicSync(run.file('params'), `${JSON.stringify(params, null, 2)}\n`);
    else {
      // the resumption is recorded beside the original params, which stay as they were
      const prev = RunDir.readParams(root);
      const history = path.join(root, 'resumes.jsonl');
      fs.appendFileSync(history, `${JSON.stringify({ ...params, resumedFrom: prev.provenance?.createdAt ?? null })}\n`);
    }
    return run;
  }

  static readParams(root: string): RunParamsFile {
    const file = path.join(root, RUN_FILES.params);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new TrainError(`${file}: cannot be read as JSON (${(e as Error).message})`, 'E_RUN', 'the run folder is damaged; start a new run with another --out');
    }
    const p = raw as Partial<RunParamsFile>;
    if (typeof p !== 'object' || p === null || typeof p.command !== 'string' || typeof p.options !== 'object' || p.options === null) {
      throw new TrainError(`${file}: not a spikeclip run's params.json`, 'E_RUN', 'give --out the folder of a run started by spikeclip pretrain or finetune');
    }
    return { command: p.command, options: p.options as Record<string, unknown>, provenance: (p.provenance ?? {}) as Record<string, unknown> };
  }

  /** One time-stamped line in out.log. */
  log(line: string): void {
    fs.appendFileSync(this.file('log'), `${new Date().toISOString()} ${line}\n`);
  }

  /** One line of results.jsonl. */
  result(record: Record<string, unknown>): void {
    fs.appendFileSync(this.file('results'), `${JSON.stringify(record)}\n`);
  }

  checkpointPath(name: string): string {
    return path.join(this.checkpoints, name);
  }

  /** Points `latest` or `best` at checkpoint `name` (atomic: a new symlink renamed over the old). */
  point(link: 'latest' | 'best', name: string): void {
    const at = path.join(this.checkpoints, RUN_FILES[link]);
    const tmp = path.join(this.checkpoints, `.${link}.tmp-${process.pid}`);
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(name, tmp, 'dir');
    fs.renameSync(tmp, at);
  }

  /** The checkpoint name a link points at, if any. */
  target(link: 'latest' | 'best'): string | undefined {
    try {
      return fs.readlinkSync(path.join(this.checkpoints, RUN_FILES[link]));
    } catch {
      return undefined;
    }
  }

  /**
   * Removes old epoch_K / step_N checkpoints beyond the newest `keep` (0 keeps all); the ones
   * `latest` and `best` point at always stay.
   */
  prune(keep: number): string[] {
    if (keep <= 0) return [];
    const pinned = new Set([this.target('latest'), this.target('best')]);
    const named = fs
      .readdirSync(this.checkpoints)
      .map((n) => {
        const m = /^(epoch|step)_(\d+)$/.exec(n);
        return m ? { n, order: fs.statSync(path.join(this.checkpoints, n)).mtimeMs } : undefined;
      })
      .filter((x): x is { n: string; order: number } => x !== undefined)
      .sort((a, b) => b.order - a.order);
    const removed: string[] = [];
    for (const { n } of named.slice(keep)) {
      if (pinned.has(n)) continue;
      fs.rmSync(path.join(this.checkpoints, n), { recursive: true, force: true });
      removed.push(n);
    }
    return removed;
  }
}

/**
 * `--resume latest` (the run folder's newest checkpoint) or `--resume PATH` (a checkpoint folder
 * with training state). Returns the absolute checkpoint folder.
 */
export async function resolveResume(spec: string, out: string): Promise<string> {
  if (spec === 'latest') {
    const link = path.join(path.resolve(out), RUN_FILES.checkpoints, RUN_FILES.latest);
    if (!fs.existsSync(link)) {
      throw new TrainError(`--resume latest: ${out} has no checkpoints/latest to resume from`, 'E_RESUME', 'start the run without --resume, or give --resume PATH to a checkpoint');
    }
    return fs.realpathSync(link);
  }
  const dir = path.resolve(spec);
  if (!(await isCheckpointDir(dir))) throw new TrainError(`--resume ${spec}: not a checkpoint folder`, 'E_RESUME', 'give --resume latest, or the path of a checkpoints/epoch_K folder of a run');
  if (!fs.existsSync(path.join(dir, 'training_state.json'))) {
    throw new TrainError(`--resume ${spec}: the checkpoint has no training state (training_state.json)`, 'E_RESUME', 'resume from a checkpoint written by spikeclip pretrain/finetune, or start a new run with --checkpoint');
  }
  return fs.realpathSync(dir);
}

/**
 * `--resume` into `root`: the run must have been started by `command`, with the same options except
 * those in RESUMABLE_CHANGES and `ignore`; otherwise each differing key is listed (unless `force`).
 */
export function checkResumeParams(root: string, out: string, command: string, options: Record<string, unknown>, force: boolean, ignore: readonly string[] = []): void {
  const prev = RunDir.readParams(root);
  if (prev.command !== command) throw new TrainError(`--resume: ${out} is a ${prev.command} run, not a ${command} run`, 'E_RESUME', `resume it with spikeclip ${prev.command}`);
  const blank = (o: Record<string, unknown>) => ({ ...o, ...Object.fromEntries(ignore.map((k) => [k, null])) });
  const diff = differingOptions(blank(prev.options), blank(options));
  if (diff.length > 0 && !force) {
    throw new TrainError(
      `--resume: the run in ${out} was started with other settings: ${diff.map((k) => `${k} (${JSON.stringify(prev.options[k])} then, ${JSON.stringify(options[k])} now)`).join('; ')}`,
      'E_RESUME_PARAMS',
      'resume with the same flags, or add --force to continue with the new ones',
    );
  }
}
