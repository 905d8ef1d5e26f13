/**
 * The SpikeCLIP temporal readout: a learnable vector w of length T, and
 * out = sum_t w[t] * x[t] for x [T, B, D] -> [B, D]. The weights are raw multipliers (no exp, no
 * softmax, as in the reference), initialised to w[t] = ln(0.8 * 2^-(T-1-t))
 * (ln 0.1, ln 0.2, ln 0.4, ln 0.8 for T = 4). In the reference the vector is a parameter of the
 * encoder itself named `weights_tensor` (shape [1, T, 1]); the encoders here register it the same
 * way (shape [T]) and use `applyTemporalReadout`; `TemporalReadout` wraps it as a module.
 */
import * as tf from '../../tf';
import { Module, ModuleError } from '../module';

/** w[t] = ln(0.8 * 2^-(T-1-t)), t = 0..T-1. */
export function temporalReadoutInit(timeSteps: number): number[] {
  if (!Number.isInteger(timeSteps) || timeSteps < 1) throw new ModuleError(`temporal readout: T must be a positive integer, got ${timeSteps}`);
  return Array.from({ length: timeSteps }, (_, t) => Math.log(0.8 * 2 ** -(timeSteps - 1 - t)));
}

/** sum_t w[t] * x[t]: x [T, B, ...], w [T] -> [B, ...]. */
export function applyTemporalReadout(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const t = w.shape[0];
  if (w.rank !== 1 || x.shape[0] !== t) {
    throw new ModuleError(`temporal readout: expected x [${t}, B, ...] for w [${t}], got x [${x.shape.join(', ')}], w [${w.shape.join(', ')}]`);
  }
  return tf.tidy(() => tf.sum(tf.mul(x, tf.reshape(w, [t, ...x.shape.slice(1).map(() => 1)])), 0));
}

export class TemporalReadout extends Module {
  readonly timeSteps: number;
  readonly weight: tf.Variable;

  constructor(timeSteps: number, paramName = 'weights_tensor') {
    super();
    this.timeSteps = timeSteps;
    this.weight = this.addParam(paramName, tf.tensor1d(temporalReadoutInit(timeSteps)));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return applyTemporalReadout(x, this.weight);
  }
}
