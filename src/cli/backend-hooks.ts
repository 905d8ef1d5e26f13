/**
 * What runs right after a backend is chosen: our training kernels and gradients (training on
 * wasm needs them: TF.js 4.22 lacks the conv filter and embedding gradients there).
 */
import type { BackendSetupHook } from '../backend';
import { installTrainingKernels } from '../backend/gradients';

export function installBackendHooks(): BackendSetupHook[] {
  return [installTrainingKernels];
}
