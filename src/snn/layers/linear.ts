/**
 * Fully connected layer over the last axis: y = x W + b with W [in, out] (PyTorch's nn.Linear
 * stores [out, in]). Also serves as the 1x1 convolutions of the spiking blocks, applied to
 * [rows, C] matrices. Initialisation: PyTorch's default, or timm's trunc-normal(std) with a
 * zero bias.
 */
import * as tf from '../../tf';
import { Module, ModuleError, type ForwardContext } from '../module';
import { InitRng, torchDefaultInit, truncNormalInit } from './init';
import { reportOps, type ObserveSpec } from './observe';
import { spikeMatMul } from '../fused/event';

export interface LinearOptions {
  /** Dotted layer name used in monitor records. */
  name: string;
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
  /** 'torch' (default): U(+-1/sqrt(in)) for weight and bias; {truncNormalStd}: timm trunc_normal_ weight, zero bias. */
  init?: 'torch' | { truncNormalStd: number };
  rng?: InitRng;
}

export class Linear extends Module {
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(o: LinearOptions) {
    super();
    for (const [k, v] of [['inFeatures', o.inFeatures], ['outFeatures', o.outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ModuleError(`Linear ${o.name}: ${k} must be a positive integer, got ${v}`);
    }
    this.name = o.name;
    this.inFeatures = o.inFeatures;
    this.outFeatures = o.outFeatures;
    const rng = o.rng ?? new InitRng();
    const init = o.init ?? 'torch';
    const shape = [o.inFeatures, o.outFeatures];
    if (init === 'torch') {
      this.weight = this.addParam('weight', torchDefaultInit(shape, o.inFeatures, rng));
      this.bias = (o.bias ?? true) ? this.addParam('bias', torchDefaultInit([o.outFeatures], o.inFeatures, rng)) : null;
    } else {
      this.weight = this.addParam('weight', truncNormalInit(shape, init.truncNormalStd, rng));
      this.bias = (o.bias ?? true) ? this.addParam('bias', tf.zeros([o.outFeatures])) : null;
    }
  }

  /** x: [..., in] -> [..., out]. `observe` says what to report to ctx.monitor. */
  forward(x: tf.Tensor, ctx?: ForwardContext, observe?: ObserveSpec): tf.Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ModuleError(`Linear ${this.name}: expected input [..., ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    }
    const rows = x.size / this.inFeatures;
    const y = tf.tidy(() => {
      const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [rows, this.inFeatures]) as tf.Tensor2D;
      // binary spike input: the event-driven product where it is faster (src/snn/fused/event.ts)
      const event = observe?.kind === 'ac' ? spikeMatMul(x2, this.weight as tf.Tensor2D) : null;
      let out: tf.Tensor = event ?? tf.matMul(x2, this.weight as tf.Tensor2D);
      if (this.bias) out = tf.add(out, this.bias);
      return x.rank === 2 ? out : tf.reshape(out, [...x.shape.slice(0, -1), this.outFeatures]);
    });
    reportOps(ctx, observe, this.name, x, rows * this.inFeatures * this.outFeatures);
    return y;
  }
}
