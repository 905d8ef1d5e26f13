/**
 * A small byte-level fuzzer for the file readers (issue 13): deterministic mutations of valid
 * files, and a driver that checks every case ends in a result or a clean user error (the CLI's
 * own classification: a one-line error with exit status 4), within a time limit per case and
 * with bounded memory growth.
 */
import { toErrorReport } from '../../src/cli/errors';
import { mulberry32 } from '../../src/data/rng';

/** The project's mulberry32 (src/data/rng.ts): deterministic, so a failure reproduces from its seed. */
export const rng = mulberry32;

/** Values that make size fields lie: zero, one, just past the end, sign bits, all ones. */
const NASTY_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One random mutation of `input`: bit flips, truncation, nasty 32-bit values, insertions, deletions, duplicated or swapped blocks. */
export function mutateBytes(input: Uint8Array, r: () => number): Uint8Array {
  const int = (n: number): number => Math.floor(r() * n);
  const out = Uint8Array.from(input);
  const n = out.length;
  switch (int(8)) {
    case 0: {
      for (let i = 0, k = 1 + int(4); i < k && n > 0; i++) out[int(n)] ^= 1 << int(8);
      return out;
    }
    case 1:
      return out.subarray(0, int(n + 1));
    case 2: {
      // a 32-bit field set to a nasty value (little- or big-endian), at a random or aligned offset
      if (n < 4) return out;
      const at = r() < 0.5 ? int(n - 3) : 4 * int(Math.floor(n / 4));
      const v = NASTY_U32[int(NASTY_U32.length)];
      const dv = new DataView(out.buffer, out.byteOffset, out.length);
      if (at + 4 <= n) dv.setUint32(at, v, r() < 0.7);
      return out;
    }
    case 3: {
      // random bytes inserted
      const at = int(n + 1);
      const ins = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
      const res = new Uint8Array(n + ins.length);
      res.set(out.subarray(0, at));
      res.set(ins, at);
      res.set(out.subarray(at), at + ins.length);
      return res;
    }
    case 4: {
      // a block deleted
      const at = int(n + 1);
      const len = int(Math.min(64, n - at) + 1);
      const res = new Uint8Array(n - len);
      res.set(out.subarray(0, at));
      res.set(out.subarray(at + len), at);
      return res;
    }
    case 5: {
      // a block copied over another place
      if (n < 2) return out;
      const len = 1 + int(Math.min(64, n - 1));
      const from = int(n - len + 1);
      const to = int(n - len + 1);
      out.copyWithin(to, from, from + len);
      return out;
    }
    case 6: {
      // a run of one byte value (0x00 or 0xff)
      const at = int(n + 1);
      out.fill(r() < 0.5 ? 0 : 0xff, at, Math.min(n, at + 1 + int(32)));
      return out;
    }
    default:
      // garbage
      return Uint8Array.from({ length: int(256) }, () => int(256));
  }
}

export interface FuzzOptions {
  /** Valid inputs to mutate (each case mutates one, once or a few times). */
  seeds: Uint8Array[];
  cases: number;
  seed: number;
  /** Parses one input; returns normally or throws. */
  parse: (input: Uint8Array, index: number) => unknown | Promise<unknown>;
  /** Time limit per case. */
  caseMs?: number;
  /** Largest growth of heap + array buffers over the run, in MiB. */
  memoryMiB?: number;
}

export interface FuzzStats {
  ok: number;
  rejected: number;
  slowestMs: number;
  peakGrowthMiB: number;
}

const used = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Runs the cases; throws (naming the case and its input) on anything but a result or a clean user error. */
export async function fuzz(o: FuzzOptions): Promise<FuzzStats> {
  const r = rng(o.seed);
  const caseMs = o.caseMs ?? 1000;
  const limit = (o.memoryMiB ?? 200) * 2 ** 20;
  const base = used();
  const stats: FuzzStats = { ok: 0, rejected: 0, slowestMs: 0, peakGrowthMiB: 0 };
  for (let i = 0; i < o.cases; i++) {
    let input = o.seeds[Math.floor(r() * o.seeds.length)];
    for (let k = 0, m = 1 + Math.floor(r() * 3); k < m; k++) input = mutateBytes(input, r);
    const t0 = Date.now();
    try {
      await o.parse(input, i);
      stats.ok++;
    } catch (e) {
      const rep = toErrorReport(e);
      if (!rep.user || rep.status !== 4 || rep.message.includes('\n')) {
        throw new Error(`case ${i} (seed ${o.seed}): not a clean user error: ${(e as Error)?.stack ?? String(e)}\ninput (hex, first 512 bytes): ${Buffer.from(input.subarray(0, 512)).toString('hex')}`);
      }
      stats.rejected++;
    }
    const ms = Date.now() - t0;
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    if (ms > caseMs) throw new Error(`case ${i} (seed ${o.seed}) took ${ms} ms (limit ${caseMs})`);
    const growth = used() - base;
    stats.peakGrowthMiB = Math.max(stats.peakGrowthMiB, growth / 2 ** 20);
    if (growth > limit) throw new Error(`case ${i} (seed ${o.seed}): memory grew by ${(growth / 2 ** 20).toFixed(0)} MiB (limit ${o.memoryMiB ?? 200})`);
  }
  return stats;
}
