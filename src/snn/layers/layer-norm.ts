/** LayerNorm over the last axis (PyTorch nn.LayerNorm: biased variance, eps 1e-5, weight 1, bias 0). */
import * as tf from '../../tf';
import { Module, ModuleError } from '../module';

export class LayerNorm extends Module {
  readonly dim: number;
  readonly eps: number;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(dim: number, eps = 1e-5) {
    super();
    this.dim = dim;
    this.eps = eps;
    this.weight = this.addParam('weight', tf.ones([dim]));
    this.bias = this.addParam('bias', tf.zeros([dim]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.rank - 1] !== this.dim) throw new ModuleError(`LayerNorm: expected input [..., ${this.dim}], got [${x.shape.join(', ')}]`);
    return tf.tidy(() => {
      const axis = x.rank - 1;
      const mean = tf.mean(x, axis, true);
      const centred = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centred), axis, true);
      return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, this.eps))), this.weight), this.bias);
    });
  }
}
