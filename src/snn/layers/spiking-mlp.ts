/**
 * Spiking MLP (Spikingformer / SpikeCLIP `Vision_MLP`) on x [T, B, N, C]:
 *   LIF -> 1x1 conv C->hidden (bias) + BN -> LIF -> 1x1 conv hidden->C (bias) + BN.
 * Module names follow the reference: mlp1_lif, mlp1_conv, mlp1_bn, mlp2_lif, mlp2_conv, mlp2_bn.
 * Monitor records (kind 'ac'): `mlp1_conv` (fanOut hidden), `mlp2_conv` (fanOut C).
 */
import * as tf from '../../tf';
import { Module, ModuleError, type ForwardContext } from '../module';
import { MultiStepNeuron } from '../neuron';
import type { NeuronConfig } from '../neuron-config';
import { BatchNorm } from './batch-norm';
import { InitRng, joinName } from './init';
import { Linear } from './linear';

export interface SpikingMLPOptions {
  /** Dotted name used in monitor records, e.g. `image.block.0.mlp`. */
  name: string;
  dim: number;
  hidden: number;
  neuron: NeuronConfig;
  rng?: InitRng;
}

export class SpikingMLP extends Module {
  readonly name: string;
  readonly dim: number;
  readonly hidden: number;
  readonly mlp1_lif: MultiStepNeuron;
  readonly mlp1_conv: Linear;
  readonly mlp1_bn: BatchNorm;
  readonly mlp2_lif: MultiStepNeuron;
  readonly mlp2_conv: Linear;
  readonly mlp2_bn: BatchNorm;

  constructor(o: SpikingMLPOptions) {
    super();
    this.name = o.name;
    this.dim = o.dim;
    this.hidden = o.hidden;
    const rng = o.rng ?? new InitRng();
    this.mlp1_lif = this.addModule('mlp1_lif', new MultiStepNeuron(o.neuron));
    this.mlp1_conv = this.addModule('mlp1_conv', new Linear({ name: joinName(o.name, 'mlp1_conv'), inFeatures: o.dim, outFeatures: o.hidden, rng }));
    this.mlp1_bn = this.addModule('mlp1_bn', new BatchNorm(o.hidden));
    this.mlp2_lif = this.addModule('mlp2_lif', new MultiStepNeuron(o.neuron));
    this.mlp2_conv = this.addModule('mlp2_conv', new Linear({ name: joinName(o.name, 'mlp2_conv'), inFeatures: o.hidden, outFeatures: o.dim, rng }));
    this.mlp2_bn = this.addModule('mlp2_bn', new BatchNorm(o.dim));
  }

  /** x: [T, B, N, C] -> [T, B, N, C]. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.dim) {
      throw new ModuleError(`SpikingMLP ${this.name}: expected input [T, B, N, ${this.dim}], got [${x.shape.join(', ')}]`);
    }
    const [t, b, n, c] = x.shape;
    const spec = { kind: 'ac' as const, timeSteps: t, samples: b };
    return tf.tidy(() => {
      const s1 = tf.reshape(this.mlp1_lif.forward(x, ctx), [t * b * n, c]);
      const h1 = this.mlp1_bn.forward(this.mlp1_conv.forward(s1, ctx, spec), ctx);
      const s2 = tf.reshape(this.mlp2_lif.forward(tf.reshape(h1, [t, b, n, this.hidden]), ctx), [t * b * n, this.hidden]);
      const h2 = this.mlp2_bn.forward(this.mlp2_conv.forward(s2, ctx, spec), ctx);
      return tf.reshape(h2, [t, b, n, c]);
    });
  }
}
