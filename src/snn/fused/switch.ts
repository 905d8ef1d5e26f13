/**
 * The process-wide switch between fused kernels and composed ops (for tests and benchmarks
 * that compare the two). On by default; SPIKECLIP_FUSED=0 turns it off at start-up.
 */
let enabled = process.env.SPIKECLIP_FUSED !== '0';

/** Turns the fused kernels on or off; returns the previous setting. */
export function setFusedKernels(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

export function fusedKernelsEnabled(): boolean {
  return enabled;
}
