/**
 * The demo benchmark: wall time of `spikeclip demo` as a user runs it (a fresh `node bin/run.js
 * demo --json` process over the compiled dist/, into a temporary run folder), per stage and in
 * all, against the README's promise of at most five minutes on a 2-core machine. `--quick` runs
 * `demo --quick`. Called by bench/run.ts as `benchDemo({quick, reps})`; `npm run build` first.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BenchResult, median } from './common';
import type { DemoSummary } from '../src/demo/summary';

/** The README's promise for the default run. */
export const DEMO_PROMISE_SECONDS = 300;

/** Package root as seen from dist-bench/bench/demo.js (or bench/demo.ts under ts-jest). */
function root(): string {
  const up2 = path.resolve(__dirname, '..', '..');
  return fs.existsSync(path.join(up2, 'bin', 'run.js')) ? up2 : path.resolve(__dirname, '..');
}

export async function benchDemo(o: { quick: boolean; reps: number }): Promise<BenchResult[]> {
  const dir = root();
  const runs: { seconds: number; summary: DemoSummary }[] = [];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-demo-'));
  try {
    for (let i = 0; i < Math.max(1, o.reps); i++) {
      const args = [path.join(dir, 'bin', 'run.js'), 'demo', '--out', path.join(work, `run-${i}`), '--json', ...(o.quick ? ['--quick'] : [])];
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, args, { cwd: work, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SPIKECLIP_CACHE: path.join(work, 'cache') } });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.status !== 0) throw new Error(`spikeclip demo failed (${r.status}): ${(r.stderr || '').trim().split('\n').slice(-1)[0]}`);
      runs.push({ seconds, summary: (JSON.parse(r.stdout) as { result: DemoSummary }).result });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const seconds = median(runs.map((r) => r.seconds));
  const last = runs[runs.length - 1].summary;
  const stages: Record<string, number> = {};
  for (const st of last.stages) stages[st.stage] = Math.round(st.seconds * 10) / 10;
  return [
    {
      name: `demo/${o.quick ? 'quick' : 'default'}`,
      unit: 'runs',
      perSecond: 1 / seconds,
      secondsPerRep: seconds,
      reps: runs.length,
      details: {
        dataset: last.dataset,
        stageSeconds: stages,
        vsPromise: o.quick ? null : seconds / DEMO_PROMISE_SECONDS,
        heldOutAccuracy: last.zeroShot.accuracy,
        heldOutChance: last.zeroShot.chance,
      },
    },
  ];
}
