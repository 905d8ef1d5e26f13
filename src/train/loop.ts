/**
 * The training loop shared by `pretrain` and `finetune`: epochs of a task's batches around
 * `computeGradients` + Adam, the cosine learning rate stepped per epoch, gradient accumulation,
 * logging to the run folder, validation, checkpoints (epoch_K, step_N, latest, best), early
 * stopping, a step budget and a clean stop on request (Ctrl-C).
 *
 * Everything the loop does is a function of (seed, epoch, batch index) and its typed state, so a
 * run stopped after any optimiser step and resumed from its checkpoint ends bit-identical to one
 * that was never stopped.
 */
import * as tf from '../tf';
import { cosineLr, type Adam } from './optimizer';
import { computeGradients, GradientAccumulator, type ParamList } from './step';
import type { RunDir } from './run-dir';
import type { TensorData } from '../snn/module';

/** One batch as a task hands it to the loop. */
export interface TaskBatch {
  /** The batch's number within the epoch (0-based). */
  index: number;
  /** Samples (images, prompts or pairs) in the batch. */
  size: number;
  /** Frees the batch's tensors, if it holds any. */
  dispose?(): void;
}

export interface ValidationResult {
  /** Metric name -> value (e.g. val_cosine, val_top1, val_loss). */
  metrics: Record<string, number>;
  /** Firing rate per spiking layer of the image encoder, when measured. */
  firingRates?: { layer: string; rate: number }[];
}

/** An objective: what to train, on which batches, with which loss. */
export interface TrainTask<B extends TaskBatch = TaskBatch> {
  readonly name: string;
  /** What one sample is, for rates: 'images', 'prompts' or 'pairs'. */
  readonly unit: string;
  /** The parameters this task trains (a model's subset; the rest stays frozen). */
  readonly params: ParamList;
  batchesPerEpoch(): number;
  /**
   * The batches of an epoch in order, starting at batch `from` (a resumed run skips the ones done).
   * A batch whose samples all dropped out may be yielded with size 0, or left out.
   */
  batches(epoch: number, from: number): AsyncIterable<B>;
  /** The loss of one batch in training mode; named loss terms go into `terms` as numbers. */
  loss(batch: B, terms: Record<string, number>): tf.Scalar;
  /**
   * Optional: the task computes the gradients itself (instead of differentiating `loss`), e.g. the
   * gate mode of fine-tuning, which may leave a batch out (`skip`: no update from it, counted).
   * Throws NonFiniteLossError like `computeGradients`.
   */
  gradients?(batch: B, step: number, terms: Record<string, number>): { loss: number; grads: Map<string, tf.Tensor> } | { skip: true };
  /** After each optimiser step (e.g. clamping a temperature). */
  afterStep?(): void;
  /** Task state beyond the model and the optimiser (e.g. a learnt temperature), saved for resume. */
  stateTensors?(): Map<string, TensorData>;
  loadStateTensors?(state: Map<string, TensorData>): void;
  /** Held-out metrics (inference mode). */
  validate?(onProgress?: (text: string) => void): Promise<ValidationResult>;
}

/** The loop's resumable state (stored in every checkpoint's training_state.json). */
export interface LoopState {
  /** The epoch being run (0-based). */
  epoch: number;
  /** The next batch of `epoch` to run. */
  batch: number;
  /** Optimiser steps taken. */
  step: number;
  /** Samples trained on. */
  samples: number;
  /** The best checkpoint so far by the selection metric. */
  best: { metric: string; value: number; checkpoint: string; epoch: number } | null;
  /** Early stopping: the lowest epoch training loss and how many epochs have not improved on it. */
  bestTrainLoss: number | null;
  stale: number;
  /** Sums over the current epoch's batches so far. */
  partial: { lossSum: number; samples: number; batches: number; terms: Record<string, number>; seconds: number; skipped: number };
  /** Set when the run has finished (no further epochs to run). */
  finished?: 'epochs' | 'max-steps' | 'early-stop';
}

