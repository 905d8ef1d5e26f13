/**
 * What every training service (`pretrain`, `finetune`) takes besides its objective: the loop's
 * length, schedule, checkpointing and logging, the run folder, and the hooks the CLI fills in.
 */
import type { StudentResize } from '../data/transforms';
import { trainUsage } from './errors';
import type { LoopOptions, ProgressInfo } from './loop';

export interface TrainRunOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  lrMin?: number;
  /** Cosine schedule length in epochs (default: the stage's reference value, else the epochs). */
  tMax?: number;
  gradAccum?: number;
  /** Linear learning-rate warm-up over the first N optimiser steps (default 0: none). */
  warmupSteps?: number;
  patience?: number;
  out: string;
  resume?: string;
  force?: boolean;
  maxSteps?: number;
  saveEvery?: number;
  saveEverySteps?: number;
  evalEvery?: number;
  logEvery?: number;
  keep?: number;
  seed?: number;
  studentResize?: StudentResize;
  /** Cache root for teacher features and decoded views (default SPIKECLIP_CACHE or ~/.cache/spikeclip); false: no feature cache. */
  cacheDir?: string | false;
  /** Decode workers of the loader ('auto' default). */
  workers?: number;
  provenance?: Record<string, unknown>;
  stopRequested?: () => boolean;
  onProgress?: (p: ProgressInfo) => void;
  onStatus?: (text: string) => void;
  onLog?: (line: string) => void;
  onWarning?: (message: string) => void;
}

/** A usage error unless `v` (when given) is a positive number, or a positive integer. */
export function checkPositive(name: string, v: number | undefined, integer: boolean): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw trainUsage(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`, `give --${name} a value above 0`);
}

/** The shared numeric flags' checks. */
export function checkRunOptions(o: TrainRunOptions): void {
  for (const [n, v, int] of [['epochs', o.epochs, true], ['batch-size', o.batchSize, true], ['lr', o.lr, false], ['t-max', o.tMax, true], ['grad-accum', o.gradAccum, true], ['max-steps', o.maxSteps, true], ['save-every', o.saveEvery, true], ['patience', o.patience, true]] as const) {
    checkPositive(n, v, int);
  }
  if (o.warmupSteps !== undefined && !(Number.isInteger(o.warmupSteps) && o.warmupSteps >= 0)) throw trainUsage(`--warmup-steps must be an integer >= 0, got ${o.warmupSteps}`, 'give --warmup-steps 0 or more');
  if (o.lrMin !== undefined && !(o.lrMin >= 0)) throw trainUsage(`--lr-min must be a number >= 0, got ${o.lrMin}`, 'give --lr-min 0 or more');
}

/**
 * The loop's options of a fine-tuning run (student or teacher) from its params.json options and
 * the service's hooks: best checkpoint by validation top-1.
 */
export function finetuneLoopOptions(opt: Record<string, unknown>, o: TrainRunOptions, save: LoopOptions['save']): LoopOptions {
  return {
    epochs: opt.epochs as number,
    maxSteps: o.maxSteps,
    lr: opt.lr as number,
    lrMin: opt.lrMin as number,
    tMax: opt.tMax as number,
    gradAccum: opt.gradAccum as number,
    warmupSteps: opt.warmupSteps as number,
    logEvery: opt.logEvery as number,
    saveEvery: opt.saveEvery as number,
    saveEverySteps: opt.saveEverySteps as number,
    evalEvery: opt.evalEvery as number,
    keep: opt.keep as number,
    patience: o.patience,
    select: { metric: 'val_top1', mode: 'max' },
    stopRequested: o.stopRequested ?? (() => false),
    save,
    onProgress: o.onProgress,
    onStatus: o.onStatus,
    onLog: o.onLog,
  };
}
