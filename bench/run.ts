/**
 * `npm run bench [-- options]`: spikeclip's benchmarks, with the machine's state and ratios
 * against baselines measured in the same run (never absolute figures alone).
 *
 * Options:
 *   --json                 one JSON document on stdout (progress on stderr)
 *   --only a,b             suites: matmul, lif, event, model, infer-event, tiny, text, teacher, data, energy, eval, loop,
 *                          startup, demo (default: all; startup times `spikeclip --version` and `inspect --json`, demo
 *                          times `spikeclip demo` (--quick with --quick), both over dist/, so `npm run build` first)
 *   --quick                small batches and one repetition (a smoke run, minutes not tens of minutes)
 *   --backend NAME         auto|node|wasm|cpu (default auto)
 *   --threads N            backend threads (default: all cores where the backend can; wasm's threaded build)
 *   --reps N               timed repetitions per case (default 3; 1 with --quick)
 *   --batch B              batch of the model suites (default 32; 8 with --quick)
 *   --compare-torch        also run ../shared/bench/torch_reference.py (Debian's python3-torch) interleaved
 *                          with ours on the default image encoder, and print our/PyTorch ratios
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../src/tf';
import { describeBackend, initBackend, releaseBackend } from '../src/backend';
import { installTrainingKernels } from '../src/backend/gradients';
import { describeArchitecture } from '../src/models/describe';
import { getPreset } from '../src/models/config';
import { BenchResult, machineState, median, timeReps } from './common';
import { benchEvent, benchLif } from './kernels';
import { benchImageInfer, benchImageInferEvent, benchImageTrain, benchTextTrain } from './model';

interface Args {
  json: boolean;
  only: Set<string>;
  quick: boolean;
  backend: string;
  threads?: number;
  reps: number;
  batch?: number;
  compareTorch: boolean;
}

const ALL = ['matmul', 'lif', 'event', 'model', 'infer-event', 'tiny', 'text', 'teacher', 'data', 'energy', 'eval', 'loop', 'startup', 'demo'];

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, only: new Set(ALL), quick: false, backend: 'auto', reps: 3, compareTorch: false };
  let repsSet = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    if (k === '--json') a.json = true;
    else if (k === '--quick') a.quick = true;
    else if (k === '--compare-torch') a.compareTorch = true;
    else if (k === '--backend') a.backend = next();
    else if (k === '--threads') a.threads = Number(next());
    else if (k === '--batch') a.batch = Number(next());
    else if (k === '--reps') {
      a.reps = Number(next());
      repsSet = true;
    } else if (k === '--only') a.only = new Set(next().split(','));
    else throw new Error(`unknown option ${k} (see the header of bench/run.ts)`);
  }
  if (a.quick && !repsSet) a.reps = 1;
  return a;
}

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

/** Baseline: a dense 1024^3 float32 matMul on the same backend, GFLOP/s. */
async function matmulBaseline(reps: number): Promise<BenchResult> {
  const n = 1024;
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const times = await timeReps(() => {
    // (a tidy must return nothing: returning the typed array makes TF.js walk it, ~1 s per 1M values)
    tf.tidy(() => {
      tf.matMul(a, b).dataSync();
    });
  }, Math.max(reps, 3));
  tf.dispose([a, b]);
  const s = median(times);
  return { name: 'matmul-1024', unit: 'GFLOP', perSecond: (2 * n ** 3) / s / 1e9, secondsPerRep: s, reps: times.length, details: {} };
}

interface TorchFigures {
  torch: string;
  threads: number;
  batch: number;
  train_images_per_s: number;
  eval_images_per_s: number;
}

