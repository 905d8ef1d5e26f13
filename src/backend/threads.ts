/**
 * Multi-threaded wasm under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK's thread pool on emscripten
 * pthreads) but turns it off under Node: its WASM_HAS_MULTITHREAD_SUPPORT flag answers false
 * there, because the loader hands the pthread worker script to `new Worker` as a browser Blob
 * URL, which Node's worker_threads cannot open. Emscripten's Node support does the rest
 * (worker_threads for the workers, os.cpus() for the core count, a shared WebAssembly.Memory).
 *
 * `withThreadedWasm` bridges the gap for the duration of one backend initialisation only:
 * - it writes the worker script to a file (os.tmpdir(), named by its content hash, written
 *   atomically and reused) with a prologue that makes the worker load the emscripten glue of
 *   the threaded build from the installed package instead of from a Blob;
 * - it makes `URL.createObjectURL` return that file's path while the backend initialises;
 * - it sets WASM_HAS_MULTITHREAD_SUPPORT for that initialisation;
 * - it reports 2 x threads logical cores through `os.cpus()` while the module starts: the
 *   backend's C++ sizes its pool as min(requested, 8, logical cores / 2) (it assumes two
 *   hyper-threads per core), so a 2-core machine would otherwise get 1 thread;
 * and afterwards it restores `URL.createObjectURL`, `os.cpus`, the flag, and the global
 * `Worker` that the emscripten glue assigns. The pthread workers are unref'd (`unrefWasmWorkers`), so they never
 * keep the process alive; `releaseBackend()` terminates them.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../tf';

const THREADED_GLUE = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
const THREADED_WORKER = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';

/** Logical cores of this machine (what "all cores" means for --threads). */
export function cpuCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * The worker script as a file: the package's pthread worker, preceded by a prologue under which
 * the worker's `URL.createObjectURL(mainScriptBlob)` yields the path of the threaded build's
 * emscripten glue (which its `importScripts` then evaluates). Returns the file's path.
 */
export function workerScriptFile(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { wasmWorkerContents } = require(THREADED_WORKER) as { wasmWorkerContents: string };
  const glue = require.resolve(THREADED_GLUE);
  if (typeof wasmWorkerContents !== 'string' || !wasmWorkerContents.includes('importScripts')) {
    throw new Error('unexpected pthread worker script in @tensorflow/tfjs-backend-wasm');
  }
  const prologue =
    '"use strict";\n' +
    '// spikeclip: load the threaded build\'s emscripten glue from the installed package, not from a Blob URL\n' +
    `URL.createObjectURL = function () { return ${JSON.stringify(glue)}; };\n` +
    'URL.revokeObjectURL = function () {};\n';
  // As the wasm loader does before making its Blob: the script's "\n" escapes arrive as newlines.
  const text = `${prologue}${wasmWorkerContents.replace(/\n/g, '\\n')}\n`;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `spikeclip-wasm-worker-${hash}.js`);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    fs.renameSync(tmp, file);
  }
  return file;
}

/** Why the threaded build cannot be used here, or null when it can be tried. */
export function threadedWasmUnavailable(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available in this Node';
  if (typeof Blob === 'undefined' || typeof URL === 'undefined' || typeof URL.createObjectURL !== 'function') {
    return 'this Node lacks Blob/URL.createObjectURL';
  }
  try {
    require.resolve(THREADED_GLUE);
    require.resolve(THREADED_WORKER);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm'));
    if (!fs.existsSync(path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'))) return 'the threaded wasm binary is missing';
  } catch (e) {
    return `the threaded build of @tensorflow/tfjs-backend-wasm is not installed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  }
  return null;
}

/** The most threads the threaded build's pool takes (its pre-created pthread workers). */
export const MAX_WASM_THREADS = 8;

/**
 * Runs `init` (which must initialise the wasm backend) with the threaded build enabled for
 * `threads` threads, then restores every global it touched.
 */
export async function withThreadedWasm<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const file = workerScriptFile();
  const g = globalThis as Record<string, unknown>;
  const hadWorker = Object.prototype.hasOwnProperty.call(g, 'Worker');
  const prevWorker = g.Worker;
  const prevCreate = URL.createObjectURL;
  const env = tf.env();
  const prevFlag = env.getFlags().WASM_HAS_MULTITHREAD_SUPPORT;
  // the module object itself (what the emscripten glue's require('os') returns), not a namespace copy
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const osModule = require('os') as { cpus: typeof os.cpus };
  const prevCpus = osModule.cpus;
  try {
    // The only Blob URL the wasm loader asks for is the pthread worker script's.
    URL.createObjectURL = ((): string => file) as typeof URL.createObjectURL;
    env.set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    const real = prevCpus();
    const reported = Math.max(2, 2 * Math.min(threads, MAX_WASM_THREADS));
    osModule.cpus = () => Array.from({ length: reported }, (_, i) => real[i % Math.max(1, real.length)]);
    return await init();
  } finally {
    osModule.cpus = prevCpus;
    URL.createObjectURL = prevCreate;
    if (prevFlag === undefined) env.set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    else env.set('WASM_HAS_MULTITHREAD_SUPPORT', prevFlag);
    if (hadWorker) g.Worker = prevWorker;
    else delete g.Worker;
  }
}

interface PThreadLike {
  unusedWorkers?: { unref?: () => void }[];
  runningWorkers?: { unref?: () => void }[];
}

/**
 * Unrefs the emscripten pthread workers of a wasm backend so they do not keep Node alive;
 * returns how many there are (0 for the single-threaded build).
 */
export function unrefWasmWorkers(backend: unknown): number {
  const pt = (backend as { wasm?: { PThread?: PThreadLike } } | undefined)?.wasm?.PThread;
  if (!pt) return 0;
  const workers = [...(pt.unusedWorkers ?? []), ...(pt.runningWorkers ?? [])];
  for (const w of workers) if (typeof w.unref === 'function') w.unref();
  return workers.length;
}
