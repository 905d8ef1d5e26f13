/**
 * One optimisation step: forward in training mode, loss, gradients of the trainable
 * parameters, optimiser update. Leak-free: everything but the returned number is disposed.
 *
 * The pieces are separate so that the training loop can accumulate gradients over several
 * micro-batches (`--grad-accum N`): `computeGradients` per micro-batch, `GradientAccumulator`
 * to sum them, one `Adam.applyGradients` with the mean.
 */
import { BadInputError } from '../errors';
import * as tf from '../tf';
import type { Module } from '../snn/module';
import type { Adam } from './optimizer';

/** Named trainable variables (what `Module.namedParameters()` returns), possibly a subset of a model. */
export type ParamList = [string, tf.Variable][];

export class NonFiniteLossError extends BadInputError {
  constructor(readonly value: number, readonly step: number) {
    super(`the loss became ${value} at step ${step}; nothing was updated (lower the learning rate, or check the data for NaN/Inf)`, 'E_NON_FINITE_LOSS');
    this.name = 'NonFiniteLossError';
  }
}

function paramsOf(m: Module | ParamList): ParamList {
  return Array.isArray(m) ? m : m.namedParameters();
}

/**
 * The loss value and the gradients (by parameter name) of `lossFn` with respect to `params`.
 * Throws NonFiniteLossError (nothing allocated is left behind) when the loss is NaN or infinite;
 * `step` is the step number named in that error. The caller owns the returned gradients.
 */
export function computeGradients(params: ParamList, lossFn: () => tf.Scalar, step: number): { loss: number; grads: Map<string, tf.Tensor> } {
  const vars = params.map(([, v]) => v);
  const { value, grads } = tf.variableGrads(lossFn, vars);
  const loss = value.dataSync()[0];
  value.dispose();
  if (!Number.isFinite(loss)) {
    tf.dispose(grads);
    throw new NonFiniteLossError(loss, step);
  }
  const byName = new Map<string, tf.Tensor>();
  for (const [name, v] of params) {
    const g = grads[v.name];
    if (g) byName.set(name, g);
  }
  // gradients of variables not in `params` cannot occur (variableGrads only returns those asked for)
  return { loss, grads: byName };
}

/**
 * Computes `lossFn()` (which must run the model in training mode), its gradients with respect to
 * the trainable parameters (of a module, or an explicit subset), and applies them with
 * `optimizer` (constructed over the same names). Throws NonFiniteLossError, without updating
 * anything, when the loss is NaN or infinite. Returns the loss value.
 */
export function trainStep(module: Module | ParamList, optimizer: Adam, lossFn: () => tf.Scalar): number {
  const { loss, grads } = computeGradients(paramsOf(module), lossFn, optimizer.step + 1);
  try {
    optimizer.applyGradients(grads);
    return loss;
  } finally {
    tf.dispose([...grads.values()]);
  }
}

/** Sums gradients over micro-batches; `mean()` hands out the average and resets. */
export class GradientAccumulator {
  private sums = new Map<string, tf.Tensor>();
  private n = 0;

  get count(): number {
    return this.n;
  }

  /** Adds (and disposes) one micro-batch's gradients, weighted by `weight` (its share of the batch). */
  add(grads: Map<string, tf.Tensor>, weight = 1): void {
    for (const [name, g] of grads) {
      const prev = this.sums.get(name);
      const next = tf.tidy(() => (prev ? tf.add(prev, weight === 1 ? g : tf.mul(g, weight)) : weight === 1 ? g.clone() : tf.mul(g, weight)));
      prev?.dispose();
      g.dispose();
      this.sums.set(name, next);
    }
    this.n++;
  }

  /** The accumulated sum divided by `divisor` (the caller disposes the returned tensors). */
  take(divisor: number): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, s] of this.sums) {
      out.set(name, divisor === 1 ? s : tf.tidy(() => tf.div(s, divisor)));
      if (divisor !== 1) s.dispose();
    }
    this.sums = new Map();
    this.n = 0;
    return out;
  }

  dispose(): void {
    tf.dispose([...this.sums.values()]);
    this.sums.clear();
    this.n = 0;
  }
}
