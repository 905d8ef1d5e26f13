/**
 * One optimisation step: forward in training mode, loss, gradients of the trainable
 * parameters, optimiser update. Leak-free: everything but the returned number is disposed.
 */
import * as tf from '@tensorflow/tfjs';
import type { Module } from '../snn/module';
import type { Adam } from './optimizer';

export class NonFiniteLossError extends Error {
  constructor(readonly value: number, readonly step: number) {
    super(`the loss became ${value} at step ${step}; nothing was updated (lower the learning rate, or check the data for NaN/Inf)`);
    this.name = 'NonFiniteLossError';
  }
}

/**
 * Computes `lossFn()` (which must run the model in training mode), its gradients with respect to
 * `module`'s trainable parameters, and applies them with `optimizer` (constructed over
 * `module.namedParameters()`). Throws NonFiniteLossError, without updating anything, when the
 * loss is NaN or infinite. Returns the loss value.
 */
export function trainStep(module: Module, optimizer: Adam, lossFn: () => tf.Scalar): number {
  const named = module.namedParameters();
  const vars = named.map(([, v]) => v);
  const { value, grads } = tf.variableGrads(lossFn, vars);
  try {
    const loss = value.dataSync()[0];
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(loss, optimizer.step + 1);
    const byName = new Map<string, tf.Tensor>();
    for (const [name, v] of named) {
      const g = grads[v.name];
      if (g) byName.set(name, g);
    }
    optimizer.applyGradients(byName);
    return loss;
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}
