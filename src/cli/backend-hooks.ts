/**
 * What runs right after a backend is chosen: custom kernels and gradients (training on wasm
 * needs them). Kept apart so that commands that never compute do not load them.
 */
import type { BackendSetupHook } from '../backend';

export function installBackendHooks(): BackendSetupHook[] {
  const hooks: BackendSetupHook[] = [];
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../backend/gradients') as { installTrainingKernels?: BackendSetupHook };
    if (mod.installTrainingKernels) hooks.push(mod.installTrainingKernels);
  } catch {
    /* gradients module not built: training on wasm is then unavailable, inference still works */
  }
  return hooks;
}
