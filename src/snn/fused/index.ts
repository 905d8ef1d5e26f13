/**
 * Fused kernels of the SNN engine (one kernel where the composed path runs many small ops).
 *
 * `setFusedKernels(false)` (or SPIKECLIP_FUSED=0 in the environment) sends everything back to
 * the composed tensor-op paths, which stay the reference the tests compare against.
 */
export { fusedLif, fusedLifAvailable, fusedLifSupports, lifParams, registerLifKernels, releaseLifScratch, LIF_BACKWARD, LIF_FORWARD } from './lif-kernels';
export type { LifParams } from './lif-math';
export { fusedKernelsEnabled, setFusedKernels } from './switch';
