/**
 * Start-up benchmark: wall time of `spikeclip --version` and `spikeclip inspect --json` as a user
 * meets them (a fresh `node bin/run.js` process over the compiled dist/), against a bare
 * `node -e ""` start measured in the same run. Called by bench/run.ts as `benchStartup({quick, reps})`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BenchResult, median } from './common';

export interface StartupBenchOptions {
  quick?: boolean;
  /** Timed runs per case (at least 5: process start-up is noisy). */
  reps?: number;
  /** The package root holding bin/run.js and dist/ (default: two levels above this file). */
  root?: string;
}

interface Case {
  name: string;
  args: string[];
}

const CASES: Case[] = [
  { name: 'startup/node-bare', args: ['-e', ''] },
  { name: 'startup/version', args: ['bin/run.js', '--version'] },
  { name: 'startup/inspect-json', args: ['bin/run.js', 'inspect', '--json'] },
];

function timeOnce(root: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, SPIKECLIP_BACKEND: '' } });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${(r.stderr || '').trim().split('\n')[0]}`);
  return s;
}

/** Package root as seen from dist-bench/bench/startup.js (or bench/startup.ts under ts-jest). */
function defaultRoot(): string {
  const up2 = path.resolve(__dirname, '..', '..');
  return fs.existsSync(path.join(up2, 'bin', 'run.js')) ? up2 : path.resolve(__dirname, '..');
}

export async function benchStartup(opts: StartupBenchOptions = {}): Promise<BenchResult[]> {
  const root = opts.root ?? defaultRoot();
  if (!fs.existsSync(path.join(root, 'dist', 'commands', 'inspect.js'))) {
    throw new Error(`startup: ${path.join(root, 'dist')} is missing; run \`npm run build\` first`);
  }
  const manifest = fs.existsSync(path.join(root, 'oclif.manifest.json'));
  const reps = Math.max(opts.reps ?? 0, opts.quick ? 5 : 11);
  const results: BenchResult[] = [];
  let bare = 0;
  for (const c of CASES) {
    timeOnce(root, c.args); // warm the file cache
    const times: number[] = [];
    for (let i = 0; i < reps; i++) times.push(timeOnce(root, c.args));
    const s = median(times);
    if (c.name === 'startup/node-bare') bare = s;
    results.push({
      name: c.name,
      unit: 'starts',
      perSecond: 1 / s,
      secondsPerRep: s,
      reps,
      details: {
        command: `node ${c.args.join(' ')}`,
        medianMs: Math.round(s * 1000),
        minMs: Math.round(Math.min(...times) * 1000),
        ...(bare > 0 && c.name !== 'startup/node-bare' ? { overBareNodeMs: Math.round((s - bare) * 1000) } : {}),
        oclifManifest: manifest,
      },
    });
  }
  return results;
}
