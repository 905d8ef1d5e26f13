/**
 * Backend selection: tfjs-node (native) > wasm (SIMD) > pure-JS cpu.
 *
 * `auto` tries them in that order and records why each skipped one was skipped.
 * An explicitly requested backend never falls back: it fails with the reason.
 */
import * as path from 'path';
import * as tf from '../tf';
import { BACKEND_CHOICES, type BackendChoice, type BackendName } from './choices';
import { cpuCount, MAX_WASM_THREADS, threadedWasmUnavailable, unrefWasmWorkers, withThreadedWasm } from './threads';
import { EXIT, SpikeclipError } from '../errors';

export { BACKEND_CHOICES, type BackendChoice, type BackendName } from './choices';

export interface BackendInfo {
  /** Our name of the backend in use. */
  name: BackendName;
  /** TF.js's registry name ('tensorflow', 'wasm', 'cpu'). */
  tfName: string;
  /** Threads the backend computes with (for wasm: the thread pool XNNPACK actually started). */
  threads: number;
  /** Why the backend runs on fewer threads than requested (or than the cores, by default). */
  threadsNote?: string;
  /** Whether the wasm SIMD build is in use (wasm only). */
  simd: boolean;
  /** Why auto-selection skipped faster backends (empty for an explicit choice). */
  skipped: { name: BackendName; reason: string }[];
}

export interface BackendOptions {
  backend?: string;
  /** Requested threads; undefined = the backend's default (wasm: all cores when its threaded build works). */
  threads?: number;
  /** Environment to read SPIKECLIP_BACKEND from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
}

/** A backend that cannot start here (exit status 3), or a bad --backend/--threads value (exit status 2). */
export class BackendError extends SpikeclipError {
  constructor(message: string, exitCode: number = EXIT.notAvailable) {
    super(message, { code: 'E_BACKEND', exitCode });
    this.name = 'BackendError';
  }
}

/** An explicitly requested backend whose package is not installed: "not available" (exit status 3), not bad input. */
export class BackendUnavailableError extends SpikeclipError {
  constructor(message: string) {
    super(message, { code: 'E_NOT_AVAILABLE', exitCode: EXIT.notAvailable });
    this.name = 'BackendUnavailableError';
  }
}

/** Parses a backend name from a flag or SPIKECLIP_BACKEND, with an error that lists the choices. */
export function parseBackendChoice(value: string | undefined, source = '--backend'): BackendChoice {
  if (value === undefined || value === '') return 'auto';
  const v = value.trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new BackendError(`unknown backend "${value}" in ${source}: choose one of ${BACKEND_CHOICES.join(', ')}`, EXIT.usage);
}

/** Resolves the requested backend: the flag wins over SPIKECLIP_BACKEND, which wins over auto. */
export function resolveBackendChoice(opts: BackendOptions): BackendChoice {
  if (opts.backend !== undefined && opts.backend !== '') return parseBackendChoice(opts.backend, '--backend');
  const env = (opts.env ?? process.env).SPIKECLIP_BACKEND;
  return parseBackendChoice(env, 'SPIKECLIP_BACKEND');
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/** Directory that holds the wasm binaries of the installed @tensorflow/tfjs-backend-wasm. */
export function wasmBinaryDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
}

async function tryNode(threads: number | undefined): Promise<BackendInfo> {
  if (threads !== undefined) {
    // libtensorflow reads these when it creates its thread pools, i.e. on load.
    process.env.TF_NUM_INTRAOP_THREADS = String(threads);
    process.env.TF_NUM_INTEROP_THREADS = String(Math.max(1, Math.min(threads, 2)));
  }
  try {
    // Optional dependency: absent on machines that could not download libtensorflow.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
  } catch (e) {
    throw new BackendUnavailableError(
      `the native backend (@tensorflow/tfjs-node) is not available: ${errorText(e)}. ` +
        'Install it with `npm install @tensorflow/tfjs-node` on a machine with internet access, or use --backend wasm',
    );
  }
  if (!(await tf.setBackend('tensorflow'))) {
    throw new BackendError('the native backend (@tensorflow/tfjs-node) loaded but failed to initialise');
  }
  const n = threads ?? Number(process.env.TF_NUM_INTRAOP_THREADS ?? 0);
  return { name: 'node', tfName: 'tensorflow', threads: n > 0 ? n : osThreads(), simd: false, skipped: [] };
}

function osThreads(): number {
  return cpuCount();
}

/** How long the threaded wasm build may take to start its workers before we give up on it. */
const THREADED_INIT_TIMEOUT_MS = 60_000;

/** Removes a (failed or unwanted) wasm backend instance, keeping its factory registered. */
function resetWasm(): void {
  const factory = tf.findBackendFactory('wasm');
  try {
    tf.removeBackend('wasm');
  } catch {
    /* not there */
  }
  if (factory) tf.registerBackend('wasm', factory, 2);
}

async function setWasmBackend(): Promise<boolean> {
  try {
    return await tf.setBackend('wasm');
  } catch (e) {
    throw new BackendError(`the wasm backend failed to initialise: ${errorText(e)}`);
  }
}

/** Starts the threaded build with `n` threads; returns the threads it runs, or why it could not. */
async function startThreadedWasm(wasm: typeof import('@tensorflow/tfjs-backend-wasm'), n: number): Promise<number | string> {
  const unavailable = threadedWasmUnavailable();
  if (unavailable) return unavailable;
  wasm.setThreadsCount(Math.min(n, MAX_WASM_THREADS));
  let timer: NodeJS.Timeout | undefined;
  try {
    const ok = await withThreadedWasm(n, () =>
      Promise.race([
        tf.setBackend('wasm'),
        new Promise<boolean>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`its workers did not start within ${THREADED_INIT_TIMEOUT_MS / 1000} s`)), THREADED_INIT_TIMEOUT_MS);
        }),
      ]),
    );
    if (!ok) return 'the threaded build failed to initialise';
    const got = wasm.getThreadsCount();
    if (got > 1) {
      unrefWasmWorkers(tf.backend());
      return got;
    }
    resetWasm();
    return `the threaded build started only ${got} thread`;
  } catch (e) {
    resetWasm();
    return `the threaded build failed: ${errorText(e)}`;
  } finally {
    if (timer) clearTimeout(timer);
    wasm.setThreadsCount(-1);
  }
}

