/**
 * Energy-report benchmark: the cost of counting spikes. Image-encoder inference with a
 * SpikeMonitor attached (exact per-layer counts, per-position maps for the padded convs) against
 * the same inference without one, interleaved rep by rep so machine load hits both alike.
 * Target (issue 6): monitors add at most 15% over plain inference. Two measures: the median
 * monitored/plain time ratio (noisy on a loaded machine), and the time spent inside the
 * monitor's observe() over the rest of the same forward pass (robust to load drift).
 *
 * `benchEnergy({quick, reps})` returns BenchResult records (bench/common.ts); run this file on
 * its own (`node dist-bench/bench/energy.js [--quick] [--reps N]` after `tsc -p tsconfig.bench.json`)
 * to print them.
 */
import * as tf from '../src/tf';
import { getPreset } from '../src/models/config';
import { SpikeClipImageEncoder } from '../src/models/image-encoder';
import { INFERENCE, type ForwardContext } from '../src/snn/module';
import { SpikeMonitor } from '../src/snn/monitor';
import { BenchResult, median, peakRssMiB } from './common';

export interface EnergyBenchOptions {
  quick: boolean;
  reps: number;
}

/** A monitor that also measures the time spent counting (inside observe). */
class TimedMonitor extends SpikeMonitor {
  seconds = 0;
  override observe(...args: Parameters<SpikeMonitor['observe']>): void {
    const t0 = process.hrtime.bigint();
    super.observe(...args);
    this.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
  }
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function overheadCase(preset: string, batch: number, reps: number): Promise<BenchResult[]> {
  const cfg = getPreset(preset).image;
  const enc = new SpikeClipImageEncoder(cfg, { seed: 1 });
  // BatchNorm biases of 1.5 make the fresh model spike (about a quarter to half of the inputs of
  // most layers), so the counts are not all zero; the dense compute does not depend on it.
  for (const [name, v] of enc.namedParameters()) if (/_bn\.bias$/.test(name)) v.assign(tf.fill(v.shape, 1.5));
  const x = tf.randomNormal([batch, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 2);
  const plain = () =>
    time(() => {
      tf.tidy(() => {
        enc.forward(x, INFERENCE).dataSync();
      });
    });
  let monitor = new TimedMonitor();
  const countingShare: number[] = [];
  const monitored = () =>
    time(() => {
      monitor = new TimedMonitor();
      const ctx: ForwardContext = { training: false, monitor };
      tf.tidy(() => {
        enc.forward(x, ctx).dataSync();
      });
    });
  plain();
  monitored();
  const tp: number[] = [];
  const tm: number[] = [];
  for (let i = 0; i < reps; i++) {
    // alternate which goes first
    if (i % 2 === 0) {
      tp.push(plain());
      tm.push(monitored());
    } else {
      tm.push(monitored());
      tp.push(plain());
    }
    // the same run's counting time over the rest of its forward pass: immune to load drift between runs
    const last = tm[tm.length - 1];
    countingShare.push(monitor.seconds / (last - monitor.seconds));
  }
  const obs = monitor.observations();
  const acIn = obs.filter((o) => o.kind === 'ac').reduce((s, o) => s + o.inputElements, 0);
  const acNz = obs.filter((o) => o.kind === 'ac').reduce((s, o) => s + o.nonZero, 0);
  const sp = median(tp);
  const sm = median(tm);
  const details = {
    preset,
    batch,
    T: cfg.timeSteps,
    layersObserved: obs.length,
    meanInputFiringRate: acIn > 0 ? Math.round((acNz / acIn) * 1e4) / 1e4 : 0,
    peakRssMiB: peakRssMiB(),
    numTensors: tf.memory().numTensors,
    backend: tf.getBackend(),
  };
  // median of the per-pair ratios (each pair ran back to back), more robust than a ratio of medians
  const overhead = median(tm.map((m, i) => m / tp[i])) - 1;
  const out: BenchResult[] = [
    { name: `energy-plain-infer/${preset}/b${batch}`, unit: 'images', perSecond: batch / sp, secondsPerRep: sp, reps: tp.length, details },
    {
      name: `energy-monitored-infer/${preset}/b${batch}`,
      unit: 'images',
      perSecond: batch / sm,
      secondsPerRep: sm,
      reps: tm.length,
      details: {
        ...details,
        overheadVsPlain: Math.round(overhead * 1e4) / 1e4,
        countingTimeOverForward: Math.round(median(countingShare) * 1e4) / 1e4,
        targetMaxOverhead: 0.15,
        withinTarget: overhead <= 0.15,
      },
    },
  ];
  x.dispose();
  enc.dispose();
  return out;
}

export async function benchEnergy(o: EnergyBenchOptions): Promise<BenchResult[]> {
  const reps = Math.max(o.reps, o.quick ? 2 : 3);
  const cases: Array<[string, number]> = o.quick
    ? [
        ['spikeclip-tiny', 16],
        ['spikeclip-b', 2],
      ]
    : [
        ['spikeclip-tiny', 32],
        ['spikeclip-b', 16],
      ];
  const out: BenchResult[] = [];
  for (const [preset, batch] of cases) out.push(...(await overheadCase(preset, batch, reps)));
  return out;
}

if (require.main === module) {
  void (async () => {
    const argv = process.argv.slice(2);
    const quick = argv.includes('--quick');
    const i = argv.indexOf('--reps');
    const reps = i >= 0 ? Number(argv[i + 1]) : quick ? 2 : 3;
    const { initBackend, describeBackend } = await import('../src/backend');
    const info = await initBackend({ backend: process.env.SPIKECLIP_BACKEND || 'auto' });
    process.stderr.write(`${describeBackend(info)}\n`);
    for (const r of await benchEnergy({ quick, reps })) {
      const extra =
        r.details.overheadVsPlain !== undefined
          ? `  overhead ${(Number(r.details.overheadVsPlain) * 100).toFixed(1)}% (counting time / forward time ${(Number(r.details.countingTimeOverForward) * 100).toFixed(1)}%)`
          : '';
      process.stdout.write(`${r.name.padEnd(44)} ${r.perSecond.toFixed(2).padStart(9)} images/s${extra}\n`);
    }
  })();
}
