/**
 * Fused multi-step LIF / IF neuron: one kernel over all T steps instead of ~10 tensor ops per
 * step, and one kernel for the whole backward pass (BPTT with the surrogate derivative).
 *
 * - `SpikeclipLifForward`: x [T, ...] -> spikes [T, ...] (float32 0/1).
 * - `SpikeclipLifBackward`: (dy, x) -> dx, recomputing the membrane from x.
 * Both are registered for the wasm and the pure-JS cpu backends (JS loops over the backends'
 * Float32Arrays, see src/backend/kernels/host-io.ts) and wrapped in a tf.customGrad whose
 * gradient is the backward kernel; only x is saved for the backward (the same memory as the
 * composed path's smallest saved tensor, and far less than its per-step intermediates).
 *
 * MultiStepNeuron uses this automatically for `lif` and `if` neurons (every surrogate, hard and
 * soft reset, detachReset on and off) on the backends that have the kernels; PLIF (a learnable
 * decay) stays on the composed path. The composed path is the oracle of the tests.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { HOST_KERNEL_BACKENDS, hostKernel, Scratch } from '../../backend/kernels/host-io';
import type { WasmBackendLike } from '../../backend/kernels/wasm-ops';
import { simdKernels, type SimdKernels } from '../../backend/simd/instance';
import type { NeuronConfig } from '../neuron-config';
import { lifBackward, lifBackwardScratchSize, lifForward, type LifParams } from './lif-math';

export const LIF_FORWARD = 'SpikeclipLifForward';
export const LIF_BACKWARD = 'SpikeclipLifBackward';

const scratch = new Scratch();

function params(attrs: NamedAttrMap | undefined): LifParams {
  return attrs as unknown as LifParams;
}

/** [T, N] of a [T, ...] shape. */
function tn(shape: number[]): [number, number] {
  const T = shape[0];
  const N = shape.slice(1).reduce((p, v) => p * v, 1);
  return [T, N];
}

/** Use the SIMD module (src/backend/simd/lif.wat) on wasm (for tests and benchmarks: switchable). */
export const lifSimd = { enabled: true };

function simdFor(backend: unknown): SimdKernels | null {
  return lifSimd.enabled ? simdKernels(backend, 'lif') : null;
}

function forwardKernel({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const [T, N] = tn(x.shape);
  const p = params(attrs);
  const k = simdFor(backend);
  if (k) {
    const be = backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, 'float32');
    const v = k.malloc(Math.max(16, N * 4 + 16));
    try {
      k.exports.lif_forward(k.offset(x.dataId), k.offset(out.dataId), v, T, N, p.kind === 'lif' ? Math.fround(p.decay) : 1, p.vThreshold, p.vReset, p.kind === 'lif' ? 1 : 0, p.hardReset ? 1 : 0);
    } finally {
      k.free(v);
    }
    return out;
  }
  const [out] = hostKernel(backend, [x], [x.shape], ([xv], [sv]) => {
    lifForward(p, xv, sv, T, N, scratch.get(N));
  });
  return out;
}

function backwardKernel({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const dy = inputs.dy as TensorInfo;
  const x = inputs.x as TensorInfo;
  const [T, N] = tn(x.shape);
  const p = params(attrs);
  const k = p.surrogate === 'sigmoid' && N % 4 === 0 ? simdFor(backend) : null;
  if (k) {
    const be = backend as WasmBackendLike;
    const out = be.makeOutput(x.shape, 'float32');
    const h = k.malloc(Math.max(16, T * N * 4));
    const dv = k.malloc(Math.max(16, N * 4));
    try {
      k.exports.lif_backward(
        k.offset(dy.dataId), k.offset(x.dataId), k.offset(out.dataId), h, dv, T, N,
        p.kind === 'lif' ? Math.fround(p.decay) : 1, p.vThreshold, p.vReset, p.alpha,
        p.kind === 'lif' ? 1 : 0, p.hardReset ? 1 : 0, p.detachReset ? 1 : 0,
      );
    } finally {
      k.free(dv);
      k.free(h);
    }
    return out;
  }
  const [out] = hostKernel(backend, [dy, x], [x.shape], ([dyv, xv], [dxv]) => {
    lifBackward(p, dyv, xv, dxv, T, N, scratch.get(lifBackwardScratchSize(T)));
  });
  return out;
}

export const LIF_KERNELS: readonly KernelConfig[] = HOST_KERNEL_BACKENDS.flatMap((backendName) => [
  { kernelName: LIF_FORWARD, backendName, kernelFunc: forwardKernel as KernelFunc },
  { kernelName: LIF_BACKWARD, backendName, kernelFunc: backwardKernel as KernelFunc },
]);

/** Registers the fused neuron kernels for wasm and cpu (idempotent). */
export function registerLifKernels(): void {
  for (const k of LIF_KERNELS) {
    if (!tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
  }
}

/** Whether the fused path handles this neuron setting (PLIF does not). */
export function fusedLifSupports(cfg: NeuronConfig): boolean {
  return cfg.kind === 'lif' || cfg.kind === 'if';
}

/** The kernel attributes of a neuron setting. */
export function lifParams(cfg: NeuronConfig): LifParams {
  if (!fusedLifSupports(cfg)) throw new Error(`fused neuron: ${cfg.kind} is not supported`);
  return {
    kind: cfg.kind as 'lif' | 'if',
    decay: cfg.kind === 'lif' ? 1 / cfg.tau : 1,
    vThreshold: cfg.vThreshold,
    hardReset: cfg.vReset !== null,
    vReset: cfg.vReset ?? 0,
    detachReset: cfg.detachReset,
    surrogate: cfg.surrogate.name,
    alpha: cfg.surrogate.alpha,
  };
}

/**
 * The fused spike function of a neuron setting: x [T, ...] (float32, rank >= 2) -> spikes,
 * differentiable with respect to x. Call `fusedLifAvailable()` first.
 */
export function fusedLif(cfg: NeuronConfig): (x: tf.Tensor) => tf.Tensor {
  registerLifKernels();
  const attrs = lifParams(cfg) as unknown as NamedAttrMap;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([x]);
    const value = tf.engine().runKernel(LIF_FORWARD, { x }, attrs) as tf.Tensor;
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(LIF_BACKWARD, { dy: dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32'), x: saved[0] }, attrs) as tf.Tensor,
    };
  });
  return (x) => f(x);
}

/** Whether the active backend has the fused kernels. */
export function fusedLifAvailable(): boolean {
  return (HOST_KERNEL_BACKENDS as readonly string[]).includes(tf.getBackend());
}

/** Frees the kernels' scratch memory (it grows to the largest layer seen). */
export function releaseLifScratch(): void {
  scratch.release();
}