function torchReference(batch: number, steps: number, threads: number): TorchFigures | undefined {
  const script = process.env.SPIKECLIP_TORCH_REFERENCE ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'bench', 'torch_reference.py');
  if (!fs.existsSync(script)) {
    log(`compare-torch: ${script} not found (set SPIKECLIP_TORCH_REFERENCE); PyTorch figures skipped`);
    return undefined;
  }
  const py = process.env.SPIKECLIP_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(py, [script, 'bench', '--batch', String(batch), '--steps', String(steps), '--threads', String(threads)], { encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) {
    log(`compare-torch: PyTorch reference failed or is not installed (${(r.stderr || '').trim().split('\n').pop() ?? ''}); install python3-torch libopenblas0-pthread`);
    return undefined;
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as TorchFigures;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const info = await initBackend({ backend: args.backend, threads: args.threads }, [installTrainingKernels]);
  log(`${describeBackend(info)}${info.threadsNote ? ` (${info.threadsNote})` : ''}`);
  const machine = machineState();
  log(`machine: ${machine.cpus} x ${machine.cpuModel}, load average ${machine.loadavg.join(' ')}`);
  const results: BenchResult[] = [];
  const ratios: Record<string, number> = {};
  const run = async (label: string, f: () => Promise<BenchResult>): Promise<BenchResult> => {
    log(`running ${label} ...`);
    const r = await f();
    results.push(r);
    log(`  ${r.name}: ${r.perSecond.toFixed(2)} ${r.unit}/s (${r.secondsPerRep.toFixed(3)} s per rep)`);
    return r;
  };

  const base = await run('baseline matmul', () => matmulBaseline(args.reps));
  const warmup = args.quick ? 0 : 1;
  const B = args.batch ?? (args.quick ? 8 : 32);

  const efficiency = (r: BenchResult, preset: string, training: boolean): void => {
    const d = describeArchitecture(getPreset(preset));
    const fwd = d.image.flopsPerStep * d.config.image.timeSteps; // multiply-accumulates per image
    const flops = 2 * fwd * (training ? 3 : 1); // backward ~ 2x forward
    const gflops = (r.perSecond * flops) / 1e9;
    r.details.effectiveGflops = Math.round(gflops * 100) / 100;
    ratios[`${r.name} effective GFLOP/s vs matmul baseline`] = gflops / base.perSecond;
  };

  if (args.only.has('lif')) {
    log('running fused LIF vs composed ops ...');
    for (const r of await benchLif({ quick: args.quick, reps: args.reps })) {
      results.push(r);
      log(`  ${r.name}: fused ${String(r.details.fusedMs)} ms, composed ${String(r.details.composedMs)} ms (${String(r.details.speedup)}x)`);
      ratios[`${r.name} fused vs composed speed-up`] = Number(r.details.speedup);
    }
  }

  if (args.only.has('event')) {
    log('running event-driven vs dense spike products ...');
    for (const r of await benchEvent({ quick: args.quick, reps: args.reps })) {
      results.push(r);
      log(`  ${r.name}: event ${String(r.details.eventMs)} ms, dense ${String(r.details.denseMs)} ms (${String(r.details.speedup)}x)`);
      ratios[`${r.name} event vs dense speed-up`] = Number(r.details.speedup);
    }
  }

  let ourTrain: BenchResult | undefined;
  let ourInfer: BenchResult | undefined;
  if (args.only.has('model')) {
    ourTrain = await run('image encoder training step (spikeclip-b)', () => benchImageTrain({ preset: 'spikeclip-b', batch: B, reps: args.reps, warmup }));
    efficiency(ourTrain, 'spikeclip-b', true);
    ourInfer = await run('image encoder inference (spikeclip-b)', () => benchImageInfer({ preset: 'spikeclip-b', batch: B, reps: args.reps, warmup }));
    efficiency(ourInfer, 'spikeclip-b', false);
  }
  if (args.only.has('infer-event')) {
    const r = await run('image encoder inference, event-driven vs dense (spikeclip-b)', () =>
      benchImageInferEvent({ preset: 'spikeclip-b', batch: B, reps: Math.max(args.reps, 3), warmup }),
    );
    ratios[`${r.name} event-driven vs dense`] = Number(r.details.speedupVsDense);
  }
  if (args.only.has('tiny')) {
    const t = await run('image encoder training step (spikeclip-tiny)', () => benchImageTrain({ preset: 'spikeclip-tiny', batch: B, reps: args.reps, warmup }));
    efficiency(t, 'spikeclip-tiny', true);
    const i = await run('image encoder inference (spikeclip-tiny)', () => benchImageInfer({ preset: 'spikeclip-tiny', batch: B, reps: args.reps, warmup }));
    efficiency(i, 'spikeclip-tiny', false);
  }
  if (args.only.has('text')) {
    await run('text encoder training step (spikeclip-b)', () => benchTextTrain({ preset: 'spikeclip-b', batch: args.quick ? 32 : 256, reps: args.reps, warmup }));
    await run('text encoder training step (spikeclip-tiny)', () => benchTextTrain({ preset: 'spikeclip-tiny', batch: args.quick ? 32 : 256, reps: args.reps, warmup }));
  }
  // Suites contributed by other parts of the code base: bench/<name>.ts exporting bench<Name>(opts).
  for (const [suite, fn] of [['teacher', 'benchTeacher'], ['data', 'benchData'], ['energy', 'benchEnergy'], ['eval', 'benchEval'], ['loop', 'benchLoop'], ['startup', 'benchStartup'], ['demo', 'benchDemo']] as const) {
    if (!args.only.has(suite)) continue;
    const file = path.join(__dirname, `${suite}.js`);
    if (!fs.existsSync(file)) {
      log(`${suite}: no bench/${suite}.ts in this version; skipped`);
      continue;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as Record<string, (o: { quick: boolean; reps: number }) => Promise<BenchResult | BenchResult[]>>;
    if (typeof mod[fn] !== 'function') continue;
    log(`running ${suite} ...`);
    const got = await mod[fn]({ quick: args.quick, reps: args.reps });
    const out = Array.isArray(got) ? got : [got];
    for (const r of out) {
      results.push(r);
      log(`  ${r.name}: ${r.perSecond.toFixed(2)} ${r.unit}/s`);
    }
    if (suite === 'startup') {
      const bare = out.find((r) => r.name === 'startup/node-bare');
      for (const r of out) if (bare && r !== bare) ratios[`${r.name} wall time vs bare node start`] = r.secondsPerRep / bare.secondsPerRep;
    }
    if (suite === 'demo') {
      for (const r of out) {
        log(`  ${r.name}: ${r.secondsPerRep.toFixed(1)} s (stages ${JSON.stringify(r.details.stageSeconds)})`);
        if (typeof r.details.vsPromise === 'number') ratios[`${r.name} wall time vs the README's 5 minutes`] = r.details.vsPromise;
      }
    }
  }
  let torch: { before?: TorchFigures; after?: TorchFigures } | undefined;
  if (args.compareTorch && ourTrain && ourInfer) {
    // Interleaved: PyTorch, (ours ran above), PyTorch again, then ours once more; medians of each side.
    const steps = args.quick ? 2 : 5;
    log('compare-torch: PyTorch reference run 1 ...');
    const before = torchReference(B, steps, info.threads > 1 ? info.threads : 1);
    log('compare-torch: our run 2 ...');
    const train2 = await benchImageTrain({ preset: 'spikeclip-b', batch: B, reps: args.reps, warmup });
    const infer2 = await benchImageInfer({ preset: 'spikeclip-b', batch: B, reps: args.reps, warmup });
    log('compare-torch: PyTorch reference run 2 ...');
    const after = torchReference(B, steps, info.threads > 1 ? info.threads : 1);
    torch = { before, after };
    if (before && after) {
      const tTrain = (before.train_images_per_s + after.train_images_per_s) / 2;
      const tInfer = (before.eval_images_per_s + after.eval_images_per_s) / 2;
      const oTrain = (ourTrain.perSecond + train2.perSecond) / 2;
      const oInfer = (ourInfer.perSecond + infer2.perSecond) / 2;
      ratios['image-train spikeclip vs PyTorch (same threads)'] = oTrain / tTrain;
      ratios['image-infer spikeclip vs PyTorch (same threads)'] = oInfer / tInfer;
    }
  }
  const report = {
    backend: { name: info.name, threads: info.threads, simd: info.simd, ...(info.threadsNote ? { threadsNote: info.threadsNote } : {}) },
    machine,
    loadAfter: machineState().loadavg,
    options: { quick: args.quick, reps: args.reps },
    results,
    ratios,
    ...(torch ? { torch } : {}),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(`\nbackend ${info.name} (${info.threads} thread(s)), load ${machine.loadavg.join(' ')} -> ${report.loadAfter.join(' ')}\n`);
    for (const r of results) process.stdout.write(`${r.name.padEnd(40)} ${r.perSecond.toFixed(2).padStart(10)} ${r.unit}/s\n`);
    for (const [k, v] of Object.entries(ratios)) process.stdout.write(`${k}: ${v.toFixed(3)}\n`);
  }
  releaseBackend();
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
