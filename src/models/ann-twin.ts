/**
 * The ANN twin "ScratchCLIP" (docs/method.md §3; reference `CLIPVisionTransformer`), for
 * energy and accuracy comparisons at T = 1:
 *
 *   embeddings   the SpikeCLIP tokenizer without LIF: conv3x3 + BN (x3), max-pool, conv + BN,
 *                max-pool, conv + BN; no activation between stages (as in the reference, whose
 *                tokenizer defines a QuickGELU but never calls it)
 *   pre_layrnorm LayerNorm on the tokens (the reference's spelling)
 *   encoder.layers.i  pre-LN blocks: x + out_proj(softmax(q k^T / sqrt(d)) v) after layer_norm1,
 *                x + fc2(QuickGELU(fc1(x))) after layer_norm2; all Linear layers with bias
 *   mean over tokens -> post_layernorm -> proj (Linear D -> outputDim)
 *
 * Names equal the reference state-dict names. Linear layers use PyTorch's default init (the
 * reference applies no custom init to this model). Monitor records: kind 'mac', timeSteps 1,
 * for every conv and Linear layer and the two attention matmuls (`qk_matmul`, `av_matmul`).
 */
import * as tf from '../tf';
import { INFERENCE, Module, ModuleError, type ForwardContext } from '../snn/module';
import { BatchNorm, Conv2d, InitRng, LayerNorm, Linear, ModuleList, joinName, maxPool2dTorch, reportOps, type ObserveSpec } from '../snn/layers';
import { validateImageConfig, type ImageEncoderConfig } from './config';
import { tokenizerChannels, type EncoderOptions } from './image-encoder';

export type AnnTwinConfig = Pick<ImageEncoderConfig, 'embedDim' | 'depth' | 'heads' | 'mlpRatio' | 'imageSize' | 'inChannels' | 'outputDim'>;

function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

export class AnnTokenizer extends Module {
  readonly convs: Conv2d[] = [];
  readonly bns: BatchNorm[] = [];

  constructor(cfg: AnnTwinConfig, name: string, rng: InitRng) {
    super();
    const ch = [cfg.inChannels, ...tokenizerChannels(cfg.embedDim)];
    for (let i = 0; i < 5; i++) {
      this.convs.push(
        this.addModule(`block${i}_conv`, new Conv2d({ name: joinName(name, `block${i}_conv`), inChannels: ch[i], outChannels: ch[i + 1], kernelSize: 3, padding: 1, bias: false, rng })),
      );
      this.bns.push(this.addModule(`block${i}_bn`, new BatchNorm(ch[i + 1])));
    }
  }

  /** [B, H, W, C] -> [B, N, D]. */
  forward(images: tf.Tensor4D, ctx: ForwardContext): tf.Tensor {
    const spec: ObserveSpec = { kind: 'mac', timeSteps: 1, samples: images.shape[0] };
    return tf.tidy(() => {
      let y = images;
      for (let i = 0; i < 5; i++) {
        if (i >= 3) y = maxPool2dTorch(y, 3, 2, 1);
        y = this.bns[i].forward(this.convs[i].forward(y, ctx, spec), ctx) as tf.Tensor4D;
      }
      const [b, h, w, c] = y.shape;
      return tf.reshape(y, [b, h * w, c]);
    });
  }
}

export class ClipAttention extends Module {
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly q_proj: Linear;
  readonly out_proj: Linear;

  constructor(readonly name: string, readonly dim: number, readonly heads: number, rng: InitRng) {
    super();
    const lin = (n: string) => new Linear({ name: joinName(name, n), inFeatures: dim, outFeatures: dim, rng });
    this.k_proj = this.addModule('k_proj', lin('k_proj'));
    this.v_proj = this.addModule('v_proj', lin('v_proj'));
    this.q_proj = this.addModule('q_proj', lin('q_proj'));
    this.out_proj = this.addModule('out_proj', lin('out_proj'));
  }