export function initialLoopState(): LoopState {
  return { epoch: 0, batch: 0, step: 0, samples: 0, best: null, bestTrainLoss: null, stale: 0, partial: emptyPartial() };
}

function emptyPartial(): LoopState['partial'] {
  return { lossSum: 0, samples: 0, batches: 0, terms: {}, seconds: 0, skipped: 0 };
}

/** Checks a state read back from a checkpoint (it is JSON from disk). */
export function parseLoopState(raw: unknown, where: string): LoopState {
  const o = raw as Partial<LoopState> | null;
  const int = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (typeof o !== 'object' || o === null || !int(o.epoch) || !int(o.batch) || !int(o.step) || !int(o.samples) || !int(o.stale)) {
    throw new Error(`${where}: the loop state is missing or damaged`);
  }
  const p = o.partial;
  if (typeof p !== 'object' || p === null || typeof p.lossSum !== 'number' || !int(p.samples) || !int(p.batches)) throw new Error(`${where}: the loop state's epoch sums are damaged`);
  return { ...initialLoopState(), ...(o as LoopState), partial: { ...emptyPartial(), ...p } };
}

export interface ProgressInfo {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  lr: number;
  /** Samples per second over the recent steps. */
  rate: number;
  unit: string;
  /** Seconds left for the whole run, estimated from the recent step time. */
  etaSeconds: number;
}

export interface LoopOptions {
  epochs: number;
  /** Stop after this many optimiser steps (in total, counting a resumed run's earlier ones). */
  maxSteps?: number;
  /** Cosine schedule, stepped per epoch: lr(e) = lrMin + (lr - lrMin)(1 + cos(pi e / tMax)) / 2. */
  lr: number;
  lrMin: number;
  tMax: number;
  /**
   * Linear warm-up over the first N optimiser steps of the run (0: none): step s (1-based) uses
   * lr(epoch) * min(1, s / N), as open_clip's --warmup. A function of the step count, so a resumed
   * run continues it exactly.
   */
  warmupSteps?: number;
  /** Micro-batches per optimiser step (the task's batches are micro-batches). */
  gradAccum: number;
  /** A results.jsonl line every N optimiser steps (0: per epoch only). */
  logEvery: number;
  /** A checkpoint every N epochs (the last epoch always gets one). */
  saveEvery: number;
  /** Also a checkpoint every N optimiser steps (0: never). */
  saveEverySteps: number;
  /** Validation every N epochs (0: only after the last). */
  evalEvery: number;
  /** Epoch/step checkpoints kept (0: all); `latest` and `best` always stay. */
  keep: number;
  /** Stop when the epoch training loss has not improved for this many epochs. */
  patience?: number;
  /** The metric that picks `best`: a validation metric, or 'train_loss'. */
  select: { metric: string; mode: 'max' | 'min' };
  /** Polled after every optimiser step: finish the step, save, and return 'interrupted'. */
  stopRequested: () => boolean;
  /** Writes a complete checkpoint (weights + training state) to `dir`. */
  save: (dir: string, state: LoopState) => Promise<void>;
  onProgress?: (p: ProgressInfo) => void;
  /** Transient status text (e.g. validation progress). */
  onStatus?: (text: string) => void;
  onLog?: (line: string) => void;
}

export type StopReason = 'epochs' | 'max-steps' | 'early-stop' | 'interrupted';

export interface LoopResult {
  state: LoopState;
  stopped: StopReason;
  /** The checkpoint `latest` points at (absolute path). */
  latest?: string;
  best?: LoopState['best'];
  /** The last epoch line of results.jsonl. */
  lastEpoch?: Record<string, unknown>;
}

const round = (x: number, digits = 6): number => Number(x.toPrecision(digits));

/**
 * Runs (or resumes) training. `state` is advanced in place and returned. The optimiser must be
 * built over `task.params`; a NonFiniteLossError propagates after the log line, leaving the last
 * saved checkpoint as it was.
 */
