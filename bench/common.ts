/**
 * Shared pieces of the benchmarks: timing with warm-up and medians, the machine's state, and
 * the result record every benchmark returns.
 */
import * as os from 'os';

export interface BenchResult {
  /** Stable identifier, e.g. `image-train/spikeclip-b/b32`. */
  name: string;
  /** What one unit is (e.g. "images"). */
  unit: string;
  /** Units per second (median over the measured repetitions). */
  perSecond: number;
  /** Median seconds per repetition. */
  secondsPerRep: number;
  reps: number;
  /** Free-form details (batch size, T, backend, ...). */
  details: Record<string, unknown>;
}

export interface MachineState {
  cpus: number;
  cpuModel: string;
  loadavg: number[];
  totalMemGiB: number;
  node: string;
}

export function machineState(): MachineState {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn` `warmup` times untimed, then `reps` times timed; returns seconds per rep. */
export async function timeReps(fn: () => void | Promise<void>, reps: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return times;
}

export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
