/**
 * Makes training work, and run on fast paths, on the active TF.js backend.
 *
 * Use as an initBackend hook: `initBackend(opts, [installTrainingKernels])`.
 *
 * On every backend (gradients compose ops only, so they are correct everywhere):
 * - a BatchMatMul gradient that handles broadcast batch dimensions (tfjs-core's throws on
 *   e.g. [B,M,K] x [K,N]);
 * - a GatherV2 gradient for axis 0 without the identity transposes (each copies the whole
 *   dense embedding gradient).
 *
 * On wasm (tfjs-backend-wasm 4.22), kernels written in JS over the backend's own kernels:
 * - Conv2DBackpropFilter (missing: the conv weight gradient) as a forward conv / a matMul;
 * - Conv2DBackpropInput (replaced; the built-in is ~12x slower than the forward conv) as a
 *   forward conv with the reversed, transposed filter / a matMul for 1x1;
 * - BatchMatMul (replaced; transposed or batched products ran a scalar loop at 0.4-2 GFLOP/s)
 *   with explicit transposes and batch folding onto XNNPACK's fast path;
 * - UnsortedSegmentSum (missing: the gradient of gather / embedding lookups);
 * - Sum and Mean (replaced for float32 reductions over leading or middle axes: the built-in
 *   transposes the whole tensor first) as a row-by-row accumulation;
 * - MaxPoolGrad (replaced; the built-in is slow) as one JS pass;
 * - Identity (replaced; the built-in copies the data, and the engine runs it for every tensor
 *   it saves for the backward pass) sharing the data as the cpu backend's does;
 * - DepthwiseConv2dNativeBackpropFilter / -Input (missing) from elementwise ops and a
 *   depthwise conv.
 * Other backends (cpu, tensorflow) have all these kernels already and get nothing else.
 *
 * On every backend, backpropagation that frees each node's saved tensors and output gradients
 * as soon as the node is done (./frugal-backprop.ts: same gradients, a lower peak).
 *
 * Idempotent: installing twice registers nothing new.
 */
import * as tf from '../../tf';
import type { GradConfig, KernelConfig } from '../../tf';
import type { BackendInfo } from '../index';
import { batchMatMulConfig } from '../kernels/batch-matmul';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from '../kernels/conv2d-backprop';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from '../kernels/depthwise-backprop';
import { identityConfig } from '../kernels/identity';
import { meanConfig, sumConfig } from '../kernels/reduce';
import { maxPoolGradConfig } from '../kernels/max-pool-grad';
import { unsortedSegmentSumConfig } from '../kernels/segment-sum';
import { isRegistered, rememberBuiltin, replaceKernel, restoreBuiltin } from '../kernels/wasm-ops';
import { gatherGradConfig, setPreviousGatherGradient } from './gather';
import { batchMatMulGradConfig } from './matmul';
import { installFrugalBackprop, uninstallFrugalBackprop } from './frugal-backprop';

export { batchMatMulGradConfig, sumToShape } from './matmul';

/** Our wasm kernels, in registration order. */
export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  batchMatMulConfig,
  unsortedSegmentSumConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  identityConfig,
  sumConfig,
  meanConfig,
  maxPoolGradConfig,
];

/** Gradients we register for all backends. */
export const TRAINING_GRADIENTS: readonly GradConfig[] = [batchMatMulGradConfig, gatherGradConfig];

let originalGradients: Map<string, GradConfig | undefined> | undefined;

function installGradients(): void {
  if (!originalGradients) originalGradients = new Map();
  for (const g of TRAINING_GRADIENTS) {
    const current = tf.getGradient(g.kernelName);
    if (current === g) continue;
    if (!originalGradients.has(g.kernelName)) originalGradients.set(g.kernelName, current);
    if (g === gatherGradConfig) setPreviousGatherGradient(current);
    tf.registerGradient(g);
  }
}

/** Registers our wasm kernels (whether or not wasm is the active backend). Idempotent. */
export function installWasmKernels(): void {
  for (const k of WASM_TRAINING_KERNELS) {
    if (isRegistered(k)) continue;
    rememberBuiltin(k.kernelName);
    replaceKernel(k);
  }
}

/** What `installTrainingKernels` registers for a backend (TF.js registry name). */
export function trainingKernelsFor(tfName: string): { kernels: string[]; gradients: string[] } {
  return {
    kernels: tfName === 'wasm' ? WASM_TRAINING_KERNELS.map((k) => k.kernelName) : [],
    gradients: TRAINING_GRADIENTS.map((g) => g.kernelName),
  };
}

/**
 * Registers the kernels and gradients training needs on the active backend (see the module
 * comment). Usable as a BackendSetupHook. Idempotent.
 */
export function installTrainingKernels(info: Pick<BackendInfo, 'tfName'>): void {
  installGradients();
  installFrugalBackprop();
  if (info.tfName === 'wasm') installWasmKernels();
}

/**
 * Undoes `installTrainingKernels`: puts back the wasm backend's built-in kernels and
 * tfjs-core's gradients (for benchmarks that compare the two).
 */
export function uninstallTrainingKernels(): void {
  uninstallFrugalBackprop();
  for (const k of WASM_TRAINING_KERNELS) restoreBuiltin(k.kernelName, k);
  if (originalGradients) {
    for (const g of TRAINING_GRADIENTS) {
      if (tf.getGradient(g.kernelName) !== g) continue;
      const orig = originalGradients.get(g.kernelName);
      if (orig) tf.registerGradient(orig);
      else tf.unregisterGradient(g.kernelName);
    }
  }
}
