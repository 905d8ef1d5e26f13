/**
 * Multi-step spiking neurons (spikingjelly `activation_based/neuron.py`, step_mode='m',
 * decay_input=True): LIF, IF and PLIF over inputs shaped [T, B, ...].
 *
 * For t = 0..T-1, with V[-1] = V_init (see below), V_th = vThreshold, V_reset = vReset:
 *   charge  IF:        H[t] = V[t-1] + X[t]
 *           LIF/PLIF:  H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset)) / tau   (hard reset)
 *                      H[t] = V[t-1] + (X[t] - V[t-1]) / tau               (soft reset)
 *           PLIF: 1/tau = sigmoid(w), w a learnable scalar, w0 = -ln(tau0 - 1)
 *   fire    S[t] = Heaviside(H[t] - V_th)  (surrogate gradient in backward)
 *   reset   hard: V[t] = H[t] (1 - S') + V_reset S'
 *           soft: V[t] = H[t] - V_th S'
 *           S' = stopGradient(S[t]) with detachReset, else S[t]
 *
 * State is never kept on the object: every forward starts from V_init, which is spikingjelly's
 * initial membrane: V_reset for a hard reset, 0 for a soft reset (0 in both cases with the
 * default V_reset = 0).
 */
import * as tf from '../tf';
import { Module, type ForwardContext } from './module';
import { DEFAULT_NEURON, NEURON_KINDS, type NeuronConfig, type NeuronKind } from './neuron-config';
import { describeValue, NeuronConfigError, spikeFn, validateSurrogate } from './surrogate';
import { fusedLif, fusedLifAvailable, fusedLifSupports } from './fused/lif-kernels';
import { fusedKernelsEnabled } from './fused/switch';

/** Spikes together with the membrane sequences, all shaped like the input [T, B, ...]. */
export interface NeuronTrace {
  spikes: tf.Tensor;
  /** Membrane potential after charging, before firing and reset (spikingjelly's h_seq). */
  h: tf.Tensor;
  /** Membrane potential after the reset (spikingjelly's v_seq). */
  v: tf.Tensor;
}

/** Identity in forward, zero gradient in backward (PyTorch's `detach`). */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = (() => {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return (x: tf.Tensor) => f(x);
})();

export class MultiStepNeuron extends Module {
  readonly config: Readonly<NeuronConfig>;
  /** PLIF's learnable scalar (1/tau = sigmoid(w)); null for LIF and IF. */
  readonly w: tf.Variable | null;
  private readonly fire: (x: tf.Tensor) => tf.Tensor;
  /** The fused one-kernel path (src/snn/fused) for LIF and IF; null for PLIF. */
  private readonly fused: ((x: tf.Tensor) => tf.Tensor) | null;

  constructor(cfg: NeuronConfig) {
    super();
    this.config = Object.freeze({ ...validateNeuronConfig(cfg) });
    this.fire = spikeFn(this.config.surrogate);
    this.fused = fusedLifSupports(this.config) ? fusedLif(this.config) : null;
    this.w = this.config.kind === 'plif' ? this.addParam('w', tf.scalar(-Math.log(this.config.tau - 1) || 0)) : null;
  }

  /**
   * Spikes for input x [T, B, ...] (same shape, float32 0/1). LIF and IF run the fused kernels
   * (src/snn/fused) where the backend has them, unless they are switched off; the result and
   * its gradient equal the composed path's (`forwardComposed`).
   */
  forward(x: tf.Tensor, ctx?: ForwardContext): tf.Tensor {
    void ctx; // neurons have no training/inference difference and no synaptic operations to report
    const fused = this.fused;
    if (fused && x.rank >= 2 && fusedKernelsEnabled() && fusedLifAvailable()) {
      return tf.tidy(() => fused(x.dtype === 'float32' ? x : tf.cast(x, 'float32')));
    }
    return this.forwardComposed(x);
  }

