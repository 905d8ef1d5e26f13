/**
 * Batch normalisation over the last (channel) axis of [N, ..., C] tensors, with PyTorch's
 * semantics (nn.BatchNorm1d/2d, affine, track_running_stats):
 *
 * - training: normalise with the batch mean and the BIASED batch variance (over every axis but
 *   the last), then update running_mean <- (1 - m) running_mean + m mean and
 *   running_var <- (1 - m) running_var + m var_unbiased, var_unbiased = var * n / (n - 1);
 * - inference: normalise with running_mean and running_var.
 * y = (x - mean) / sqrt(var + eps) * weight + bias. Defaults eps 1e-5, momentum 0.1.
 *
 * PyTorch's `num_batches_tracked` is not stored (with a fixed momentum it changes nothing);
 * the PyTorch exporter writes it as 0.
 */
import * as tf from '../../tf';
import { Module, ModuleError, type ForwardContext } from '../module';
import { fusedBatchNorm, fusedBatchNormAvailable } from '../fused/batch-norm';
import { fusedKernelsEnabled } from '../fused/switch';

export interface BatchNormOptions {
  eps?: number;
  momentum?: number;
}

export class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new ModuleError(`BatchNorm: numFeatures must be a positive integer, got ${numFeatures}`);
    this.numFeatures = numFeatures;
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    this.weight = this.addParam('weight', tf.ones([numFeatures]));
    this.bias = this.addParam('bias', tf.zeros([numFeatures]));
    this.runningMean = this.addBuffer('running_mean', tf.zeros([numFeatures]));
    this.runningVar = this.addBuffer('running_var', tf.ones([numFeatures]));
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const c = this.numFeatures;
    if (x.rank < 2 || x.shape[x.rank - 1] !== c) {
      throw new ModuleError(`BatchNorm: expected input [N, ..., ${c}], got [${x.shape.join(', ')}]`);
    }
    if (!ctx.training) {
      return tf.tidy(() => this.normalise(x, this.runningMean, this.runningVar));
    }
    const n = x.size / c;
    if (n < 2) throw new ModuleError(`BatchNorm: expected more than 1 value per channel when training, got input [${x.shape.join(', ')}]`);
    if (fusedKernelsEnabled() && fusedBatchNormAvailable() && x.dtype === 'float32') {
      // one pass for the statistics, one for y, two for the gradient; keeps only x (src/snn/fused/batch-norm.ts)
      return tf.tidy(() => {
        const r = fusedBatchNorm(x, this.weight, this.bias, this.eps);
        this.updateRunning(r.mean, r.variance, n);
        return r.y;
      });
    }
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    return tf.tidy(() => {
      const mean = tf.mean(x, axes);
      const variance = tf.mean(tf.square(tf.sub(x, mean)), axes);
      this.updateRunning(mean, variance, n);
      return this.normalise(x, mean, variance);
    });
  }

  private normalise(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
    const scale = tf.mul(tf.rsqrt(tf.add(variance, this.eps)), this.weight);
    return tf.add(tf.mul(tf.sub(x, mean), scale), this.bias);
  }

  /**
   * The running-stat update, in its own tidy: the new values end up owned by the variables and
   * every intermediate is freed. Under a gradient tape these few [C]-sized ops are recorded but
   * lead to no loss, so backpropagation prunes them; the variables are not trainable.
   */
  private updateRunning(mean: tf.Tensor, variance: tf.Tensor, n: number): void {
    const m = this.momentum;
    tf.tidy(() => {
      const newMean = tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m));
      const newVar = tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1)));
      this.runningMean.assign(newMean);
      this.runningVar.assign(newVar);
    });
  }
}
