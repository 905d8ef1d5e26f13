/**
 * Model benchmarks (issue: SNN engine and model): a full training step of an encoder (forward
 * in training mode, cosine alignment loss, backward, Adam-AMSGrad update) and inference, in
 * images (or prompts) per second.
 */
import * as tf from '../src/tf';
import { getPreset } from '../src/models/config';
import { SpikeClipImageEncoder } from '../src/models/image-encoder';
import { SpikeClipTextEncoder } from '../src/models/text-encoder';
import { INFERENCE, TRAINING } from '../src/snn/module';
import { alignmentLoss } from '../src/train/losses';
import { Adam } from '../src/train/optimizer';
import { trainStep } from '../src/train/step';
import { BenchResult, median, peakRssMiB, timeReps } from './common';

export interface ModelBenchOptions {
  preset: string;
  batch: number;
  reps: number;
  warmup: number;
}

function result(name: string, unit: string, batch: number, times: number[], details: Record<string, unknown>): BenchResult {
  const s = median(times);
  return { name, unit, perSecond: batch / s, secondsPerRep: s, reps: times.length, details: { batch, ...details, peakRssMiB: peakRssMiB(), numTensors: tf.memory().numTensors } };
}

export async function benchImageTrain(o: ModelBenchOptions): Promise<BenchResult> {
  const cfg = getPreset(o.preset).image;
  const enc = new SpikeClipImageEncoder(cfg, { seed: 1 });
  const opt = new Adam(enc.namedParameters(), { lr: 1e-4 });
  const x = tf.randomNormal([o.batch, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 2);
  const target = tf.randomNormal([o.batch, cfg.outputDim], 0, 1, 'float32', 3);
  const step = () => {
    trainStep(enc, opt, () => alignmentLoss(enc.forward(x, TRAINING), target));
  };
  // the first step creates the optimiser's moments: count tensors from after it
  for (let i = 0; i < Math.max(1, o.warmup); i++) step();
  const before = tf.memory().numTensors;
  const times = await timeReps(step, o.reps, 0);
  const leaked = tf.memory().numTensors - before;
  const r = result(`image-train/${o.preset}/b${o.batch}`, 'images', o.batch, times, { T: cfg.timeSteps, D: cfg.embedDim, depth: cfg.depth, tensorsAddedAfterWarmup: leaked });
  tf.dispose([x, target]);
  opt.dispose();
  enc.dispose();
  return r;
}

export async function benchImageInfer(o: ModelBenchOptions): Promise<BenchResult> {
  const cfg = getPreset(o.preset).image;
  const enc = new SpikeClipImageEncoder(cfg, { seed: 1 });
  const x = tf.randomNormal([o.batch, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 2);
  const times = await timeReps(() => {
    tf.tidy(() => {
      enc.forward(x, INFERENCE).dataSync();
    });
  }, o.reps, o.warmup);
  const r = result(`image-infer/${o.preset}/b${o.batch}`, 'images', o.batch, times, { T: cfg.timeSteps });
  x.dispose();
  enc.dispose();
  return r;
}

export async function benchTextTrain(o: ModelBenchOptions): Promise<BenchResult> {
  const cfg = getPreset(o.preset).text;
  const enc = new SpikeClipTextEncoder(cfg, { seed: 1 });
  const opt = new Adam(enc.namedParameters(), { lr: 1e-4 });
  const ids = tf.randomUniform([o.batch, cfg.contextLength], 0, cfg.vocabSize, 'int32', 4);
  const target = tf.randomNormal([o.batch, cfg.outputDim], 0, 1, 'float32', 5);
  const times = await timeReps(() => {
    trainStep(enc, opt, () => alignmentLoss(enc.forward(ids, TRAINING), target));
  }, o.reps, o.warmup);
  const r = result(`text-train/${o.preset}/b${o.batch}`, 'prompts', o.batch, times, { T: cfg.timeSteps, hidden: cfg.hidden });
  tf.dispose([ids, target]);
  opt.dispose();
  enc.dispose();
  return r;
}

/**
 * Inference of the image encoder with the event-driven spike products on and off, interleaved
 * (same weights, same images), and how many products took the event path.
 */
export async function benchImageInferEvent(o: ModelBenchOptions): Promise<BenchResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { eventDriven } = require('../src/snn/fused/event') as typeof import('../src/snn/fused/event');
  const cfg = getPreset(o.preset).image;
  const enc = new SpikeClipImageEncoder(cfg, { seed: 1 });
  const x = tf.randomNormal([o.batch, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 2);
  const prev = eventDriven.enabled;
  const run = (on: boolean) => () => {
    eventDriven.enabled = on;
    tf.tidy(() => {
      enc.forward(x, INFERENCE).dataSync();
    });
  };
  const te: number[] = [];
  const td: number[] = [];
  const stats0 = { ...eventDriven.stats };
  try {
    for (let i = 0; i < o.warmup; i++) {
      run(true)();
      run(false)();
    }
    for (let i = 0; i < o.reps; i++) {
      for (const [f, out] of [[run(true), te], [run(false), td]] as const) {
        const t0 = process.hrtime.bigint();
        f();
        out.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
    }
  } finally {
    eventDriven.enabled = prev;
  }
  const se = median(te);
  const sd = median(td);
  const r = result(`image-infer-event/${o.preset}/b${o.batch}`, 'images', o.batch, te, {
    T: cfg.timeSteps,
    denseImagesPerSecond: +(o.batch / sd).toFixed(3),
    speedupVsDense: +(sd / se).toFixed(3),
    eventProducts: eventDriven.stats.event - stats0.event,
    denseFallbacks: eventDriven.stats.dense - stats0.dense,
    maxRate: eventDriven.maxRate,
  });
  x.dispose();
  enc.dispose();
  return r;
}