  /** [B, N, D] -> [B, N, D]. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const [b, n, c] = x.shape;
    const h = this.heads;
    const d = c / h;
    const spec: ObserveSpec = { kind: 'mac', timeSteps: 1, samples: b };
    return tf.tidy(() => {
      const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [b, n, h, d]), [0, 2, 1, 3]);
      const q = split(tf.mul(this.q_proj.forward(x, ctx, spec), 1 / Math.sqrt(d)));
      const k = split(this.k_proj.forward(x, ctx, spec));
      const v = split(this.v_proj.forward(x, ctx, spec));
      const flops = b * h * n * n * d;
      const scores = tf.matMul(q, k, false, true);
      reportOps(ctx, spec, joinName(this.name, 'qk_matmul'), q, flops);
      const probs = tf.softmax(scores, -1);
      const o = tf.matMul(probs, v);
      reportOps(ctx, spec, joinName(this.name, 'av_matmul'), probs, flops);
      return this.out_proj.forward(tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b, n, c]), ctx, spec);
    });
  }
}

export class ClipMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(name: string, dim: number, hidden: number, rng: InitRng) {
    super();
    this.fc1 = this.addModule('fc1', new Linear({ name: joinName(name, 'fc1'), inFeatures: dim, outFeatures: hidden, rng }));
    this.fc2 = this.addModule('fc2', new Linear({ name: joinName(name, 'fc2'), inFeatures: hidden, outFeatures: dim, rng }));
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const spec: ObserveSpec = { kind: 'mac', timeSteps: 1, samples: x.shape[0] };
    return tf.tidy(() => this.fc2.forward(quickGelu(this.fc1.forward(x, ctx, spec)), ctx, spec));
  }
}

export class ClipEncoderLayer extends Module {
  readonly self_attn: ClipAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: ClipMlp;
  readonly layer_norm2: LayerNorm;

  constructor(name: string, cfg: AnnTwinConfig, rng: InitRng) {
    super();
    this.self_attn = this.addModule('self_attn', new ClipAttention(joinName(name, 'self_attn'), cfg.embedDim, cfg.heads, rng));
    this.layer_norm1 = this.addModule('layer_norm1', new LayerNorm(cfg.embedDim));
    this.mlp = this.addModule('mlp', new ClipMlp(joinName(name, 'mlp'), cfg.embedDim, cfg.embedDim * cfg.mlpRatio, rng));
    this.layer_norm2 = this.addModule('layer_norm2', new LayerNorm(cfg.embedDim));
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const y = tf.add(x, this.self_attn.forward(this.layer_norm1.forward(x), ctx));
      return tf.add(y, this.mlp.forward(this.layer_norm2.forward(y), ctx));
    });
  }
}

class ClipEncoder extends Module {
  readonly layers: ModuleList<ClipEncoderLayer>;

  constructor(name: string, cfg: AnnTwinConfig, rng: InitRng) {
    super();
    const layers: ClipEncoderLayer[] = [];
    for (let i = 0; i < cfg.depth; i++) layers.push(new ClipEncoderLayer(joinName(name, `layers.${i}`), cfg, rng));
    this.layers = this.addModule('layers', new ModuleList(layers));
  }
}

export class ScratchClip extends Module {
  readonly config: AnnTwinConfig;
  readonly name: string;
  readonly embeddings: AnnTokenizer;
  readonly pre_layrnorm: LayerNorm;
  readonly encoder: ClipEncoder;
  readonly post_layernorm: LayerNorm;
  readonly proj: Linear;

  /** Takes an image-encoder config (T, neuron and attention settings are ignored: T = 1). */
  constructor(config: AnnTwinConfig | ImageEncoderConfig, opts: EncoderOptions = {}) {
    super();
    const full = validateImageConfig({ timeSteps: 1, ...pick(config) });
    this.config = pick(full);
    this.name = opts.name ?? 'ann';
    const rng = new InitRng(opts.seed);
    const cfg = this.config;
    this.embeddings = this.addModule('embeddings', new AnnTokenizer(cfg, joinName(this.name, 'embeddings'), rng));
    this.pre_layrnorm = this.addModule('pre_layrnorm', new LayerNorm(cfg.embedDim));
    this.encoder = this.addModule('encoder', new ClipEncoder(joinName(this.name, 'encoder'), cfg, rng));
    this.post_layernorm = this.addModule('post_layernorm', new LayerNorm(cfg.embedDim));
    this.proj = this.addModule('proj', new Linear({ name: joinName(this.name, 'proj'), inFeatures: cfg.embedDim, outFeatures: cfg.outputDim, rng }));
  }

  /** CLIP-normalised images NHWC [B, H, W, C] -> [B, outputDim]. */
  forward(images: tf.Tensor, ctx: ForwardContext = INFERENCE): tf.Tensor2D {
    const c = this.config;
    if (images.rank !== 4 || images.shape[1] !== c.imageSize || images.shape[2] !== c.imageSize || images.shape[3] !== c.inChannels) {
      throw new ModuleError(`ANN twin: expected images [B, ${c.imageSize}, ${c.imageSize}, ${c.inChannels}] (NHWC), got [${images.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      let x = this.pre_layrnorm.forward(this.embeddings.forward(images as tf.Tensor4D, ctx));
      for (const layer of this.encoder.layers.items) x = layer.forward(x, ctx);
      const pooled = this.post_layernorm.forward(tf.mean(x, 1));
      return this.proj.forward(pooled, ctx, { kind: 'mac', timeSteps: 1, samples: images.shape[0] }) as tf.Tensor2D;
    });
  }
}

function pick(c: AnnTwinConfig): AnnTwinConfig {
  return { embedDim: c.embedDim, depth: c.depth, heads: c.heads, mlpRatio: c.mlpRatio, imageSize: c.imageSize, inChannels: c.inChannels, outputDim: c.outputDim };
}
