/**
 * One Spikingformer block on the real-valued residual stream x [T, B, N, C]:
 *   x = x + attn(x); x = x + mlp(x)
 * Children `attn` (SpikingSelfAttention) and `mlp` (SpikingMLP), as in the reference.
 */
import * as tf from '../../tf';
import { Module, type ForwardContext } from '../module';
import type { NeuronConfig } from '../neuron-config';
import { InitRng, joinName } from './init';
import { SpikingMLP } from './spiking-mlp';
import { SpikingSelfAttention } from './spiking-self-attention';

export interface SpikingBlockOptions {
  /** Dotted name used in monitor records, e.g. `image.block.0`. */
  name: string;
  dim: number;
  heads: number;
  mlpHidden: number;
  neuron: NeuronConfig;
  attnThreshold?: number;
  attnScale?: number;
  rng?: InitRng;
}

export class SpikingBlock extends Module {
  readonly attn: SpikingSelfAttention;
  readonly mlp: SpikingMLP;

  constructor(o: SpikingBlockOptions) {
    super();
    const rng = o.rng ?? new InitRng();
    this.attn = this.addModule(
      'attn',
      new SpikingSelfAttention({ name: joinName(o.name, 'attn'), dim: o.dim, heads: o.heads, neuron: o.neuron, attnThreshold: o.attnThreshold, attnScale: o.attnScale, rng }),
    );
    this.mlp = this.addModule('mlp', new SpikingMLP({ name: joinName(o.name, 'mlp'), dim: o.dim, hidden: o.mlpHidden, neuron: o.neuron, rng }));
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const y = tf.add(x, this.attn.forward(x, ctx));
      return tf.add(y, this.mlp.forward(y, ctx));
    });
  }
}
