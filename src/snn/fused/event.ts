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
 * `spikeMatMul` / `spikeConv2d` are what layers call; they return null where the event path does
 * not apply (another backend, or switched off). Under a gradient tape (wasm only) they run the
 * event-driven forward with the dense gradient.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { hostKernel } from '../../backend/kernels/host-io';
import { builtin, WasmBackendLike, withOps } from '../../backend/kernels/wasm-ops';
import { simdKernels } from '../../backend/simd/instance';
import { fusedKernelsEnabled } from './switch';

export const SPIKE_MATMUL = 'SpikeclipSpikeMatMul';
export const SPIKE_CONV = 'SpikeclipSpikeConv2D';
export const SPIKE_TMATMUL = 'SpikeclipSpikeTMatMul';
export const SPIKE_CONV_FILTER_GRAD = 'SpikeclipSpikeConvFilterGrad';

/** Tuning and counters of the event-driven path (mutable: benchmarks and tests set them). */
export const eventDriven = {
  /** Off with SPIKECLIP_EVENT=0. */
  enabled: process.env.SPIKECLIP_EVENT !== '0',
  /**
   * Highest firing rate at which the event path runs; above it the dense product is faster.
   * Measured crossover on the encoder's shapes (docs/performance.md): about 0.3 against
   * XNNPACK on 2 threads (the event kernel runs on one); 0.25 keeps a margin.
   */
  maxRate: 0.25,
  /**
   * Also in training: the forward product runs event-driven (the same bits as the dense one),
   * dX = dY Wᵀ dense and dW = Sᵀ dY event-driven (for convolutions: the input gradient dense,
   * the filter gradient event-driven).
   * Off with SPIKECLIP_EVENT_TRAIN=0.
   */
  training: process.env.SPIKECLIP_EVENT_TRAIN !== '0',
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

interface SpikeConvAttrs {
  maxRate: number;
  pad: number;
}

function denseConvWasm(backend: unknown, x: TensorInfo, w: TensorInfo, pad: number): TensorInfo {
  return withOps(backend as WasmBackendLike, (ops) =>
    ops.keep(
      ops.conv2d(x, w, [1, 1], [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ]),
    ),
  );
}

/** Stride-1 k x k NHWC conv of binary spikes with HWIO weights and zero padding `pad`. */
function spikeConvWasm({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const w = inputs.w as TensorInfo;
  const { maxRate, pad } = attrs as unknown as SpikeConvAttrs;
  const [B, H, W, Ci] = x.shape;
  const [k, , , Co] = w.shape;
  const k2 = simdKernels(backend, 'spike');
  const n = B * H * W * Ci;
  if (!k2 || n === 0) return denseConvWasm(backend, x, w, pad);
  const spikes = k2.exports.count_spikes(k2.offset(x.dataId), n);
  if (spikes < 0 || spikes > maxRate * n) {
    eventDriven.stats.dense++;
    return denseConvWasm(backend, x, w, pad);
  }
  const OH = H + 2 * pad - k + 1;
  const OW = W + 2 * pad - k + 1;
  const out = (backend as WasmBackendLike).makeOutput([B, OH, OW, Co], 'float32');
  const idx = k2.malloc(Math.max(4, k * k * Ci * 4));
  try {
    k2.exports.spike_conv(k2.offset(x.dataId), k2.offset(w.dataId), k2.offset(out.dataId), B, H, W, Ci, Co, k, pad, idx);
  } finally {
    k2.free(idx);
  }
  eventDriven.stats.event++;
  return out;
}

/** sᵀ dy for binary s [M, K], dy [M, N] -> [K, N]: the weight gradient of a spike-input layer. */
function spikeTMatMulWasm({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const s = inputs.s as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const maxRate = Number((attrs as { maxRate?: number } | undefined)?.maxRate ?? eventDriven.maxRate);
  const [M, K] = s.shape;
  const N = dy.shape[1];
  const k = simdKernels(backend, 'spike');
  const dense = () => withOps(backend as WasmBackendLike, (ops) => ops.keep(ops.matMul2d(ops.transpose(s, [1, 0]), dy)));
  if (!k || M * K === 0) return dense();
  const spikes = k.exports.count_spikes(k.offset(s.dataId), M * K);
  if (spikes < 0 || spikes > maxRate * M * K) {
    eventDriven.stats.dense++;
    return dense();
  }
  const out = (backend as WasmBackendLike).makeOutput([K, N], 'float32');
  k.exports.spike_tmatmul(k.offset(s.dataId), k.offset(dy.dataId), k.offset(out.dataId), M, K, N, 0);
  eventDriven.stats.event++;
  return out;
}

/** Filter gradient [k, k, Ci, Co] of a stride-1 convolution of binary spikes x [B, H, W, Ci], from dy. */
function spikeConvFilterGradWasm({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { maxRate, pad, k: ks } = attrs as unknown as SpikeConvAttrs & { k: number };
  const [B, H, W, Ci] = x.shape;
  const Co = dy.shape[3];
  const kern = simdKernels(backend, 'spike');
  const n = B * H * W * Ci;
  const dense = () => {
    const kf = builtin(tf.Conv2DBackpropFilter);
    const mine = tf.getKernel(tf.Conv2DBackpropFilter, 'wasm');
    const f = (mine ?? kf) as KernelConfig;
    return (f.kernelFunc as KernelFunc)({
      inputs: { x, dy },
      backend: backend as {},
      attrs: { strides: [1, 1], pad, dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, filterShape: [ks, ks, Ci, Co] },
    }) as TensorInfo;
  };
  if (!kern || n === 0) return dense();
  const spikes = kern.exports.count_spikes(kern.offset(x.dataId), n);
  if (spikes < 0 || spikes > maxRate * n) {
    eventDriven.stats.dense++;
    return dense();
  }
  const out = (backend as WasmBackendLike).makeOutput([ks, ks, Ci, Co], 'float32');
  const idx = kern.malloc(Math.max(16, Ci * 4));
  try {
    kern.exports.spike_conv_filter_grad(kern.offset(x.dataId), kern.offset(dy.dataId), kern.offset(out.dataId), B, H, W, Ci, Co, ks, pad, idx);
  } finally {
    kern.free(idx);
  }
  eventDriven.stats.event++;
  return out;
}

export const EVENT_KERNELS: readonly KernelConfig[] = [
  { kernelName: SPIKE_CONV_FILTER_GRAD, backendName: 'wasm', kernelFunc: spikeConvFilterGradWasm as unknown as KernelFunc },
  { kernelName: SPIKE_TMATMUL, backendName: 'wasm', kernelFunc: spikeTMatMulWasm as unknown as KernelFunc },
  { kernelName: SPIKE_CONV, backendName: 'wasm', kernelFunc: spikeConvWasm as unknown as KernelFunc },
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

const spikeMatMulGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [s, w] = args as tf.Tensor[];
  (args[2] as unknown as tf.GradSaveFunc)([s, w]);
  return {
    value: tf.engine().runKernel(SPIKE_MATMUL, { s, w }, { maxRate: eventDriven.maxRate }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.matMul(dy, saved[1], false, true),
      tf.engine().runKernel(SPIKE_TMATMUL, { s: saved[0], dy }, { maxRate: eventDriven.maxRate }) as tf.Tensor,
    ],
  };
});

const convGrads = new Map<number, (x: tf.Tensor, w: tf.Tensor) => tf.Tensor>();
function spikeConvGrad(pad: number): (x: tf.Tensor, w: tf.Tensor) => tf.Tensor {
  let f = convGrads.get(pad);
  if (f) return f;
  const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w] = args as tf.Tensor[];
    (args[2] as unknown as tf.GradSaveFunc)([x, w]);
    return {
      value: tf.engine().runKernel(SPIKE_CONV, { x, w }, { maxRate: eventDriven.maxRate, pad }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved;
        const common = { strides: [1, 1], pad, dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string };
        return [
          tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: sw }, { ...common, inputShape: sx.shape }) as tf.Tensor,
          tf.engine().runKernel(SPIKE_CONV_FILTER_GRAD, { x: sx, dy }, { maxRate: eventDriven.maxRate, pad, k: sw.shape[0] }) as tf.Tensor,
        ];
      },
    };
  });
  f = (x, w) => g(x, w);
  convGrads.set(pad, f);
  return f;
}

