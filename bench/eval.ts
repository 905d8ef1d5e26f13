/**
 * Eval benchmark (issue 6): zero-shot evaluation throughput on the default student architecture
 * (spikeclip-b, random weights), in images per second, for what `spikeclip eval` does per batch:
 * the image encoder in inference mode, L2 normalisation, cosine scores against the class matrix
 * W, top-5 — with the spike monitor `eval` attaches for the firing rates and without it
 * (`--no-firing-rates`), interleaved rep by rep so machine load hits both alike. Also the class
 * matrix: prompts per second through the default text encoder (CIFAR-10's 10 x 18 prompts; with
 * the full run also CIFAR-100's 100 x 18), on random token ids (the tokenizer's cost is not the
 * model's).
 *
 * `benchEval({quick, reps})` returns BenchResult records (bench/common.ts); run this file on its
 * own (`node dist-bench/bench/eval.js [--quick] [--reps N]` after `tsc -p tsconfig.bench.json`) to
 * print them.
 */
import * as tf from '../src/tf';
import { buildClassMatrix, ZeroShotClassifier } from '../src/eval/classifier';
import { getPreset } from '../src/models/config';
import { SpikeClipImageEncoder } from '../src/models/image-encoder';
import { SpikeClipTextEncoder } from '../src/models/text-encoder';
import { SpikeMonitor } from '../src/snn/monitor';
import { BenchResult, median, peakRssMiB } from './common';

export interface EvalBenchOptions {
  quick: boolean;
  reps: number;
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Image side: encoder + classifier, with and without the firing-rate monitor. */
async function imageCase(preset: string, batch: number, classes: number, reps: number): Promise<BenchResult[]> {
  const cfg = getPreset(preset).image;
  const enc = new SpikeClipImageEncoder(cfg, { seed: 1 });
  // BatchNorm biases of 1.5 make the fresh model spike, so the monitor counts something
  for (const [name, v] of enc.namedParameters()) if (/_bn\.bias$/.test(name)) v.assign(tf.fill(v.shape, 1.5));
  const W = tf.tidy(() => tf.randomNormal([classes, cfg.outputDim], 0, 1, 'float32', 3).dataSync() as Float32Array);
  const clf = new ZeroShotClassifier({ weights: W, numClasses: classes, dim: cfg.outputDim });
  const x = tf.randomNormal([batch, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 2);
  const step = (monitor?: SpikeMonitor) =>
    time(() => {
      const f = tf.tidy(() => enc.forward(x, { training: false, monitor }));
      clf.classify(f);
      f.dispose();
    });
  step();
  step(new SpikeMonitor());
  const before = tf.memory().numTensors;
  const plain: number[] = [];
  const rated: number[] = [];
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      plain.push(step());
      rated.push(step(new SpikeMonitor()));
    } else {
      rated.push(step(new SpikeMonitor()));
      plain.push(step());
    }
  }
  const leaked = tf.memory().numTensors - before;
  const sp = median(plain);
  const sr = median(rated);
  const details = { preset, batch, classes, T: cfg.timeSteps, backend: tf.getBackend(), peakRssMiB: peakRssMiB(), tensorsAddedAfterWarmup: leaked };
  x.dispose();
  clf.dispose();
  enc.dispose();
  return [
    { name: `eval/${preset}/b${batch}/c${classes}`, unit: 'images', perSecond: batch / sr, secondsPerRep: sr, reps, details: { ...details, firingRates: true, monitorOverhead: Math.round((sr / sp - 1) * 1000) / 1000 } },
    { name: `eval-no-rates/${preset}/b${batch}/c${classes}`, unit: 'images', perSecond: batch / sp, secondsPerRep: sp, reps, details: { ...details, firingRates: false } },
  ];
}

/** Text side: W for `classes` x 18 prompts through the text encoder (random token ids). */
async function classMatrixCase(preset: string, classes: number, reps: number): Promise<BenchResult> {
  const cfg = getPreset(preset).text;
  const enc = new SpikeClipTextEncoder(cfg, { seed: 1 });
  const templates = 18;
  let seed = 10;
  const prompts = Array.from({ length: classes }, (_, c) => Array.from({ length: templates }, (__, t) => `${c}/${t}`));
  const idsOf = new Map<string, Int32Array>();
  for (const p of prompts.flat()) {
    const ids = new Int32Array(cfg.contextLength).fill(49407);
    const n = 3 + (seed % 8);
    ids[0] = 49406;
    for (let i = 1; i < n; i++) ids[i] = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 49000;
    idsOf.set(p, ids);
  }
  const encodeTexts = (texts: string[]) => {
    const flat = new Int32Array(texts.length * cfg.contextLength);
    texts.forEach((t, i) => flat.set(idsOf.get(t) as Int32Array, i * cfg.contextLength));
    return enc.forward(tf.tensor2d(flat, [texts.length, cfg.contextLength], 'int32'), { training: false });
  };
  const run = () => time(() => void buildClassMatrix({ prompts, encodeTexts, batchSize: 128 }));
  run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(run());
  enc.dispose();
  const s = median(times);
  const n = classes * templates;
  return { name: `eval-classmatrix/${preset}/c${classes}x${templates}`, unit: 'prompts', perSecond: n / s, secondsPerRep: s, reps, details: { preset, classes, templates, T: cfg.timeSteps, backend: tf.getBackend(), peakRssMiB: peakRssMiB() } };
}

export async function benchEval(o: EvalBenchOptions): Promise<BenchResult[]> {
  const reps = Math.max(1, o.reps);
  const out: BenchResult[] = [];
  if (o.quick) {
    out.push(...(await imageCase('spikeclip-b', 8, 10, reps)));
    out.push(await classMatrixCase('spikeclip-b', 10, reps));
  } else {
    out.push(...(await imageCase('spikeclip-b', 32, 10, reps)));
    out.push(...(await imageCase('spikeclip-b', 32, 100, reps)));
    out.push(await classMatrixCase('spikeclip-b', 10, reps));
    out.push(await classMatrixCase('spikeclip-b', 100, reps));
  }
  return out;
}

if (require.main === module) {
  (async () => {
    const argv = process.argv.slice(2);
    const quick = argv.includes('--quick');
    const r = argv.indexOf('--reps');
    const reps = r >= 0 ? Number(argv[r + 1]) : quick ? 1 : 3;
    const { initBackend, describeBackend } = await import('../src/backend');
    const { installTrainingKernels } = await import('../src/backend/gradients');
    const info = await initBackend({ backend: process.env.SPIKECLIP_BACKEND }, [installTrainingKernels]);
    process.stderr.write(`${describeBackend(info)}\n`);
    for (const res of await benchEval({ quick, reps })) {
      process.stdout.write(`${res.name.padEnd(44)} ${res.perSecond.toFixed(1).padStart(9)} ${res.unit}/s  ${JSON.stringify(res.details)}\n`);
    }
  })().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
