/**
 * The training loop's overhead (issues 10 and 11): one epoch of image alignment through
 * `runLoop` (loader batches from a warm view cache, cached teacher features gathered per batch,
 * results.jsonl lines, progress, state bookkeeping) against the bare `trainStep` on the same
 * batches held in memory, interleaved rep by rep on the same model and optimiser. The loop's
 * checkpoint write is timed apart (its cost depends on the model, not on the epoch's length).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../src/tf';
import { DataLoader } from '../src/data/loader';
import { openShapes } from '../src/data/shapes';
import { subsetSplit } from '../src/data/splits';
import { studentView } from '../src/data/transforms';
import { getPreset } from '../src/models/config';
import { SpikeClip } from '../src/models/spikeclip';
import { TRAINING } from '../src/snn/module';
import { saveStudentCheckpoint } from '../src/student/checkpoint';
import type { TeacherFeatures } from '../src/train/feature-cache';
import { alignmentLoss } from '../src/train/losses';
import { initialLoopState, runLoop } from '../src/train/loop';
import { Adam } from '../src/train/optimizer';
import { RunDir } from '../src/train/run-dir';
import { trainStep } from '../src/train/step';
import { ImageAlignTask } from '../src/train/tasks/align-image';
import { BenchResult, median, peakRssMiB } from './common';

export async function benchLoop(o: { quick: boolean; reps: number }): Promise<BenchResult[]> {
  const n = o.quick ? 128 : 512;
  const batch = 32;
  const reps = Math.max(1, o.reps);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-loop-'));
  const cfg = getPreset('spikeclip-tiny');
  const model = new SpikeClip(cfg, { seed: 1 });
  const split = subsetSplit(await openShapes('train', { seed: 0, size: 32 }), Array.from({ length: n }, (_, i) => i), 'train');
  const D = cfg.image.outputDim;
  const features: TeacherFeatures = { features: Float32Array.from({ length: n * D }, (_, i) => Math.sin(i * 0.37)), count: n, dim: D, bad: 0, hit: true };
  const loader = await DataLoader.open(split, { view: studentView({ size: 32, resize: 'direct' }), batchSize: batch, shuffle: true, seed: 0, cacheDir: path.join(work, 'cache'), cache: true });
  await loader.prepare();
  const task = new ImageAlignTask(model, { loader, features }, undefined);
  const opt = new Adam(task.params, { lr: 1e-4 });
  // the bare baseline: the same epoch's batches, already tensors-to-be in memory
  const batches: { x: Float32Array; shape: [number, number, number, number]; t: Float32Array }[] = [];
  for await (const b of loader.epoch(0)) {
    const t = new Float32Array(b.labels.length * D);
    b.indices.forEach((i, k) => t.set(features.features.subarray(i * D, (i + 1) * D), k * D));
    batches.push({ x: b.images, shape: b.shape, t });
  }
  const bare = (): void => {
    for (const b of batches) {
      const x = tf.tensor4d(b.x, b.shape);
      const t = tf.tensor2d(b.t, [b.shape[0], D]);
      trainStep(task.params, opt, () => alignmentLoss(model.encodeImage(x, TRAINING), t));
      tf.dispose([x, t]);
    }
  };
  let runs = 0;
  const loop = async (): Promise<void> => {
    const run = RunDir.open(path.join(work, `run${runs++}`), { command: 'bench', options: {}, provenance: {} }, { resuming: false });
    await runLoop(task, opt, run, initialLoopState(), {
      epochs: 1, lr: 1e-4, lrMin: 1e-4, tMax: 1, gradAccum: 1, logEvery: 10, saveEvery: 1, saveEverySteps: 0, evalEvery: 0, keep: 0,
      select: { metric: 'train_loss', mode: 'min' },
      stopRequested: () => false,
      save: async (dir) => {
        fs.mkdirSync(dir, { recursive: true });
      },
      onProgress: () => undefined,
    });
  };
  bare(); // warm-up (the optimiser's moments, kernels)
  await loop();
  const tBare: number[] = [];
  const tLoop: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t0 = process.hrtime.bigint();
    bare();
    tBare.push(Number(process.hrtime.bigint() - t0) / 1e9);
    t0 = process.hrtime.bigint();
    await loop();
    tLoop.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const t0 = process.hrtime.bigint();
  await saveStudentCheckpoint(path.join(work, 'ck'), model, { trainingState: { tensors: opt.stateTensors(), info: {} } });
  const saveSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await loader.close();
  opt.dispose();
  model.dispose();
  fs.rmSync(work, { recursive: true, force: true });
  const b = median(tBare);
  const l = median(tLoop);
  const details = { images: n, batch, preset: 'spikeclip-tiny', peakRssMiB: peakRssMiB() };
  return [
    { name: `train-step-bare/spikeclip-tiny/b${batch}`, unit: 'images', perSecond: n / b, secondsPerRep: b, reps, details },
    { name: `train-loop/spikeclip-tiny/b${batch}`, unit: 'images', perSecond: n / l, secondsPerRep: l, reps, details: { ...details, loopOverVsBare: Math.round((l / b) * 1000) / 1000, checkpointSaveSeconds: Math.round(saveSeconds * 1000) / 1000 } },
  ];
}
