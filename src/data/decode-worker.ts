/**
 * Worker-thread side of the decode pool: receives (source, view) tasks, runs the geometric view
 * (decode + resize + crop, sharp) and sends back the uint8 pixels. Each worker has its own event
 * loop, so multi-stage sharp pipelines keep moving while the main thread is busy training.
 */
import { parentPort } from 'worker_threads';
import { applyView, ViewSpec } from './transforms';
import { ImageSource } from './types';

export interface DecodeTask {
  id: number;
  source: ImageSource;
  view: ViewSpec;
}

export type DecodeReply =
  | { id: number; ok: true; width: number; height: number; data: Uint8Array }
  | { id: number; ok: false; name: string; message: string; corrupt: boolean; code?: string };

async function handle(task: DecodeTask): Promise<void> {
  try {
    const img = await applyView(task.source, task.view);
    // A fresh, transferable buffer (sharp's output may not be detachable).
    const data = new Uint8Array(img.data);
    const reply: DecodeReply = { id: task.id, ok: true, width: img.width, height: img.height, data };
    parentPort!.postMessage(reply, [data.buffer]);
  } catch (e) {
    const err = e as Error & { corrupt?: boolean; code?: string };
    const reply: DecodeReply = {
      id: task.id,
      ok: false,
      name: err?.name ?? 'Error',
      message: err?.message ?? String(e),
      corrupt: err?.corrupt === true,
      code: typeof err?.code === 'string' ? err.code : undefined,
    };
    parentPort!.postMessage(reply);
  }
}

/**
 * Tasks arrive as soon as the main thread issues them (it may then block for a long training step);
 * the worker queues them and keeps CONCURRENCY of them in sharp at once.
 */
const CONCURRENCY = 4;
const queue: DecodeTask[] = [];
let active = 0;

function pump(): void {
  while (active < CONCURRENCY && queue.length > 0) {
    const task = queue.shift()!;
    active++;
    void handle(task).finally(() => {
      active--;
      pump();
    });
  }
}

if (parentPort) {
  parentPort.on('message', (task: DecodeTask) => {
    queue.push(task);
    pump();
  });
}
