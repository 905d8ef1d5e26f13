/**
 * SpikeCLIP text encoder (docs/method.md §4; reference `Language_Encoder`): not a
 * transformer. Token ids int32 [B, contextLength] -> token embedding + position embedding
 * (first contextLength rows) -> flatten [B, contextLength * width] -> the same vector at all T
 * steps -> LIF -> fc1 (-> hidden) -> LIF -> fc2 (-> outputDim) -> temporal readout -> [B, outputDim].
 * The attention mask is ignored (padding tokens contribute), as in the reference.
 *
 * Tensor names equal the reference's: `clip_embedding.token_embedding.weight`
 * [vocab, width], `clip_embedding.position_embedding.weight` [maxPositions, width] (CLIP's 77
 * rows are all kept, so the parameter count matches), `fc1.*`, `fc2.*`, `weights_tensor`.
 */
import * as tf from '../tf';
import { Module, ModuleError, type ForwardContext, INFERENCE, type TensorData } from '../snn/module';
import { MultiStepNeuron } from '../snn/neuron';
import { Embedding, InitRng, Linear, applyTemporalReadout, joinName, temporalReadoutInit } from '../snn/layers';
import { validateTextConfig, type TextEncoderConfig } from './config';
import type { EncoderOptions } from './image-encoder';

/** HF `CLIPTextEmbeddings`: token and position tables. */
export class ClipTextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;

  constructor(cfg: TextEncoderConfig, rng: InitRng) {
    super();
    // CLIP's own initialisation: N(0, 0.02) tokens, N(0, 0.01) positions
    this.token_embedding = this.addModule('token_embedding', new Embedding(cfg.vocabSize, cfg.width, { std: 0.02, rng }));
    this.position_embedding = this.addModule('position_embedding', new Embedding(cfg.maxPositions, cfg.width, { std: 0.01, rng }));
  }

  /** ids [B, L] -> [B, L, width]. */
  forward(ids: tf.Tensor): tf.Tensor {
    const l = ids.shape[1] as number;
    return tf.tidy(() => tf.add(this.token_embedding.forward(ids), tf.slice(this.position_embedding.weight, [0, 0], [l, -1])));
  }
}

export class SpikeClipTextEncoder extends Module {
  readonly config: TextEncoderConfig;
  readonly name: string;
  readonly weights_tensor: tf.Variable;
  readonly mlp_lif1: MultiStepNeuron;
  readonly fc1: Linear;
  readonly mlp_lif2: MultiStepNeuron;
  readonly fc2: Linear;
  readonly clip_embedding: ClipTextEmbeddings;

  constructor(config: TextEncoderConfig, opts: EncoderOptions = {}) {
    super();
    const cfg = validateTextConfig(config);
    this.config = cfg;
    this.name = opts.name ?? 'text';
    const rng = new InitRng(opts.seed);
    this.weights_tensor = this.addParam('weights_tensor', tf.tensor1d(temporalReadoutInit(cfg.timeSteps)));
    this.mlp_lif1 = this.addModule('mlp_lif1', new MultiStepNeuron(cfg.neuron));
    this.fc1 = this.addModule('fc1', new Linear({ name: joinName(this.name, 'fc1'), inFeatures: cfg.contextLength * cfg.width, outFeatures: cfg.hidden, rng }));
    this.mlp_lif2 = this.addModule('mlp_lif2', new MultiStepNeuron(cfg.neuron));
    this.fc2 = this.addModule('fc2', new Linear({ name: joinName(this.name, 'fc2'), inFeatures: cfg.hidden, outFeatures: cfg.outputDim, rng }));
    this.clip_embedding = this.addModule('clip_embedding', new ClipTextEmbeddings(cfg, rng));
  }

  /**
   * Copies the teacher's embeddings: `token` [vocabSize, width] exactly, `position` [P, width]
   * with P >= contextLength (e.g. CLIP's 77 rows); the first min(P, maxPositions) rows are copied.
   */
  initEmbeddings(token: TensorData, position: TensorData): void {
    const c = this.config;
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
    if (!same(token.shape, [c.vocabSize, c.width])) {
      throw new ModuleError(`text encoder: token embedding must be [${c.vocabSize}, ${c.width}], got [${token.shape.join(', ')}]`);
    }
    if (position.shape.length !== 2 || position.shape[1] !== c.width || position.shape[0] < c.contextLength) {
      throw new ModuleError(`text encoder: position embedding must be [P >= ${c.contextLength}, ${c.width}], got [${position.shape.join(', ')}]`);
    }
    this.clip_embedding.token_embedding.setRows(token.data, c.vocabSize);
    this.clip_embedding.position_embedding.setRows(position.data, Math.min(position.shape[0], c.maxPositions));
  }

  /** token ids int32 [B, contextLength] -> embeddings [B, outputDim] (not normalised). */
  forward(ids: tf.Tensor, ctx: ForwardContext = INFERENCE): tf.Tensor2D {
    const c = this.config;
    if (ids.rank !== 2 || ids.shape[1] !== c.contextLength) {
      throw new ModuleError(`text encoder: expected token ids [B, ${c.contextLength}], got [${ids.shape.join(', ')}]`);
    }
    const b = ids.shape[0];
    const t = c.timeSteps;
    const spec = { kind: 'ac' as const, timeSteps: t, samples: b };
    return tf.tidy(() => {
      const e = tf.reshape(this.clip_embedding.forward(ids), [1, b, c.contextLength * c.width]);
      const x = tf.tile(e, [t, 1, 1]);
      const h = this.fc1.forward(this.mlp_lif1.forward(x, ctx), ctx, spec);
      const o = this.fc2.forward(this.mlp_lif2.forward(h, ctx), ctx, spec);
      return applyTemporalReadout(o, this.weights_tensor) as tf.Tensor2D;
    });
  }
}
