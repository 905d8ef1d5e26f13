/**
 * Spiking self-attention (Spikingformer / SpikeCLIP `Vision_SelfAttention`), on the residual
 * stream x [T, B, N, C] (channels last):
 *
 *   s = LIF(x)                                          proj_lif
 *   Q = LIF(BN(s Wq)), K = LIF(BN(s Wk)), V = LIF(BN(s Wv))   1x1 convs without bias
 *   per head h (C = H * d, channel c = h * d + j):  A = Q_h K_h^T      (no softmax, no mask)
 *                                                   O_h = (A V_h) * scale   (scale 0.125)
 *   merge heads -> LIF with V_th = attnThreshold (0.5)   attn_lif
 *   out = BN(O' Wp + bp)                                proj_conv (with bias) + proj_bn
 *
 * The 1x1 convolutions are Linear layers over [T*B*N, C]; BatchNorm pools over T*B*N, which is
 * what PyTorch's BatchNorm1d over [T*B, C, N] does. Module names follow the reference
 * (`q_conv`, `q_bn`, `q_lif`, ...), so checkpoints differ from PyTorch's only in layout.
 *
 * Monitor records (kind 'ac', all inputs are spikes): `q_conv`, `k_conv`, `v_conv` (input s,
 * fanOut C), `proj_conv` (input attn_lif spikes, fanOut C), and the two matmuls:
 * - `<name>.qk_matmul`: Q K^T. Counted from Q: a spike Q[i, c] is added into the N scores
 *   A[i, 0..N-1] (for each key row whose K[., c] is 1: on hardware, each query spike
 *   triggers one accumulate per key), fanOut = N, FLOPs = H * N * N * d per step and sample.
 * - `<name>.av_matmul`: A V. A holds integer counts, V is binary: a spike V[j, c] adds
 *   A[0..N-1, j] into O[0..N-1, c], fanOut = N, FLOPs = H * N * N * d.
 * Both follow the layer convention fanOut = FLOPs / input elements, so nonZero * fanOut is the
 * spike-driven operation count and the firing-rate estimate agrees with it.
 */
import * as tf from '../../tf';
import { Module, ModuleError, type ForwardContext } from '../module';
import { MultiStepNeuron } from '../neuron';
import type { NeuronConfig } from '../neuron-config';
import { BatchNorm } from './batch-norm';
import { InitRng, joinName } from './init';
import { Linear } from './linear';
import { reportOps } from './observe';

export interface SpikingSelfAttentionOptions {
  /** Dotted name used in monitor records, e.g. `image.block.0.attn`. */
  name: string;
  dim: number;
  heads: number;
  neuron: NeuronConfig;
  /** Threshold of the LIF after attention (0.5). */
  attnThreshold?: number;
  /** Multiplier of (Q K^T) V (0.125). */
  attnScale?: number;
  rng?: InitRng;
}

export class SpikingSelfAttention extends Module {
  readonly name: string;
  readonly dim: number;
  readonly heads: number;
  readonly attnScale: number;
  readonly proj_lif: MultiStepNeuron;
  readonly q_conv: Linear;
  readonly q_bn: BatchNorm;
  readonly q_lif: MultiStepNeuron;
  readonly k_conv: Linear;
  readonly k_bn: BatchNorm;
  readonly k_lif: MultiStepNeuron;
  readonly v_conv: Linear;
  readonly v_bn: BatchNorm;
  readonly v_lif: MultiStepNeuron;
  readonly attn_lif: MultiStepNeuron;
  readonly proj_conv: Linear;
  readonly proj_bn: BatchNorm;

  constructor(o: SpikingSelfAttentionOptions) {
    super();
    if (!Number.isInteger(o.heads) || o.heads < 1 || o.dim % o.heads !== 0) {
      throw new ModuleError(`SpikingSelfAttention ${o.name}: heads (${o.heads}) must divide dim (${o.dim})`);
    }
    this.name = o.name;
    this.dim = o.dim;
    this.heads = o.heads;
    this.attnScale = o.attnScale ?? 0.125;
    const rng = o.rng ?? new InitRng();
    const d = o.dim;
    const lin = (local: string, bias: boolean) => new Linear({ name: joinName(o.name, local), inFeatures: d, outFeatures: d, bias, rng });
    this.proj_lif = this.addModule('proj_lif', new MultiStepNeuron(o.neuron));
    this.q_conv = this.addModule('q_conv', lin('q_conv', false));
    this.q_bn = this.addModule('q_bn', new BatchNorm(d));
    this.q_lif = this.addModule('q_lif', new MultiStepNeuron(o.neuron));
    this.k_conv = this.addModule('k_conv', lin('k_conv', false));
    this.k_bn = this.addModule('k_bn', new BatchNorm(d));
    this.k_lif = this.addModule('k_lif', new MultiStepNeuron(o.neuron));
    this.v_conv = this.addModule('v_conv', lin('v_conv', false));
    this.v_bn = this.addModule('v_bn', new BatchNorm(d));
    this.v_lif = this.addModule('v_lif', new MultiStepNeuron(o.neuron));
    this.attn_lif = this.addModule('attn_lif', new MultiStepNeuron({ ...o.neuron, vThreshold: o.attnThreshold ?? 0.5 }));
    this.proj_conv = this.addModule('proj_conv', lin('proj_conv', true));
    this.proj_bn = this.addModule('proj_bn', new BatchNorm(d));
  }

  /** x: [T, B, N, C] real-valued residual stream -> [T, B, N, C]. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.dim) {
      throw new ModuleError(`SpikingSelfAttention ${this.name}: expected input [T, B, N, ${this.dim}], got [${x.shape.join(', ')}]`);
    }
    const [t, b, n, c] = x.shape;
    const h = this.heads;
    const hd = c / h;
    const spec = { kind: 'ac' as const, timeSteps: t, samples: b };
    return tf.tidy(() => {
      const s = tf.reshape(this.proj_lif.forward(x, ctx), [t * b * n, c]);
      const branch = (conv: Linear, bn: BatchNorm, lif: MultiStepNeuron): tf.Tensor => {
        const y = bn.forward(conv.forward(s, ctx, spec), ctx);
        const spikes = lif.forward(tf.reshape(y, [t, b, n, c]), ctx);
        return tf.transpose(tf.reshape(spikes, [t * b, n, h, hd]), [0, 2, 1, 3]); // [T*B, H, N, d]
      };
      const q = branch(this.q_conv, this.q_bn, this.q_lif);
      const k = branch(this.k_conv, this.k_bn, this.k_lif);
      const v = branch(this.v_conv, this.v_bn, this.v_lif);
      const matmulFlops = t * b * h * n * n * hd;
      const attn = tf.matMul(q, k, false, true); // [T*B, H, N, N]
      reportOps(ctx, spec, joinName(this.name, 'qk_matmul'), q, matmulFlops);
      const o = tf.mul(tf.matMul(attn, v), this.attnScale); // [T*B, H, N, d]
      reportOps(ctx, spec, joinName(this.name, 'av_matmul'), v, matmulFlops);
      const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [t, b, n, c]);
      const a = tf.reshape(this.attn_lif.forward(merged, ctx), [t * b * n, c]);
      const out = this.proj_bn.forward(this.proj_conv.forward(a, ctx, spec), ctx);
      return tf.reshape(out, [t, b, n, c]);
    });
  }
}
