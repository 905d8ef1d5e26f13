/**
 * SpikeCLIP image encoder (Spikingformer style, docs/method.md §3; reference
 * `Vision_Encoder`). Input: CLIP-normalised images NHWC [B, H, W, C_in]; output [B, outputDim].
 *
 * The image is repeated over T steps and time and batch are merged (row t*B + b) for every
 * conv/BN, so BatchNorm statistics pool over time and batch. Tensor names equal the reference
 * state-dict names (`weights_tensor`, `patch_embed.block0_conv.weight`,
 * `block.0.attn.q_conv.weight`, `proj.weight`, ...); only layouts differ (see pytorch-names.ts).
 *
 * Tokenizer (`patch_embed`), channels D/8, D/4, D/2, D, D, 3x3 convs without bias:
 *   block0: conv + BN (real-valued input: the only MAC layer at the input)
 *   block1, block2: LIF -> conv + BN
 *   block3, block4: max-pool 3/2/1 -> LIF -> conv + BN    (H -> H/2 -> H/4)
 * then depth x SpikingBlock on [T, B, N = (H/4)^2, D], mean over the N tokens, the temporal
 * readout (`weights_tensor`), and `proj` Linear D -> outputDim (trunc-normal 0.02, zero bias).
 */
import * as tf from '../tf';
import { Module, ModuleError, type ForwardContext, INFERENCE } from '../snn/module';
import { MultiStepNeuron } from '../snn/neuron';
import {
  BatchNorm,
  Conv2d,
  InitRng,
  Linear,
  ModuleList,
  SpikingBlock,
  applyTemporalReadout,
  joinName,
  maxPool2dTorch,
  temporalReadoutInit,
} from '../snn/layers';
import { validateImageConfig, type ImageEncoderConfig } from './config';

export interface EncoderOptions {
  /** Seed of the weight initialisation (random when omitted). */
  seed?: number;
  /** Prefix of the layer names in monitor records (default `image` / `text`). */
  name?: string;
}

/** Channels of the five tokenizer stages for embedding dimension D. */
export function tokenizerChannels(embedDim: number): number[] {
  return [embedDim / 8, embedDim / 4, embedDim / 2, embedDim, embedDim];
}

export class SpikingTokenizer extends Module {
  readonly convs: Conv2d[] = [];
  readonly bns: BatchNorm[] = [];
  /** lifs[i] precedes conv i (lifs[0] is null: the first conv sees the image). */
  readonly lifs: (MultiStepNeuron | null)[] = [null];

  constructor(readonly cfg: ImageEncoderConfig, name: string, rng: InitRng) {
    super();
    const ch = [cfg.inChannels, ...tokenizerChannels(cfg.embedDim)];
    for (let i = 0; i < 5; i++) {
      if (i > 0) this.lifs.push(this.addModule(`block${i}_lif`, new MultiStepNeuron(cfg.neuron)));
      this.convs.push(
        this.addModule(
          `block${i}_conv`,
          new Conv2d({ name: joinName(name, `block${i}_conv`), inChannels: ch[i], outChannels: ch[i + 1], kernelSize: 3, padding: 1, bias: false, rng }),
        ),
      );
      this.bns.push(this.addModule(`block${i}_bn`, new BatchNorm(ch[i + 1])));
    }
  }

  /** images [B, H, W, C_in] -> tokens [T, B, (H/4)*(W/4), D]. */
  forward(images: tf.Tensor4D, ctx: ForwardContext): tf.Tensor {
    const t = this.cfg.timeSteps;
    const b = images.shape[0];
    return tf.tidy(() => {
      const x = tf.tile(images, [t, 1, 1, 1]) as tf.Tensor4D; // row t*B + b
      let y = this.bns[0].forward(this.convs[0].forward(x, ctx, { kind: 'mac', timeSteps: t, samples: b }), ctx) as tf.Tensor4D;
      for (let i = 1; i < 5; i++) {
        if (i >= 3) y = maxPool2dTorch(y, 3, 2, 1);
        const [, h, w, c] = y.shape;
        const s = (this.lifs[i] as MultiStepNeuron).forward(tf.reshape(y, [t, b, h, w, c]), ctx);
        y = this.bns[i].forward(this.convs[i].forward(tf.reshape(s, [t * b, h, w, c]) as tf.Tensor4D, ctx, { kind: 'ac', timeSteps: t, samples: b }), ctx) as tf.Tensor4D;
      }
      const [, h, w, c] = y.shape;
      return tf.reshape(y, [t, b, h * w, c]);
    });
  }
}

export class SpikeClipImageEncoder extends Module {
  readonly config: ImageEncoderConfig;
  readonly name: string;
  readonly weights_tensor: tf.Variable;
  readonly patch_embed: SpikingTokenizer;
  readonly block: ModuleList<SpikingBlock>;
  readonly proj: Linear;

  constructor(config: ImageEncoderConfig, opts: EncoderOptions = {}) {
    super();
    const cfg = validateImageConfig(config);
    this.config = cfg;
    this.name = opts.name ?? 'image';
    const rng = new InitRng(opts.seed);
    this.weights_tensor = this.addParam('weights_tensor', tf.tensor1d(temporalReadoutInit(cfg.timeSteps)));
    this.patch_embed = this.addModule('patch_embed', new SpikingTokenizer(cfg, joinName(this.name, 'patch_embed'), rng));
    const blocks: SpikingBlock[] = [];
    for (let i = 0; i < cfg.depth; i++) {
      blocks.push(
        new SpikingBlock({
          name: joinName(this.name, `block.${i}`),
          dim: cfg.embedDim,
          heads: cfg.heads,
          mlpHidden: cfg.embedDim * cfg.mlpRatio,
          neuron: cfg.neuron,
          attnThreshold: cfg.attnThreshold,
          attnScale: cfg.attnScale,
          rng,
        }),
      );
    }
    this.block = this.addModule('block', new ModuleList(blocks));
    this.proj = this.addModule(
      'proj',
      new Linear({ name: joinName(this.name, 'proj'), inFeatures: cfg.embedDim, outFeatures: cfg.outputDim, init: { truncNormalStd: 0.02 }, rng }),
    );
  }

  /** Per-step features before the readout: images [B, H, W, C] -> [T, B, D] (mean over tokens). */
  features(images: tf.Tensor, ctx: ForwardContext = INFERENCE): tf.Tensor {
    const c = this.config;
    if (images.rank !== 4 || images.shape[1] !== c.imageSize || images.shape[2] !== c.imageSize || images.shape[3] !== c.inChannels) {
      throw new ModuleError(`image encoder: expected images [B, ${c.imageSize}, ${c.imageSize}, ${c.inChannels}] (NHWC), got [${images.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      let x = this.patch_embed.forward(images as tf.Tensor4D, ctx);
      for (const blk of this.block.items) x = blk.forward(x, ctx);
      return tf.mean(x, 2);
    });
  }

  /** images [B, H, W, C] (CLIP-normalised, NHWC) -> embeddings [B, outputDim] (not normalised). */
  forward(images: tf.Tensor, ctx: ForwardContext = INFERENCE): tf.Tensor2D {
    return tf.tidy(() => {
      const pooled = applyTemporalReadout(this.features(images, ctx), this.weights_tensor);
      // real-valued input, applied once per sample after the readout: MACs, one step
      return this.proj.forward(pooled, ctx, { kind: 'mac', timeSteps: 1, samples: images.shape[0] }) as tf.Tensor2D;
    });
  }
}
