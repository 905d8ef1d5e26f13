/**
 * Where the time of one training step goes: `tf.profile` over a step of the image encoder,
 * kernel times summed by kernel name (and by name + output shape with --by-shape).
 *
 *   npm run bench -- --only profile            (or: node dist-bench/bench/profile.js [--batch B] [--preset P])
 */
import * as tf from '../src/tf';
import { getPreset } from '../src/models/config';
import { SpikeClipImageEncoder } from '../src/models/image-encoder';
import { TRAINING } from '../src/snn/module';
import { alignmentLoss } from '../src/train/losses';
import { Adam } from '../src/train/optimizer';
import { trainStep } from '../src/train/step';
import { BenchResult, machineState } from './common';

export interface ProfileOptions {
  preset: string;
  batch: number;
  byShape?: boolean;
  top?: number;
}

export interface KernelTotal {
  name: string;
  ms: number;
  calls: number;
}

/** Profiles one training step (after one warm-up step); kernel totals, largest first. */
export async function profileTrainStep(o: ProfileOptions): Promise<{ totalMs: number; wallMs: number; kernels: KernelTotal[] }> {
  const cfg = getPreset(o.preset).image;
  const enc = new SpikeClipImageEncoder(cfg, { seed: 1 });
  const opt = new Adam(enc.namedParameters(), { lr: 1e-4 });
  const x = tf.randomNormal([o.batch, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 2);
  const target = tf.randomNormal([o.batch, cfg.outputDim], 0, 1, 'float32', 3);
  const step = () => trainStep(enc, opt, () => alignmentLoss(enc.forward(x, TRAINING), target));
  step();
  const t0 = Date.now();
  const info = await tf.profile(() => {
    step();
  });
  const wallMs = Date.now() - t0;
  const totals = new Map<string, KernelTotal>();
  for (const k of info.kernels) {
    const key = o.byShape ? `${k.name} ${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}` : k.name;
    const e = totals.get(key) ?? { name: key, ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    totals.set(key, e);
  }
  const kernels = [...totals.values()].sort((a, b) => b.ms - a.ms);
  tf.dispose([x, target]);
  opt.dispose();
  enc.dispose();
  return { totalMs: kernels.reduce((s, k) => s + k.ms, 0), wallMs, kernels };
}

/** For bench/run.ts: one result per step, the kernel table in details. */
export async function benchProfile(o: { quick: boolean }): Promise<BenchResult> {
  const batch = o.quick ? 8 : 32;
  const r = await profileTrainStep({ preset: 'spikeclip-b', batch });
  return {
    name: `profile/image-train/spikeclip-b/b${batch}`,
    unit: 'steps',
    perSecond: 1000 / r.wallMs,
    secondsPerRep: r.wallMs / 1000,
    reps: 1,
    details: { kernelMs: Math.round(r.totalMs), top: r.kernels.slice(0, 25).map((k) => `${k.name}: ${k.ms.toFixed(0)} ms / ${k.calls}`) },
  };
}

if (require.main === module) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { initBackend, releaseBackend } = require('../src/backend') as typeof import('../src/backend');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { installTrainingKernels } = require('../src/backend/gradients') as typeof import('../src/backend/gradients');
  const argv = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : d;
  };
  (async () => {
    const info = await initBackend({ backend: opt('--backend', 'wasm'), threads: argv.includes('--threads') ? Number(opt('--threads', '1')) : undefined }, [installTrainingKernels]);
    const m = machineState();
    const r = await profileTrainStep({ preset: opt('--preset', 'spikeclip-b'), batch: Number(opt('--batch', '8')), byShape: argv.includes('--by-shape'), top: Number(opt('--top', '30')) });
    process.stdout.write(`backend ${info.name} ${info.threads}t, load ${m.loadavg.join(' ')}; step wall ${r.wallMs} ms, kernels ${r.totalMs.toFixed(0)} ms\n`);
    for (const k of r.kernels.slice(0, Number(opt('--top', '30')))) {
      process.stdout.write(`${k.ms.toFixed(1).padStart(9)} ms ${String(k.calls).padStart(5)}x  ${k.name}\n`);
    }
    releaseBackend();
  })().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
