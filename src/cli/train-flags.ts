/**
 * What `pretrain` and `finetune` share at the CLI edge: the training-loop flags, progress with rate
 * and ETA, and Ctrl-C handling (the first SIGINT/SIGTERM asks the loop to stop after the current
 * step and save; a second one exits at once, which the atomic checkpoint writes make safe).
 */
import { Errors, Flags } from '@oclif/core';
import { formatDuration, type Progress } from './progress';
import { EXIT, UserError } from './errors';
import type { ProgressInfo } from '../train/loop';

/** A float flag (validated by oclif's parser, so --config values are checked too; a bad value is oclif's usage error, exit status 2). */
export const floatFlag = (description: string, opts: { aliases?: string[] } = {}) =>
  Flags.custom<number>({
    description,
    ...(opts.aliases ? { aliases: opts.aliases } : {}),
    parse: async (input: string) => {
      const v = Number(input);
      if (input.trim() === '' || !Number.isFinite(v)) throw new Errors.CLIError(`Expected a number but received: ${input}`);
      return v;
    },
  })();

export const trainFlags = {
  out: Flags.string({ description: 'Run folder (params.json, out.log, results.jsonl, checkpoints/); required.' }),
  resume: Flags.string({ description: 'Continue the run in --out from "latest", or from a checkpoint folder PATH.' }),
  force: Flags.boolean({ description: 'With --resume: accept flags that differ from the run\'s params.json.' }),
  epochs: Flags.integer({ description: 'Epochs (default: the reference value of the stage, see docs/training.md).', min: 1 }),
  'max-steps': Flags.integer({ description: 'Stop after this many optimiser steps in total (a checkpoint is saved).', min: 1 }),
  'batch-size': Flags.integer({ description: 'Samples per optimiser step (default: the reference value of the stage).', min: 1 }),
  'grad-accum': Flags.integer({ description: 'Split each batch into N micro-batches and accumulate their gradients (reference batch sizes on small machines).', min: 1, default: 1 }),
  lr: floatFlag('Initial learning rate of the cosine schedule.'),
  'lr-min': floatFlag('Final learning rate of the cosine schedule.'),
  'warmup-steps': Flags.integer({ description: 'Linear learning-rate warm-up over the first N optimiser steps (0: none); small transformers trained from scratch need it above about 1e-3.', min: 0, default: 0 }),
  't-max': Flags.integer({ description: 'Length of the cosine schedule in epochs (default: the reference value, else --epochs).', min: 1 }),
  patience: Flags.integer({ description: 'Stop when the epoch training loss has not improved for N epochs.', min: 1 }),
  'save-every': Flags.integer({ description: 'A checkpoint every N epochs (the last epoch always gets one).', min: 1, default: 1 }),
  'save-every-steps': Flags.integer({ description: 'Also a checkpoint every N optimiser steps (0: never).', min: 0, default: 0 }),
  'eval-every': Flags.integer({ description: 'Validation every N epochs (0: only after the last).', min: 0, default: 1 }),
  'log-every': Flags.integer({ description: 'A results.jsonl line every N optimiser steps (0: per epoch only).', min: 0, default: 10 }),
  keep: Flags.integer({ description: 'Epoch/step checkpoints kept (0: all); latest and best always stay.', min: 0, default: 3 }),
  workers: Flags.integer({ description: 'Image decoding worker threads (default: 1 when images need decoding).', min: 0 }),
  'feature-cache': Flags.boolean({ description: 'Cache teacher image features on disk under SPIKECLIP_CACHE (or ~/.cache/spikeclip)/teacher-features.', default: true, allowNo: true }),
};

interface TrainFlagValues {
  out?: string;
  resume?: string;
  force?: boolean;
  epochs?: number;
  'max-steps'?: number;
  'batch-size'?: number;
  'grad-accum'?: number;
  lr?: number;
  'lr-min'?: number;
  'warmup-steps'?: number;
  't-max'?: number;
  patience?: number;
  'save-every'?: number;
  'save-every-steps'?: number;
  'eval-every'?: number;
  'log-every'?: number;
  keep?: number;
  workers?: number;
  'feature-cache'?: boolean;
}

/** The shared flags as service options. */
export function trainNumber(f: TrainFlagValues) {
  if (f.out === undefined) throw new UserError('no run folder', { fix: 'give --out DIR (a new folder for the run, or the run to --resume)' });
  return {
    out: f.out,
    resume: f.resume,
    force: f.force ?? false,
    epochs: f.epochs,
    maxSteps: f['max-steps'],
    batchSize: f['batch-size'],
    gradAccum: f['grad-accum'],
    lr: f.lr,
    lrMin: f['lr-min'],
    warmupSteps: f['warmup-steps'],
    tMax: f['t-max'],
    patience: f.patience,
    saveEvery: f['save-every'],
    saveEverySteps: f['save-every-steps'],
    evalEvery: f['eval-every'],
    logEvery: f['log-every'],
    keep: f.keep,
    workers: f.workers,
    cacheDir: f['feature-cache'] === false ? (false as const) : undefined,
  };
}

/** Progress text: "epoch 2/10 batch 31/40 step 71 loss 0.4123 lr 4.2e-3 12.3 images/s ETA 3m12s". */
export function progressLine(p: ProgressInfo): string {
  return `epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} step ${p.step} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(1)} ${p.rate.toFixed(1)} ${p.unit}/s ETA ${formatDuration(p.etaSeconds)}`;
}

export function trainHooks(progress: Progress, note: (line: string) => void) {
  return {
    onProgress: (p: ProgressInfo) => progress.tick(progressLine(p)),
    onStatus: (text: string) => progress.update(text),
    onLog: (line: string) => {
      progress.stop();
      note(line);
    },
    onWarning: (m: string) => process.emitWarning(m),
  };
}

/** Runs `job` with SIGINT/SIGTERM turned into a stop request (a second signal exits at once). */
export async function withStopSignals<T>(job: (stopRequested: () => boolean) => Promise<T>, note: (line: string) => void): Promise<T> {
  let stop = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop) {
      process.stderr.write(`\n${sig} again: exiting now (the last saved checkpoint is intact)\n`);
      process.exit(EXIT.interrupted);
    }
    stop = true;
    note(`\n${sig}: finishing the current step, then saving a resumable checkpoint (${sig} again to exit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await job(() => stop);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The error a stopped run exits with (status 130), naming how to resume. */
export function interruptedError(command: string, out: string, checkpoint: string | undefined): UserError {
  return new UserError(`${command} interrupted${checkpoint ? `; saved a resumable checkpoint ${checkpoint}` : ''}`, {
    code: 'E_INTERRUPTED',
    exitCode: EXIT.interrupted,
    fix: `continue with the same command plus --resume latest --out ${out}`,
  });
}
