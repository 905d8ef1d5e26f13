/**
 * Running the real CLI (bin/run.js over dist/; `npm test` builds first) from a test: exit status,
 * stdout, stderr, and the --json envelope's result or error.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'run.js');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `spikeclip ...args` with `env` (synchronously, up to 4 minutes). */
export function runCli(args: string[], env: NodeJS.ProcessEnv): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The --json result of a run that must have succeeded (the output is shown when it did not). */
export function okResult<T = Record<string, unknown>>(r: CliRun): T {
  if (r.status !== 0) throw new Error(`exit ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return (JSON.parse(r.stdout) as { result: T }).result;
}

/** The --json error message of a failed run. */
export function errorMessage(r: CliRun): string {
  return (JSON.parse(r.stdout) as { error: { message: string } }).error.message;
}
