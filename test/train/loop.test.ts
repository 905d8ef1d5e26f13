/**
 * The training loop on a toy task (a Linear layer regressing fixed targets, cpu backend): resume
 * bit for bit, gradient accumulation, early stopping, step budget, checkpoints and links, leaks.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../../src/tf';
import { epochOrder } from '../../src/data/loader';
import { InitRng, Linear } from '../../src/snn/layers';
import { initialLoopState, runLoop, warmedUp, type LoopOptions, type LoopState, type TaskBatch, type TrainTask } from '../../src/train/loop';
import { Adam } from '../../src/train/optimizer';
import { RunDir } from '../../src/train/run-dir';
import { NonFiniteLossError } from '../../src/train/step';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface ToyBatch extends TaskBatch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

const N = 24;
const X = Float32Array.from({ length: N * 3 }, (_, i) => Math.sin(i * 1.7) + (i % 5) * 0.1);
const Y = Float32Array.from({ length: N * 2 }, (_, i) => Math.cos(i * 0.9));

class ToyTask implements TrainTask<ToyBatch> {
  readonly name = 'toy';
  readonly unit = 'samples';
  readonly params;
  poison = -1;
  constructor(readonly layer: Linear, readonly batchSize: number, readonly seed = 0) {
    this.params = layer.namedParameters();
  }
  batchesPerEpoch(): number {
    return Math.ceil(N / this.batchSize);
  }
  async *batches(epoch: number, from: number): AsyncGenerator<ToyBatch> {
    const order = epochOrder(N, this.seed, epoch);
    for (let b = from; b < this.batchesPerEpoch(); b++) {
      const idx = order.subarray(b * this.batchSize, Math.min(N, (b + 1) * this.batchSize));
      const x = new Float32Array(idx.length * 3);
      const y = new Float32Array(idx.length * 2);
      idx.forEach((i, k) => {
        x.set(X.subarray(i * 3, i * 3 + 3), k * 3);
        y.set(Y.subarray(i * 2, i * 2 + 2), k * 2);
      });
      const t = { x: tf.tensor2d(x, [idx.length, 3]), y: tf.tensor2d(y, [idx.length, 2]) };
      yield { index: b, size: idx.length, ...t, dispose: () => tf.dispose([t.x, t.y]) };
    }
  }
  loss(b: ToyBatch, terms: Record<string, number>): tf.Scalar {
    const l = tf.losses.meanSquaredError(b.y, this.layer.forward(b.x)) as tf.Scalar;
    terms.mse = l.dataSync()[0];
    return this.poison >= 0 && this.poison-- === 0 ? (tf.mul(l, NaN) as tf.Scalar) : l;
  }
  async validate() {
    const l = tf.tidy(() => tf.losses.meanSquaredError(tf.tensor2d(Y, [N, 2]), this.layer.forward(tf.tensor2d(X, [N, 3]))).dataSync()[0]);
    return { metrics: { val_mse: l } };
  }
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'loop-'));
}

interface Setup {
  layer: Linear;
  task: ToyTask;
  opt: Adam;
  run: RunDir;
  saved: Map<string, { weights: Float32Array; moments: Map<string, Float32Array>; step: number; state: LoopState }>;
}

function setup(dir: string, batchSize = 4): Setup {
  const layer = new Linear({ name: 'l', inFeatures: 3, outFeatures: 2, rng: new InitRng(7) });
  const task = new ToyTask(layer, batchSize);
  const opt = new Adam(task.params, { lr: 0.05 });
  const run = RunDir.open(dir, { command: 'test', options: {}, provenance: {} }, { resuming: fs.existsSync(path.join(dir, 'params.json')) });
  return { layer, task, opt, run, saved: new Map() };
}

function options(s: Setup, extra: Partial<LoopOptions> = {}): LoopOptions {
  return {
    epochs: 3,
    lr: 0.05,
    lrMin: 0.005,
    tMax: 3,
    gradAccum: 1,
    logEvery: 2,
    saveEvery: 1,
    saveEverySteps: 0,
    evalEvery: 1,
    keep: 0,
    select: { metric: 'val_mse', mode: 'min' },
    stopRequested: () => false,
    // a checkpoint here is the weights, the moments and the state, kept in memory and marked on disk
    save: async (dir, state) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'config.json'), '{}');
      const m = new Map([...s.opt.stateTensors()].map(([k, v]) => [k, Float32Array.from(v.data)]));
      s.saved.set(path.basename(dir), { weights: flat(s.layer), moments: m, step: s.opt.step, state: JSON.parse(JSON.stringify(state)) as LoopState });
    },
    ...extra,
  };
}

function flat(layer: Linear): Float32Array {
  return Float32Array.from([...layer.stateDict().values()].flatMap((t) => Array.from(t.data)));
}

function restoreInto(s: Setup, ck: { weights: Float32Array; moments: Map<string, Float32Array>; step: number }): void {
  let off = 0;
  const sd = s.layer.stateDict();
  for (const [n, t] of sd) {
    sd.set(n, { shape: t.shape, data: ck.weights.slice(off, off + t.data.length) });
    off += t.data.length;
  }
  s.layer.loadStateDict(sd);
  const shapes = new Map(s.task.params.map(([n, v]) => [n, v.shape]));
  s.opt.loadStateTensors(new Map([...ck.moments].map(([k, d]) => [k, { shape: shapes.get(k.split('.').slice(0, -1).join('.')) ?? [d.length], data: d }])), ck.step);
}

describe('runLoop', () => {
  test('a run stopped after any step and resumed ends bit-identical to an uninterrupted one', async () => {
    const a = setup(tmp());
    const straight = await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a));
    expect(straight.stopped).toBe('epochs');
    expect(straight.state.step).toBe(18);
    const reference = flat(a.layer);
    for (const stopAt of [1, 5, 6, 13]) {
      const dir = tmp();
      const b = setup(dir);
      let steps = 0;
      const first = await runLoop(b.task, b.opt, b.run, initialLoopState(), options(b, { stopRequested: () => ++steps >= stopAt }));
      expect(first.stopped).toBe('interrupted');
      expect(first.state.step).toBe(stopAt);
      const latest = b.run.target('latest') as string;
      expect(latest).toBe(stopAt % 6 === 0 ? `epoch_${stopAt / 6}` : `step_${stopAt}`);
      const ck = b.saved.get(latest)!;
      // a new process: fresh layer and optimiser, restored from the checkpoint
      const c = setup(dir);
      c.saved = b.saved;
      restoreInto(c, ck);
      const second = await runLoop(c.task, c.opt, c.run, JSON.parse(JSON.stringify(ck.state)) as LoopState, options(c));
      expect(second.stopped).toBe('epochs');
      expect(second.state.step).toBe(18);
      expect(Buffer.from(flat(c.layer).buffer).equals(Buffer.from(reference.buffer))).toBe(true);
    }
  });

  test('results.jsonl: an initial validation, step lines every logEvery steps, epoch lines with terms, rate and the best mark', async () => {
    const a = setup(tmp());
    await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a));
    const lines = fs.readFileSync(a.run.file('results'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'initial', epoch: 0 });
    const steps = lines.filter((l) => l.type === 'step');
    expect(steps.map((l) => l.step)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18]);
    const epochs = lines.filter((l) => l.type === 'epoch');
    expect(epochs.map((l) => l.epoch)).toEqual([1, 2, 3]);
    for (const e of epochs) {
      expect(typeof e.mse).toBe('number');
      expect(e.samples_per_s).toBeGreaterThan(0);
      expect(typeof e.val_mse).toBe('number');
    }
    expect(epochs[2].loss as number).toBeLessThan(epochs[0].loss as number);
    // the learning rate follows the cosine per epoch
    expect(epochs.map((e) => e.lr)).toEqual([0.05, 0.03875, 0.01625]);
    const vals = epochs.map((e) => e.val_mse as number);
    expect(fs.readlinkSync(path.join(a.run.checkpoints, 'best'))).toBe(`epoch_${vals.indexOf(Math.min(...vals)) + 1}`);
    expect(fs.readlinkSync(path.join(a.run.checkpoints, 'latest'))).toBe('epoch_3');
  });

  test('warm-up: the first N steps ramp the learning rate linearly, and a run stopped inside it resumes bit-identical', async () => {
    const a = setup(tmp());
    await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a, { warmupSteps: 4, logEvery: 1, epochs: 2 }));
    const steps = fs.readFileSync(a.run.file('results'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.type === 'step');
    // step s of 4 uses 0.05 * s / 4; then the cosine (epoch 2: 0.005 + 0.045 * (1 + cos(pi/3)) / 2)
    expect(steps.slice(0, 6).map((l) => l.lr)).toEqual([0.0125, 0.025, 0.0375, 0.05, 0.05, 0.05]);
    expect(steps[6].lr).toBe(0.03875);
    expect(warmedUp(0.05, 4, 4)).toBe(0.05);
    expect(warmedUp(0.05, 1, 0)).toBe(0.05);
    const reference = flat(a.layer);
    const dir = tmp();
    const b = setup(dir);
    let n = 0;
    await runLoop(b.task, b.opt, b.run, initialLoopState(), options(b, { warmupSteps: 4, logEvery: 1, epochs: 2, stopRequested: () => ++n >= 2 }));
    const ck = b.saved.get(b.run.target('latest') as string)!;
    const c = setup(dir);
    restoreInto(c, ck);
    await runLoop(c.task, c.opt, c.run, JSON.parse(JSON.stringify(ck.state)) as LoopState, options(c, { warmupSteps: 4, logEvery: 1, epochs: 2 }));
    expect(Buffer.from(flat(c.layer).buffer).equals(Buffer.from(reference.buffer))).toBe(true);
  });

  test('gradient accumulation over 2 micro-batches of 2 takes the same steps as batches of 4', async () => {
    const a = setup(tmp(), 4);
    await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a, { epochs: 1 }));
    const b = setup(tmp(), 2);
    // the same samples per step: batches of 2 in the order of batches of 4 (one shuffle of 24 per epoch)
    const r = await runLoop(b.task, b.opt, b.run, initialLoopState(), options(b, { epochs: 1, gradAccum: 2 }));
    expect(r.state.step).toBe(6);
    const wa = flat(a.layer);
    const wb = flat(b.layer);
    for (let i = 0; i < wa.length; i++) expect(wb[i]).toBeCloseTo(wa[i], 6);
  });

  test('max steps stops mid-epoch with a resumable step checkpoint; keep prunes old ones but never latest or best', async () => {
    const a = setup(tmp());
    const r = await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a, { maxSteps: 8, keep: 1 }));
    expect(r.stopped).toBe('max-steps');
    expect(r.state).toMatchObject({ step: 8, epoch: 1, batch: 2 });
    expect(a.run.target('latest')).toBe('step_8');
    const left = fs.readdirSync(a.run.checkpoints).filter((n) => /^(epoch|step)_/.test(n)).sort();
    expect(left).toContain('step_8');
    expect(left).toContain(a.run.target('best'));
    expect(left.length).toBeLessThanOrEqual(2);
  });

  test('early stopping after `patience` epochs without a lower training loss', async () => {
    const a = setup(tmp());
    // lr 0 never improves on the first epoch's loss (the same weights every epoch)
    a.opt.lr = 0;
    const r = await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a, { epochs: 10, lr: 0, lrMin: 0, patience: 2 }));
    expect(r.stopped).toBe('early-stop');
    expect(r.state.epoch).toBe(3);
  });

  test('a NaN loss stops with the step named; the last good checkpoint stays latest; nothing leaks', async () => {
    const a = setup(tmp());
    const state = initialLoopState();
    await runLoop(a.task, a.opt, a.run, state, options(a, { epochs: 1 }));
    const before = tf.memory().numTensors;
    a.task.poison = 3; // the 4th loss evaluation from here: step 10, in epoch 2
    await expect(runLoop(a.task, a.opt, a.run, state, options(a))).rejects.toThrow(NonFiniteLossError);
    expect(a.run.target('latest')).toBe('epoch_1');
    expect(fs.readFileSync(a.run.file('log'), 'utf8')).toMatch(/loss became NaN at step 10.*checkpoints\/epoch_1 is the last good checkpoint/);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('tf.memory().numTensors stays flat across epochs', async () => {
    const a = setup(tmp());
    await runLoop(a.task, a.opt, a.run, initialLoopState(), options(a, { epochs: 1 }));
    const after1 = tf.memory().numTensors;
    const state = initialLoopState();
    state.epoch = 1;
    await runLoop(a.task, a.opt, a.run, state, options(a, { epochs: 5 }));
    expect(tf.memory().numTensors).toBe(after1);
  });
});
