/**
 * The training loop's overhead (issues 10 and 11): one epoch of image alignment and one of dual-loss fine-tuning through
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
import { DualLossTask, dualLossTerms } from '../src/train/tasks/dual-loss';
import type { ClassMatrix } from '../src/eval/classifier';
import type { TrainTask } from '../src/train/loop';
import { BenchResult, median, peakRssMiB } from './common';

interface Case {
  name: string;
  task: TrainTask;
  /** One bare trainStep over a batch in memory. */
  bareStep: (b: MemBatch) => void;
}

interface MemBatch {
  x: Float32Array;
  shape: [number, number, number, number];
  indices: Int32Array;
  labels: Int32Array;
}

/** Interleaved reps of the bare steps and of the loop's epoch over the same batches; medians. */
async function compare(c: Case, opt: Adam, batches: MemBatch[], reps: number, work: string, n: number, batch: number): Promise<BenchResult[]> {
  const bare = (): void => {
    for (const b of batches) c.bareStep(b);
  };
  let runs = 0;
  const loop = async (): Promise<void> => {
    const run = RunDir.open(path.join(work, `${c.name}-${runs++}`), { command: 'bench', options: {}, provenance: {} }, { resuming: false });
    await runLoop(c.task, opt, run, initialLoopState(), {
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
  const b = median(tBare);
  const l = median(tLoop);
  const details = { images: n, batch, preset: 'spikeclip-tiny', peakRssMiB: peakRssMiB() };
  return [
    { name: `${c.name}-bare/spikeclip-tiny/b${batch}`, unit: 'images', perSecond: n / b, secondsPerRep: b, reps, details },
    { name: `${c.name}-loop/spikeclip-tiny/b${batch}`, unit: 'images', perSecond: n / l, secondsPerRep: l, reps, details: { ...details, loopOverBare: Math.round((l / b) * 1000) / 1000 } },
  ];
}

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
  const batches: MemBatch[] = [];
  for await (const b of loader.epoch(0)) batches.push({ x: b.images, shape: b.shape, indices: b.indices, labels: b.labels });
  const out: BenchResult[] = [];
  // image alignment with cached teacher features
  const align = new ImageAlignTask(model, { loader, features }, undefined);
  let opt = new Adam(align.params, { lr: 1e-4 });
  out.push(
    ...(await compare(
      {
        name: 'pretrain-image',
        task: align,
        bareStep: (b) => {
          const t = new Float32Array(b.shape[0] * D);
          b.indices.forEach((i, k) => t.set(features.features.subarray(i * D, (i + 1) * D), k * D));
          const x = tf.tensor4d(b.x, b.shape);
          const y = tf.tensor2d(t, [b.shape[0], D]);
          trainStep(align.params, opt, () => alignmentLoss(model.encodeImage(x, TRAINING), y));
          tf.dispose([x, y]);
        },
      },
      opt, batches, reps, work, n, batch,
    )),
  );
  opt.dispose();
  // dual-loss fine-tuning with the teacher's distribution cached (36 shapes classes)
  const C = 36;
  const W: ClassMatrix = { weights: Float32Array.from({ length: C * D }, (_, i) => Math.cos(i * 0.11)), numClasses: C, dim: D };
  const teacherP = new Float32Array(n * C).fill(1 / C);
  const dual = new DualLossTask(model, W, { loader, teacherP }, undefined, { loss: 'dual', klWeight: 1, klReduction: 'sum', temperature: 1 });
  opt = new Adam(dual.params, { lr: 1e-4 });
  const Wt = tf.tensor2d(W.weights, [C, D]);
  out.push(
    ...(await compare(
      {
        name: 'finetune-dual',
        task: dual,
        bareStep: (b) => {
          const m = b.shape[0];
          const rows = new Float32Array(m * C);
          b.indices.forEach((i, k) => rows.set(teacherP.subarray(i * C, (i + 1) * C), k * C));
          const x = tf.tensor4d(b.x, b.shape);
          const y = tf.tensor1d(b.labels, 'int32');
          const p = tf.tensor2d(rows, [m, C]);
          trainStep(dual.params, opt, () => {
            const t = dualLossTerms(model.encodeImage(x, TRAINING), Wt, y, p, { loss: 'dual', klWeight: 1, klReduction: 'sum', temperature: 1 });
            return tf.add(t.ce as tf.Scalar, t.kl as tf.Scalar) as tf.Scalar;
          });
          tf.dispose([x, y, p]);
        },
      },
      opt, batches, reps, work, n, batch,
    )),
  );
  Wt.dispose();
  dual.dispose();
  const t0 = process.hrtime.bigint();
  await saveStudentCheckpoint(path.join(work, 'ck'), model, { trainingState: { tensors: opt.stateTensors(), info: {} } });
  const saveSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await loader.close();
  opt.dispose();
  model.dispose();
  fs.rmSync(work, { recursive: true, force: true });
  out.push({ name: 'checkpoint-save/spikeclip-tiny', unit: 'checkpoints', perSecond: 1 / saveSeconds, secondsPerRep: saveSeconds, reps: 1, details: { withTrainingState: true } });
  return out;
}
