/**
 * Event-driven products for layers whose input is binary spikes (Linear layers and 1x1
 * convolutions over [rows, C_in]): instead of multiplying, each output row sums the weight rows
 * of the inputs that spiked. Inference only (no gradient).
 *
 * Kernel `SpikeclipSpikeMatMul` (s [M, K] in {0, 1}, w [K, N]) -> [M, N]:
 * - wasm: counts the spikes (SIMD), and when the firing rate is at most `eventDriven.maxRate`
 *   runs the event-driven SIMD kernel of src/backend/simd/spike.wat on the backend's memory,
 *   else (or when s is not binary) the dense XNNPACK product. Both give bit-identical results:
 *   the dense kernel adds s*w over k in order, and s*w is exactly w or 0.
 * - cpu: a JS loop over the events (the reference for tests).
 * `spikeMatMul` is what layers call; it returns null where the event path does not apply
 * (training, a gradient tape recording, another backend, or switched off).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { hostKernel } from '../../backend/kernels/host-io';
import { WasmBackendLike, withOps } from '../../backend/kernels/wasm-ops';
import { simdKernels } from '../../backend/simd/instance';
import { fusedKernelsEnabled } from './switch';

export const SPIKE_MATMUL = 'SpikeclipSpikeMatMul';

/** Tuning and counters of the event-driven path (mutable: benchmarks and tests set them). */
export const eventDriven = {
  /** Off with SPIKECLIP_EVENT=0. */
  enabled: process.env.SPIKECLIP_EVENT !== '0',
  /**
   * Highest firing rate at which the event path runs; above it the dense product is faster.
   * Measured crossover on the reference shapes (docs/performance.md): about 0.3 against
   * one-threaded XNNPACK; the dense path gets the backend's threads, the event path one.
   */
  maxRate: 0.3,
  /** Calls that took each path (wasm), for tests and reports. */
  stats: { event: 0, dense: 0 },
};

function denseWasm(backend: unknown, s: TensorInfo, w: TensorInfo): TensorInfo {
  return withOps(backend as WasmBackendLike, (ops) => ops.keep(ops.matMul2d(s, w)));
}

function spikeMatMulWasm({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const s = inputs.s as TensorInfo;
  const w = inputs.w as TensorInfo;
  const maxRate = Number((attrs as { maxRate?: number } | undefined)?.maxRate ?? eventDriven.maxRate);
  const [M, K] = s.shape;
  const N = w.shape[1];
  const k = simdKernels(backend, 'spike');
  if (!k || M * K === 0) return denseWasm(backend, s, w);
  const spikes = k.exports.count_spikes(k.offset(s.dataId), M * K);
  if (spikes < 0 || spikes > maxRate * M * K) {
    eventDriven.stats.dense++;
    return denseWasm(backend, s, w);
  }
  const out = (backend as WasmBackendLike).makeOutput([M, N], 'float32');
  const idx = k.malloc(Math.max(4, K * 4));
  try {
    k.exports.spike_matmul(k.offset(s.dataId), k.offset(w.dataId), k.offset(out.dataId), M, K, N, idx);
  } finally {
    k.free(idx);
  }
  eventDriven.stats.event++;
  return out;
}

function spikeMatMulCpu({ inputs, backend }: { inputs: NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const s = inputs.s as TensorInfo;
  const w = inputs.w as TensorInfo;
  const [M, K] = s.shape;
  const N = w.shape[1];
  const [out] = hostKernel(backend, [s, w], [[M, N]], ([sv, wv], [o]) => {
    const f = Math.fround;
    o.fill(0);
    for (let m = 0; m < M; m++) {
      const orow = m * N;
      for (let kk = 0; kk < K; kk++) {
        const a = sv[m * K + kk];
        if (a === 0) continue;
        const wrow = kk * N;
        for (let n = 0; n < N; n++) o[orow + n] = f(o[orow + n] + f(a * wv[wrow + n]));
      }
    }
  });
  return out;
}

export const EVENT_KERNELS: readonly KernelConfig[] = [
  { kernelName: SPIKE_MATMUL, backendName: 'wasm', kernelFunc: spikeMatMulWasm as unknown as KernelFunc },
  { kernelName: SPIKE_MATMUL, backendName: 'cpu', kernelFunc: spikeMatMulCpu as unknown as KernelFunc },
];

export function registerEventKernels(): void {
  for (const k of EVENT_KERNELS) if (!tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
}

function tapeOn(): boolean {
  const e = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof e.isTapeOn === 'function' ? e.isTapeOn() : false;
}

/**
 * s [M, K] (binary spikes) x w [K, N] on the event-driven path, or null where it does not apply
 * (then the caller runs tf.matMul). `maxRate` overrides eventDriven.maxRate.
 */
export function spikeMatMul(s: tf.Tensor2D, w: tf.Tensor2D, maxRate?: number): tf.Tensor2D | null {
  if (!eventDriven.enabled || !fusedKernelsEnabled() || tapeOn()) return null;
  if (s.dtype !== 'float32' || w.dtype !== 'float32' || s.rank !== 2 || w.rank !== 2 || s.shape[1] !== w.shape[0]) return null;
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return null;
  registerEventKernels();
  return tf.engine().runKernel(SPIKE_MATMUL, { s, w }, { maxRate: maxRate ?? eventDriven.maxRate }) as tf.Tensor2D;
}