/**
 * Stride-1 convolution of binary spikes x [B, H, W, Ci] with w [k, k, Ci, Co] and zero padding
 * `pad` on every side, on the event-driven path (wasm only), or null where it does not apply.
 * Under a gradient tape (training) its gradient is the dense convolution's.
 */
export function spikeConv2d(x: tf.Tensor4D, w: tf.Tensor4D, pad: number, maxRate?: number): tf.Tensor4D | null {
  if (!eventDriven.enabled || !fusedKernelsEnabled() || tf.getBackend() !== 'wasm') return null;
  const training = tapeOn();
  if (training && (!eventDriven.training || maxRate !== undefined)) return null;
  if (x.dtype !== 'float32' || w.dtype !== 'float32' || x.rank !== 4 || w.rank !== 4) return null;
  const [k, kw, ci] = w.shape;
  if (k !== kw || ci !== x.shape[3] || !Number.isInteger(pad) || pad < 0 || x.shape[1] + 2 * pad < k || x.shape[2] + 2 * pad < k) return null;
  registerEventKernels();
  if (training) return spikeConvGrad(pad)(x, w) as tf.Tensor4D;
  return tf.engine().runKernel(SPIKE_CONV, { x, w }, { maxRate: maxRate ?? eventDriven.maxRate, pad }) as tf.Tensor4D;
}

/**
 * s [M, K] (binary spikes) x w [K, N] on the event-driven path, or null where it does not apply
 * (then the caller runs tf.matMul). `maxRate` overrides eventDriven.maxRate.
 */
export function spikeMatMul(s: tf.Tensor2D, w: tf.Tensor2D, maxRate?: number): tf.Tensor2D | null {
  if (!eventDriven.enabled || !fusedKernelsEnabled()) return null;
  const training = tapeOn();
  if (training && (!eventDriven.training || maxRate !== undefined || tf.getBackend() !== 'wasm')) return null;
  if (s.dtype !== 'float32' || w.dtype !== 'float32' || s.rank !== 2 || w.rank !== 2 || s.shape[1] !== w.shape[0]) return null;
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return null;
  registerEventKernels();
  if (training) return spikeMatMulGrad(s, w) as tf.Tensor2D;
  return tf.engine().runKernel(SPIKE_MATMUL, { s, w }, { maxRate: maxRate ?? eventDriven.maxRate }) as tf.Tensor2D;
}
