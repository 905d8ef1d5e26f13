/**
 * 2-D convolution in TF layout: input NHWC, weight HWIO [kH, kW, C_in, C_out], optional bias
 * [C_out]. PyTorch's nn.Conv2d stores OIHW; src/models/pytorch-names.ts converts.
 * Initialisation is PyTorch's default (U(+-1/sqrt(C_in*kH*kW)) for weight and bias).
 */
import * as tf from '../../tf';
import { Module, ModuleError, type ForwardContext } from '../module';
import { InitRng, torchDefaultInit } from './init';
import type { FanOutMap } from '../monitor';
import { convFanOutMap, reportOps, type ObserveSpec } from './observe';
import { spikeConv2d } from '../fused/event';

export interface Conv2dOptions {
  /** Dotted layer name used in monitor records, e.g. `image.patch_embed.block1_conv`. */
  name: string;
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  /** Zero padding on every side (PyTorch style), or 'same' / 'valid' (TF style). Default 0. */
  padding?: number | 'same' | 'valid';
  bias?: boolean;
  rng?: InitRng;
}

export class Conv2d extends Module {
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  /** Exact per-position fan-out maps by input/output size (built only when a monitor asks). */
  private readonly fanOutMaps = new Map<string, FanOutMap>();

  constructor(o: Conv2dOptions) {
    super();
    for (const [k, v] of [['inChannels', o.inChannels], ['outChannels', o.outChannels], ['kernelSize', o.kernelSize], ['stride', o.stride ?? 1]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ModuleError(`Conv2d ${o.name}: ${k} must be a positive integer, got ${v}`);
    }
    this.name = o.name;
    this.inChannels = o.inChannels;
    this.outChannels = o.outChannels;
    this.kernelSize = o.kernelSize;
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? 0;
    const rng = o.rng ?? new InitRng();
    const fanIn = o.inChannels * o.kernelSize * o.kernelSize;
    this.weight = this.addParam('weight', torchDefaultInit([o.kernelSize, o.kernelSize, o.inChannels, o.outChannels], fanIn, rng));
    this.bias = (o.bias ?? true) ? this.addParam('bias', torchDefaultInit([o.outChannels], fanIn, rng)) : null;
  }

  /** x: [N, H, W, C_in] -> [N, H', W', C_out]. `observe` says what to report to ctx.monitor. */
  forward(x: tf.Tensor4D, ctx?: ForwardContext, observe?: ObserveSpec): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ModuleError(`Conv2d ${this.name}: expected input [N, H, W, ${this.inChannels}], got [${x.shape.join(', ')}]`);
    }
    const y = tf.tidy(() => {
      // binary spike input: the event-driven convolution where it is faster (src/snn/fused/event.ts)
      const event =
        observe?.kind === 'ac' && this.stride === 1 && typeof this.padding === 'number'
          ? spikeConv2d(x, this.weight as tf.Tensor4D, this.padding)
          : null;
      let out = event ?? tf.conv2d(x, this.weight as tf.Tensor4D, this.stride, this.padding);
      if (this.bias) out = tf.add(out, this.bias);
      return out;
    });
    if (ctx?.monitor && observe) {
      const [n, ho, wo] = y.shape;
      const [, h, w] = x.shape;
      // exact synaptic operations: border pixels have fewer taps than kernelSize^2
      const map = () => {
        const key = `${h}x${w}>${ho}x${wo}`;
        let m = this.fanOutMaps.get(key);
        if (!m) {
          m = convFanOutMap(h, w, ho, wo, this.kernelSize, this.stride, this.padding, this.outChannels);
          this.fanOutMaps.set(key, m);
        }
        return m;
      };
      reportOps(ctx, observe, this.name, x, n * ho * wo * this.outChannels * this.inChannels * this.kernelSize * this.kernelSize, map);
    }
    return y;
  }
}