async function tryWasm(threads: number | undefined): Promise<BackendInfo> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    wasm = require('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmBinaryDir() + path.sep);
  } catch (e) {
    throw new BackendUnavailableError(`the wasm backend (@tensorflow/tfjs-backend-wasm) is not installed: ${errorText(e)}. Run \`npm ci\``);
  }
  const simd = () => tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const want = threads ?? cpuCount();
  if (tf.findBackend('wasm')) {
    // Already running (its tensors live on it): keep it, and say so when it differs from the request.
    if (!(await setWasmBackend())) throw new BackendError('the wasm backend failed to initialise');
    const got = wasm.getThreadsCount();
    const note = got !== want ? `the wasm backend was already running with ${got} thread${got === 1 ? '' : 's'}` : undefined;
    if (note && threads !== undefined) process.emitWarning(`--threads ${threads}: ${note}; using ${got}`, { code: 'SPIKECLIP_THREADS' });
    return { name: 'wasm', tfName: 'wasm', threads: got, simd: simd(), skipped: [], ...(note ? { threadsNote: note } : {}) };
  }
  let note: string | undefined;
  if (want > 1) {
    const r = await startThreadedWasm(wasm, want);
    if (typeof r === 'number') {
      const n = r < want ? `the threaded build started ${r} of ${want} threads (it has at most ${MAX_WASM_THREADS})` : undefined;
      if (n && threads !== undefined) process.emitWarning(`--threads ${threads}: ${n}; using ${r}`, { code: 'SPIKECLIP_THREADS' });
      return { name: 'wasm', tfName: 'wasm', threads: r, simd: simd(), skipped: [], ...(n ? { threadsNote: n } : {}) };
    }
    note = r;
    if (threads !== undefined) {
      process.emitWarning(`--threads ${threads}: ${note}; using the single-threaded SIMD build`, { code: 'SPIKECLIP_THREADS' });
    }
  }
  if (!(await setWasmBackend())) throw new BackendError('the wasm backend failed to initialise (could not compile its WebAssembly module)');
  return { name: 'wasm', tfName: 'wasm', threads: wasm.getThreadsCount(), simd: simd(), skipped: [], ...(note ? { threadsNote: note } : {}) };
}

async function tryCpu(threads: number | undefined): Promise<BackendInfo> {
  if (threads !== undefined && threads > 1) {
    process.emitWarning(`--threads ${threads}: the pure-JS cpu backend is single-threaded; using 1 thread`, {
      code: 'SPIKECLIP_THREADS',
    });
  }
  if (!(await tf.setBackend('cpu'))) throw new BackendError('the pure-JS cpu backend failed to initialise');
  return { name: 'cpu', tfName: 'cpu', threads: 1, simd: false, skipped: [] };
}

const LOADERS: Record<BackendName, (threads: number | undefined) => Promise<BackendInfo>> = {
  node: tryNode,
  wasm: tryWasm,
  cpu: tryCpu,
};

/** Hooks run after a backend is selected (custom kernels and gradients register themselves here). */
export type BackendSetupHook = (info: BackendInfo) => void;

/**
 * Selects and initialises the TF.js backend.
 * `auto` takes the first of node, wasm, cpu that works and reports why the others were skipped.
 */
export async function initBackend(opts: BackendOptions = {}, hooks: BackendSetupHook[] = []): Promise<BackendInfo> {
  const choice = resolveBackendChoice(opts);
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new BackendError(`--threads must be a positive integer, got ${opts.threads}`, EXIT.usage);
  }
  tf.enableProdMode();
  let info: BackendInfo;
  if (choice !== 'auto') {
    info = await LOADERS[choice](opts.threads);
  } else {
    const skipped: BackendInfo['skipped'] = [];
    let found: BackendInfo | undefined;
    for (const name of ['node', 'wasm', 'cpu'] as const) {
      try {
        found = await LOADERS[name](opts.threads);
        break;
      } catch (e) {
        skipped.push({ name, reason: errorText(e) });
      }
    }
    if (!found) throw new BackendError(`no TF.js backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
    info = { ...found, skipped };
  }
  for (const hook of hooks) hook(info);
  return info;
}

/** One line for stderr: `backend: wasm (SIMD, 1 thread)`. */
export function describeBackend(info: BackendInfo): string {
  const parts: string[] = [];
  if (info.name === 'wasm') parts.push(info.simd ? 'SIMD' : 'no SIMD');
  parts.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  return `backend: ${info.name} (${parts.join(', ')})`;
}

/**
 * Releases the active wasm or native backend so the process can exit (a threaded wasm backend
 * keeps Node alive otherwise). The factory stays registered, so the backend can start again.
 */
export function releaseBackend(): void {
  const name = tf.getBackend();
  if (name !== 'wasm' && name !== 'tensorflow') return;
  const factory = tf.findBackendFactory(name);
  try {
    tf.removeBackend(name);
  } catch {
    /* already gone */
  }
  if (factory) tf.registerBackend(name, factory, name === 'tensorflow' ? 3 : 2);
}
