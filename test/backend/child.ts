/**
 * Runs a snippet of TypeScript in a fresh Node process against this checkout's src/ (compiled on
 * the fly with TypeScript's transpileModule), for tests that need a process of their own: that
 * it exits by itself, or that it starts with a clean TF.js.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

const HOOK = `
const fs = require('fs');
const ts = require(${JSON.stringify(require.resolve('typescript'))});
require.extensions['.ts'] = (m, file) => {
  const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  m._compile(out.outputText, file);
};
`;

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/**
 * Runs `body` (TypeScript, CommonJS; `src(p)` requires ROOT/src/p) in a new Node process and
 * waits for it to exit, at most `timeoutMs`.
 */
export function runChild(body: string, timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): ChildResult {
  const script = `${HOOK}\nconst src = (p) => require(${JSON.stringify(path.join(ROOT, 'src'))} + '/' + p);\n${body}`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    ms: Date.now() - t0,
    timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT',
  };
}

/** The last line of stdout parsed as JSON. */
export function lastJson<T>(r: ChildResult): T {
  const lines = r.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    throw new Error(`child printed no JSON (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}
