/**
 * Neuron and surrogate settings as plain data (spikingjelly's vocabulary).
 * Defaults are the SpikeCLIP reference: LIF, tau 2, threshold 1, hard reset to 0,
 * detachReset, sigmoid surrogate with alpha 4.
 */
export const NEURON_KINDS = ['lif', 'if', 'plif'] as const;
export type NeuronKind = (typeof NEURON_KINDS)[number];

export const SURROGATE_NAMES = ['sigmoid', 'atan', 'fast-sigmoid', 'triangle', 'rectangular'] as const;
export type SurrogateName = (typeof SURROGATE_NAMES)[number];

export interface SurrogateConfig {
  name: SurrogateName;
  /** Shape parameter (sharpness); each surrogate documents its meaning. */
  alpha: number;
}

export interface NeuronConfig {
  kind: NeuronKind;
  /** Membrane time constant (LIF; initial value for PLIF). Ignored by IF. */
  tau: number;
  vThreshold: number;
  /** Reset potential; null = soft reset (subtract vThreshold). */
  vReset: number | null;
  /** Stop the gradient through the reset (spikingjelly's detach_reset). */
  detachReset: boolean;
  surrogate: SurrogateConfig;
}

export const DEFAULT_SURROGATE: Readonly<SurrogateConfig> = Object.freeze({ name: 'sigmoid', alpha: 4 });

export const DEFAULT_NEURON: Readonly<NeuronConfig> = Object.freeze({
  kind: 'lif',
  tau: 2,
  vThreshold: 1,
  vReset: 0,
  detachReset: true,
  surrogate: DEFAULT_SURROGATE,
});