/** The learning rate of optimiser step `step` (1-based) under a linear warm-up of `warmupSteps`. */
export function warmedUp(lr: number, step: number, warmupSteps: number): number {
  return warmupSteps > 0 && step < warmupSteps ? (lr * step) / warmupSteps : lr;
}

export async function runLoop(task: TrainTask, optimizer: Adam, run: RunDir, state: LoopState, o: LoopOptions): Promise<LoopResult> {
  const batches = task.batchesPerEpoch();
  if (batches < 1) throw new Error(`${task.name}: no batches to train on`);
  const stepsPerEpoch = Math.ceil(batches / o.gradAccum);
  const log = (line: string): void => {
    run.log(line);
    o.onLog?.(line);
  };
  const acc = new GradientAccumulator();
  let lastEpoch: Record<string, unknown> | undefined;
  // a finished run carries on when given more epochs or steps (not after an early stop)
  if (state.finished && state.finished !== 'early-stop' && (state.epoch < o.epochs || (state.finished === 'max-steps' && (o.maxSteps === undefined || state.step < o.maxSteps)))) {
    state.finished = undefined;
  }
  let stopped: StopReason | undefined = state.finished;
  // rate and ETA over the recent steps
  const recent: { seconds: number; samples: number }[] = [];

  const saveAs = async (name: string): Promise<void> => {
    await o.save(run.checkpointPath(name), state);
    run.point('latest', name);
  };

  const validateAndSelect = async (epochLoss: number, checkpoint: string): Promise<Record<string, unknown>> => {
    const record: Record<string, unknown> = {};
    const val = task.validate ? await task.validate(o.onStatus) : undefined;
    const metrics: Record<string, number> = { train_loss: epochLoss, ...(val?.metrics ?? {}) };
    for (const [k, v] of Object.entries(val?.metrics ?? {})) record[k] = round(v);
    if (val?.firingRates) record.firing_rates = val.firingRates.map((r) => ({ layer: r.layer, rate: round(r.rate, 4) }));
    const value = metrics[o.select.metric];
    if (value !== undefined && Number.isFinite(value)) {
      const better = state.best === null || (o.select.mode === 'max' ? value > state.best.value : value < state.best.value);
      if (better) {
        state.best = { metric: o.select.metric, value, checkpoint, epoch: state.epoch + 1 };
        record.best = true;
      }
    }
    return record;
  };

  try {
    if (state.step === 0 && state.batch === 0 && state.epoch === 0 && task.validate && o.evalEvery > 0) {
      // the starting point, for comparison (open_clip's epoch-0 evaluation)
      const val = await task.validate(o.onStatus);
      const rec: Record<string, unknown> = { type: 'initial', epoch: 0, step: 0 };
      for (const [k, v] of Object.entries(val.metrics)) rec[k] = round(v);
      if (val.firingRates) rec.firing_rates = val.firingRates.map((r) => ({ layer: r.layer, rate: round(r.rate, 4) }));
      run.result(rec);
      const shown = Object.entries(val.metrics).map(([k, v]) => `${k} ${round(v)}`);
      if (shown.length > 0) log(`before training: ${shown.join(', ')}`);
    }
    while (stopped === undefined && state.epoch < o.epochs) {
      const lr = cosineLr(state.epoch, o.lr, o.lrMin, o.tMax);
      optimizer.lr = lr;
      if (state.batch === 0) log(`epoch ${state.epoch + 1}/${o.epochs}: ${batches} batches, lr ${lr.toExponential(3)}`);
      else log(`epoch ${state.epoch + 1}/${o.epochs}: resuming at batch ${state.batch + 1} of ${batches}, lr ${lr.toExponential(3)}`);
      let micro = 0;
      let microSamples = 0;
      let microLoss = 0;
      let tStep = process.hrtime.bigint();
      const terms: Record<string, number> = {};
      let b = state.batch;
      let interruptAtEnd = false;
      /** One optimiser step over the accumulated micro-batches. */
      const step = (): void => {
        const mean = acc.take(microSamples);
        optimizer.lr = warmedUp(lr, state.step + 1, o.warmupSteps ?? 0);
        try {
          optimizer.applyGradients(mean);
        } finally {
          tf.dispose([...mean.values()]);
        }
        task.afterStep?.();
        const now = process.hrtime.bigint();
        const seconds = Number(now - tStep) / 1e9;
        tStep = now;
        state.step++;
        state.samples += microSamples;
        state.batch = b;
        const p = state.partial;
        p.lossSum += microLoss;
        p.samples += microSamples;
        p.batches += micro;
        p.seconds += seconds;
        for (const [k, v] of Object.entries(terms)) p.terms[k] = (p.terms[k] ?? 0) + v;
        recent.push({ seconds, samples: microSamples });
        if (recent.length > 20) recent.shift();
        const rSec = recent.reduce((x, r) => x + r.seconds, 0);
        const rate = rSec > 0 ? recent.reduce((x, r) => x + r.samples, 0) / rSec : 0;
        const stepSec = rSec / recent.length;
        let stepsLeft = Math.ceil((batches - b) / o.gradAccum) + (o.epochs - state.epoch - 1) * stepsPerEpoch;
        if (o.maxSteps !== undefined) stepsLeft = Math.min(stepsLeft, Math.max(0, o.maxSteps - state.step));
        const stepLoss = microLoss / microSamples;
        o.onProgress?.({ epoch: state.epoch + 1, epochs: o.epochs, batch: b, batches, step: state.step, loss: stepLoss, lr: optimizer.lr, rate, unit: task.unit, etaSeconds: stepsLeft * stepSec });
        if (o.logEvery > 0 && state.step % o.logEvery === 0) {
          const rec: Record<string, unknown> = { type: 'step', epoch: state.epoch + 1, batch: b, step: state.step, loss: round(stepLoss), lr: round(optimizer.lr) };
          for (const [k, v] of Object.entries(terms)) rec[k] = round(v / microSamples);
          rec[`${task.unit}_per_s`] = round(rate, 4);
          run.result(rec);
        }
        micro = 0;
        microSamples = 0;
        microLoss = 0;
        for (const k of Object.keys(terms)) delete terms[k];
      };
      for await (const batch of task.batches(state.epoch, state.batch)) {
        b = batch.index + 1;
        let skip = false;
        if (batch.size > 0) {
          let grads: Map<string, tf.Tensor> | undefined;
          let loss = 0;
          const stepTerms: Record<string, number> = {};
          try {
            if (task.gradients) {
              const g = task.gradients(batch, state.step + 1, stepTerms);
              if ('skip' in g) skip = true;
              else ({ loss, grads } = g);
            } else ({ loss, grads } = computeGradients(task.params, () => task.loss(batch, stepTerms), state.step + 1));
          } finally {
            batch.dispose?.();
          }
          if (skip || !grads) {
            // gate mode: nothing from this batch; its place in the epoch is done
            state.partial.skipped++;
            if (micro === 0) state.batch = b;
            if (b < batches && micro === 0 && o.stopRequested()) {
              stopped = 'interrupted';
              break;
            }
            continue;
          }
          acc.add(grads, batch.size);
          micro++;
          microSamples += batch.size;
          microLoss += loss * batch.size;
          for (const [k, v] of Object.entries(stepTerms)) terms[k] = (terms[k] ?? 0) + v * batch.size;
        } else batch.dispose?.();
        if (micro < o.gradAccum || b >= batches) continue; // the epoch's last step is taken after the loop
        step();
        if (o.maxSteps !== undefined && state.step >= o.maxSteps) {
          stopped = 'max-steps';
          break;
        }
        if (o.saveEverySteps > 0 && state.step % o.saveEverySteps === 0) await saveAs(`step_${state.step}`);
        if (o.stopRequested()) {
          stopped = 'interrupted';
          break;
        }
      }
      if (stopped === undefined) {
        // the epoch ran to its end: its last (possibly smaller) accumulation, then end-of-epoch checks
        if (micro > 0) step();
        state.batch = batches;
        if (o.maxSteps !== undefined && state.step >= o.maxSteps) stopped = 'max-steps';
        else if (o.stopRequested()) interruptAtEnd = true;
      }
      if (stopped === 'interrupted') {
        const name = `step_${state.step}`;
        await saveAs(name);
        log(`interrupted after step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batch}/${batches}); saved checkpoints/${name}`);
        break;
      }
      const p = state.partial;
      const epochLoss = p.samples > 0 ? p.lossSum / p.samples : NaN;
      const completed = state.batch >= batches;
      const record: Record<string, unknown> = {
        type: completed ? 'epoch' : 'partial-epoch',
        epoch: state.epoch + 1,
        step: state.step,
        samples: p.samples,
        loss: round(epochLoss),
        lr: round(lr),
      };
      for (const [k, v] of Object.entries(p.terms)) record[k] = round(v / p.samples);
      record[`${task.unit}_per_s`] = p.seconds > 0 ? round(p.samples / p.seconds, 4) : null;
      if (task.gradients) record.skipped_batches = p.skipped;
      record.seconds = round(p.seconds, 4);
      // early stopping on the training loss (the reference's rule for the text encoder)
      if (completed && Number.isFinite(epochLoss)) {
        // (an epoch whose batches were all skipped by the gate has no loss: it neither improves nor counts)
        if (state.bestTrainLoss === null || epochLoss < state.bestTrainLoss) {
          state.bestTrainLoss = epochLoss;
          state.stale = 0;
        } else state.stale++;
      }
      const lastEpochOfRun = state.epoch + 1 >= o.epochs;
      const earlyStop = completed && o.patience !== undefined && state.stale >= o.patience;
      const mustSave = interruptAtEnd || stopped === 'max-steps' || lastEpochOfRun || earlyStop || (completed && (state.epoch + 1) % o.saveEvery === 0);
      const name = completed ? `epoch_${state.epoch + 1}` : `step_${state.step}`;
      const evaluate = stopped === 'max-steps' || lastEpochOfRun || earlyStop || (o.evalEvery > 0 && completed && (state.epoch + 1) % o.evalEvery === 0);
      if (evaluate) Object.assign(record, await validateAndSelect(epochLoss, name));
      const isBest = record.best === true;
      if (completed) {
        state.epoch++;
        state.batch = 0;
        state.partial = emptyPartial();
      }
      if (earlyStop) stopped = 'early-stop';
      else if (stopped === undefined && state.epoch >= o.epochs) stopped = 'epochs';
      if (stopped !== undefined) state.finished = stopped;
      if (mustSave || isBest) {
        await saveAs(name);
        record.checkpoint = name;
        if (isBest) run.point('best', name);
        run.prune(o.keep);
      }
      run.result(record);
      lastEpoch = record;
      const extra = Object.entries(record)
        .filter(([k]) => k.startsWith('val_'))
        .map(([k, v]) => `, ${k} ${String(v)}`)
        .join('');
      log(`epoch ${String(record.epoch)}${completed ? '' : ' (partial)'}: loss ${String(record.loss)}${extra}${isBest ? ' (best)' : ''}${record.checkpoint ? `, saved checkpoints/${String(record.checkpoint)}` : ''}`);
      if (earlyStop) log(`early stop: the training loss has not improved for ${o.patience} epochs`);
      if (interruptAtEnd && stopped === undefined) {
        stopped = 'interrupted';
        log(`interrupted at the end of epoch ${state.epoch}; saved checkpoints/${name}`);
      }
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const latestNow = run.target('latest');
    log(`stopped by an error: ${msg}${latestNow ? ` (checkpoints/${latestNow} is the last good checkpoint)` : ''}`);
    throw e;
  } finally {
    acc.dispose();
  }
  const latest = run.target('latest');
  return {
    state,
    stopped: stopped ?? 'epochs',
    latest: latest ? run.checkpointPath(latest) : undefined,
    best: state.best,
    lastEpoch,
  };
}