  /** `forward` on the composed tensor-op path (the reference of the fused kernels). */
  forwardComposed(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.simulate(x, false).spikes);
  }

  /** Like `forward`, but also returns the membrane sequences H (charged) and V (after reset). */
  forwardTrace(x: tf.Tensor): NeuronTrace {
    return tf.tidy(() => {
      const r = this.simulate(x, true);
      return { spikes: r.spikes, h: r.h as tf.Tensor, v: r.v as tf.Tensor };
    });
  }

  /** The current 1/tau: a number for LIF, a scalar tensor for PLIF, null for IF. Call inside a tidy. */
  private decay(): number | tf.Tensor | null {
    switch (this.config.kind) {
      case 'if':
        return null;
      case 'lif':
        return 1 / this.config.tau;
      case 'plif':
        return tf.sigmoid(this.w as tf.Variable);
    }
  }

  private simulate(xIn: tf.Tensor, trace: boolean): { spikes: tf.Tensor; h?: tf.Tensor; v?: tf.Tensor } {
    if (xIn.rank < 2) {
      throw new NeuronConfigError(`MultiStepNeuron expects input [T, B, ...] (rank >= 2), got shape [${xIn.shape.join(', ')}]`);
    }
    const x = xIn.dtype === 'float32' ? xIn : tf.cast(xIn, 'float32');
    const { vThreshold, vReset, detachReset } = this.config;
    const k = this.decay();
    const xs = tf.unstack(x, 0);
    const spikes: tf.Tensor[] = [];
    const hs: tf.Tensor[] = [];
    const vs: tf.Tensor[] = [];
    let v: tf.Tensor | number = vReset ?? 0;
    for (const xt of xs) {
      // charge
      let h: tf.Tensor;
      if (k === null) {
        h = tf.add(xt, v);
      } else {
        const leak = vReset === null || vReset === 0 ? tf.sub(xt, v) : tf.sub(xt, tf.sub(v, vReset));
        h = tf.add(tf.mul(leak, k), v);
      }
      // fire
      const s = this.fire(tf.sub(h, vThreshold));
      // reset
      const sr = detachReset ? stopGradient(s) : s;
      if (vReset === null) {
        v = tf.sub(h, tf.mul(sr, vThreshold));
      } else if (vReset === 0) {
        v = tf.mul(h, tf.sub(1, sr));
      } else {
        v = tf.add(tf.mul(h, tf.sub(1, sr)), tf.mul(sr, vReset));
      }
      spikes.push(s);
      if (trace) {
        hs.push(h);
        vs.push(v);
      }
    }
    const out: { spikes: tf.Tensor; h?: tf.Tensor; v?: tf.Tensor } = { spikes: tf.stack(spikes, 0) };
    if (trace) {
      out.h = tf.stack(hs, 0);
      out.v = tf.stack(vs, 0);
    }
    return out;
  }
}

const NEURON_KEYS = ['kind', 'tau', 'vThreshold', 'vReset', 'detachReset', 'surrogate'] as const;

/**
 * Validates a neuron setting, merging it over DEFAULT_NEURON (LIF, tau 2, V_th 1, hard reset
 * to 0, detachReset, sigmoid alpha 4). `where` names the setting in error messages
 * (e.g. `image.neuron`). Unknown keys are rejected so that typos do not pass silently.
 * The number of time steps T is not part of this config (callers own it).
 */
export function validateNeuronConfig(partial: unknown, where = 'neuron'): NeuronConfig {
  if (partial === undefined || partial === null) return { ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } };
  if (typeof partial !== 'object' || Array.isArray(partial)) {
    throw new NeuronConfigError(`${where}: expected an object, got ${describeValue(partial)}`);
  }
  const p = partial as Record<string, unknown>;
  const unknownKeys = Object.keys(p).filter((key) => !(NEURON_KEYS as readonly string[]).includes(key));
  if (unknownKeys.length > 0) {
    throw new NeuronConfigError(
      `${where}: unknown key${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map((key) => `"${key}"`).join(', ')} (allowed: ${NEURON_KEYS.join(', ')})`,
    );
  }

  const kind = p.kind === undefined ? DEFAULT_NEURON.kind : p.kind;
  if (typeof kind !== 'string' || !(NEURON_KINDS as readonly string[]).includes(kind)) {
    throw new NeuronConfigError(`${where}.kind: unknown neuron ${describeValue(kind)}; choose one of ${NEURON_KINDS.join(', ')}`);
  }

  const tau = p.tau === undefined ? DEFAULT_NEURON.tau : p.tau;
  if (typeof tau !== 'number' || !Number.isFinite(tau)) {
    throw new NeuronConfigError(`${where}.tau: must be a finite number, got ${describeValue(tau)}`);
  }
  if ((kind === 'lif' || kind === 'plif') && !(tau > 1)) {
    throw new NeuronConfigError(`${where}.tau: must be > 1 for ${kind.toUpperCase()} (1/tau is the leak per step), got ${tau}`);
  }

  const vThreshold = p.vThreshold === undefined ? DEFAULT_NEURON.vThreshold : p.vThreshold;
  if (typeof vThreshold !== 'number' || !Number.isFinite(vThreshold)) {
    throw new NeuronConfigError(`${where}.vThreshold: must be a finite number, got ${describeValue(vThreshold)}`);
  }

  const vReset = p.vReset === undefined ? DEFAULT_NEURON.vReset : p.vReset;
  if (vReset !== null && (typeof vReset !== 'number' || !Number.isFinite(vReset))) {
    throw new NeuronConfigError(`${where}.vReset: must be a finite number or null (soft reset), got ${describeValue(vReset)}`);
  }

  const detachReset = p.detachReset === undefined ? DEFAULT_NEURON.detachReset : p.detachReset;
  if (typeof detachReset !== 'boolean') {
    throw new NeuronConfigError(`${where}.detachReset: must be true or false, got ${describeValue(detachReset)}`);
  }

  const surrogate = validateSurrogate(p.surrogate, `${where}.surrogate`);
  return { kind: kind as NeuronKind, tau, vThreshold, vReset, detachReset, surrogate };
}
