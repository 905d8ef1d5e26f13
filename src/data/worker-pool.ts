/**
 * A small pool of worker threads that run the geometric image view (decode, resize, crop) off the
 * main thread. Why threads although sharp already works on libuv's thread pool: a pipeline has
 * several asynchronous stages (read the header, then decode + resize), and the main thread, busy
 * with a synchronous training step, cannot start the next stage until the step ends; a worker's
 * own event loop keeps them moving, so the next batch is ready when the step finishes.
 *
 * Under plain Node the worker runs the compiled decode-worker.js; under ts-jest or ts sources it
 * transpiles decode-worker.ts in memory with the project's TypeScript (a dev dependency).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { DecodeReply, DecodeTask } from './decode-worker';
import { ViewSpec } from './transforms';
import { DatasetError, ImageSource, RgbImage } from './types';

interface Pending {
  task: DecodeTask;
  resolve: (img: RgbImage) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
}


function workerEntry(): { filename: string; eval: boolean } {
  const js = path.join(__dirname, 'decode-worker.js');
  if (fs.existsSync(js)) return { filename: js, eval: false };
  const ts = path.join(__dirname, 'decode-worker.ts');
  const code = `
const fs = require('fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};
require(${JSON.stringify(ts)});
`;
  return { filename: code, eval: true };
}

/** An error rebuilt from a worker's reply (DatasetError keeps its name and `corrupt` flag). */
function rebuild(r: Extract<DecodeReply, { ok: false }>): Error {
  const e = r.name === 'DatasetError' ? new DatasetError(r.message) : new Error(r.message);
  if (r.name !== 'DatasetError') e.name = r.name;
  if (r.corrupt) (e as Error & { corrupt?: boolean }).corrupt = true;
  if (r.code) (e as Error & { code?: string }).code = r.code;
  return e;
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  /** Tasks completed (for tests and benchmarks). */
  completed = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new DatasetError(`worker count must be a positive integer, got ${size}`);
    const entry = workerEntry();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(entry.filename, { eval: entry.eval });
      const slot: Slot = { worker, inFlight: new Map() };
      worker.on('message', (r: DecodeReply) => this.onReply(slot, r));
      worker.on('error', (e) => this.onCrash(slot, e));
      worker.on('exit', (code) => {
        if (!this.closed) this.onCrash(slot, new Error(`decode worker exited with code ${code}`));
      });
      // Idle workers must not keep the process alive.
      worker.unref();
      this.slots.push(slot);
    }
  }

  /**
   * Runs the geometric view of `source` on a worker. The task is posted at once to the least busy
   * worker (workers queue internally), so work continues while the main thread is blocked.
   */
  run(source: ImageSource, view: ViewSpec): Promise<RgbImage> {
    if (this.closed) return Promise.reject(new Error('decode pool is closed'));
    if (this.slots.length === 0) return Promise.reject(new Error('decode pool has no live workers'));
    return new Promise<RgbImage>((resolve, reject) => {
      const p: Pending = { task: { id: this.nextId++, source, view }, resolve, reject };
      let best = this.slots[0];
      for (const s of this.slots) if (s.inFlight.size < best.inFlight.size) best = s;
      best.inFlight.set(p.task.id, p);
      if (best.inFlight.size === 1) best.worker.ref();
      best.worker.postMessage(p.task);
    });
  }

  private onReply(slot: Slot, r: DecodeReply): void {
    const p = slot.inFlight.get(r.id);
    if (!p) return;
    slot.inFlight.delete(r.id);
    if (slot.inFlight.size === 0) slot.worker.unref();
    this.completed++;
    if (r.ok) p.resolve({ width: r.width, height: r.height, data: r.data });
    else p.reject(rebuild(r));
  }

  private onCrash(slot: Slot, e: Error): void {
    for (const p of slot.inFlight.values()) p.reject(new Error(`decode worker failed: ${e.message}`));
    slot.inFlight.clear();
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  /** Stops the workers; pending tasks are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        for (const p of s.inFlight.values()) p.reject(new Error('decode pool closed'));
        s.inFlight.clear();
        await s.worker.terminate();
      }),
    );
  }
}
