/**
 * The whole SpikeCLIP student: the spiking image encoder under `image.` and the spiking text
 * encoder under `text.` (checkpoint tensor names `image.patch_embed.block0_conv.weight`,
 * `text.fc1.weight`, ...). Monitor records carry the same prefixes.
 */
import * as tf from '../tf';
import { INFERENCE, Module, type ForwardContext } from '../snn/module';
import { validateConfig, type SpikeClipConfig } from './config';
import { SpikeClipImageEncoder } from './image-encoder';
import { SpikeClipTextEncoder } from './text-encoder';

export interface SpikeClipOptions {
  /** Seed of the weight initialisation (random when omitted). */
  seed?: number;
}

export class SpikeClip extends Module {
  readonly config: SpikeClipConfig;
  readonly image: SpikeClipImageEncoder;
  readonly text: SpikeClipTextEncoder;

  constructor(config: SpikeClipConfig, opts: SpikeClipOptions = {}) {
    super();
    this.config = validateConfig(config);
    const seed = opts.seed;
    this.image = this.addModule('image', new SpikeClipImageEncoder(this.config.image, { seed, name: 'image' }));
    this.text = this.addModule('text', new SpikeClipTextEncoder(this.config.text, { seed: seed === undefined ? undefined : seed + 1, name: 'text' }));
  }

  /** CLIP-normalised images NHWC [B, H, W, C] -> [B, outputDim] (not normalised). */
  encodeImage(images: tf.Tensor, ctx: ForwardContext = INFERENCE): tf.Tensor2D {
    return this.image.forward(images, ctx);
  }

  /** Token ids int32 [B, contextLength] -> [B, outputDim] (not normalised). */
  encodeText(ids: tf.Tensor, ctx: ForwardContext = INFERENCE): tf.Tensor2D {
    return this.text.forward(ids, ctx);
  }
}
