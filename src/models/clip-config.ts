/**
 * The CLIP teacher's architecture, read from a Hugging Face `config.json` (`CLIPModel`).
 *
 * HF semantics: the defaults of `CLIPTextConfig` / `CLIPVisionConfig`, overridden by
 * `text_config` / `vision_config`, overridden by the older `text_config_dict` /
 * `vision_config_dict` when present (as `CLIPConfig.__init__` does). Any hidden size, depth,
 * head count, patch and image size works. Fields this implementation cannot honour are refused
 * by name (an unknown `hidden_act`, a `model_type` other than `clip`, a hidden size not divisible
 * by the head count, ...). Generation and training-only fields (dropout, initializer ranges,
 * token ids other than eos) are accepted and ignored; they do not change inference.
 */
import { BadInputError } from '../errors';

/** Raised for a config.json this teacher cannot run; a user error (exit status 4). */
export class ClipConfigError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_CLIP_CONFIG');
    this.name = 'ClipConfigError';
  }
}

export type ClipActivation = 'quick_gelu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';
export const CLIP_ACTIVATIONS: readonly ClipActivation[] = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'];

export interface ClipTowerConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  hiddenAct: ClipActivation;
  layerNormEps: number;
}

export interface ClipTextConfig extends ClipTowerConfig {
  vocabSize: number;
  maxPositions: number;
  /**
   * End-of-text id used for pooling. HF: with `eos_token_id == 2` (configs written before
   * transformers 4.31, e.g. openai/clip-vit-base-patch16) the text is pooled at argmax(input_ids),
   * i.e. the highest id; otherwise at the first occurrence of this id.
   */
  eosTokenId: number;
}

export interface ClipVisionConfig extends ClipTowerConfig {
  imageSize: number;
  patchSize: number;
  numChannels: number;
}

export interface ClipConfig {
  text: ClipTextConfig;
  vision: ClipVisionConfig;
  projectionDim: number;
  logitScaleInit: number;
}

const TEXT_DEFAULTS: Record<string, unknown> = {
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  eos_token_id: 49407,
};

const VISION_DEFAULTS: Record<string, unknown> = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Upper bounds of the size fields (far above every released CLIP: ViT-bigG has width 1664, 48
 * layers), so a damaged config.json is refused before anything is allocated.
 */
export const CLIP_CONFIG_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  hidden_size: 8192,
  intermediate_size: 65536,
  num_hidden_layers: 128,
  num_attention_heads: 1024,
  vocab_size: 1_000_000,
  max_position_embeddings: 4096,
  image_size: 1024,
  patch_size: 1024,
  projection_dim: 8192,
});

/** Scalars of both towers together (2^32; ViT-bigG/14, the largest CLIP released, has 2.5e9). */
export const CLIP_MAX_PARAMETERS = 2 ** 32;

function posInt(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ClipConfigError(`${where}.${key} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const max = CLIP_CONFIG_LIMITS[key];
  if (max !== undefined && v > max) {
    throw new ClipConfigError(`${where}.${key} ${v} is beyond the limit ${max}; the file is damaged or not a CLIP config`);
  }
  return v;
}

function posNum(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ClipConfigError(`${where}.${key} must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function activation(obj: Record<string, unknown>, where: string): ClipActivation {
  const v = obj.hidden_act;
  if (typeof v !== 'string' || !(CLIP_ACTIVATIONS as readonly string[]).includes(v)) {
    throw new ClipConfigError(`${where}.hidden_act ${JSON.stringify(v)} is not supported (supported: ${CLIP_ACTIVATIONS.join(', ')})`);
  }
  return v as ClipActivation;
}

function tower(obj: Record<string, unknown>, where: string): ClipTowerConfig {
  const hiddenSize = posInt(obj, 'hidden_size', where);
  const numHeads = posInt(obj, 'num_attention_heads', where);
  if (hiddenSize % numHeads !== 0) {
    throw new ClipConfigError(`${where}.hidden_size ${hiddenSize} is not divisible by ${where}.num_attention_heads ${numHeads}`);
  }
  for (const k of ['head_dim']) {
    if (obj[k] !== undefined && obj[k] !== hiddenSize / numHeads) throw new ClipConfigError(`${where}.${k} ${JSON.stringify(obj[k])} is not supported (must be hidden_size / num_attention_heads)`);
  }
  return {
    hiddenSize,
    intermediateSize: posInt(obj, 'intermediate_size', where),
    numLayers: posInt(obj, 'num_hidden_layers', where),
    numHeads,
    hiddenAct: activation(obj, where),
    layerNormEps: posNum(obj, 'layer_norm_eps', where),
  };
}

function merged(defaults: Record<string, unknown>, ...parts: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults };
  for (const p of parts) {
    if (p === undefined || p === null) continue;
    if (!isObject(p)) throw new ClipConfigError('text_config / vision_config must be JSON objects');
    for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Parses and validates a Hugging Face CLIP config.json object. `source` names the file in messages. */
export function parseHfClipConfig(raw: unknown, source = 'config.json'): ClipConfig {
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof ClipConfigError) throw new ClipConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

function parse(raw: unknown): ClipConfig {
  if (!isObject(raw)) throw new ClipConfigError('expected a JSON object');
  const modelType = raw.model_type;
  if (modelType !== undefined && modelType !== 'clip') {
    throw new ClipConfigError(`model_type ${JSON.stringify(modelType)} is not supported (a CLIPModel config with model_type "clip" is needed${modelType === 'clip_vision_model' || modelType === 'clip_text_model' ? '; this is a single tower' : ''})`);
  }
  if (raw.architectures !== undefined) {
    if (!Array.isArray(raw.architectures) || !raw.architectures.includes('CLIPModel')) {
      throw new ClipConfigError(`architectures ${JSON.stringify(raw.architectures)} is not supported (expected ["CLIPModel"])`);
    }
  }
  const t = merged(TEXT_DEFAULTS, raw.text_config, raw.text_config_dict);
  const v = merged(VISION_DEFAULTS, raw.vision_config, raw.vision_config_dict);
  const projectionDim = raw.projection_dim === undefined ? 512 : posInt(raw, 'projection_dim', 'config');
  const logitScaleInit = raw.logit_scale_init_value === undefined ? 2.6592 : raw.logit_scale_init_value;
  if (typeof logitScaleInit !== 'number' || !Number.isFinite(logitScaleInit)) throw new ClipConfigError('logit_scale_init_value must be a number');

  const textTower = tower(t, 'text_config');
  const eos = t.eos_token_id;
  if (typeof eos !== 'number' || !Number.isInteger(eos) || eos < 0) throw new ClipConfigError(`text_config.eos_token_id must be a non-negative integer, got ${JSON.stringify(eos)}`);
  const text: ClipTextConfig = {
    ...textTower,
    vocabSize: posInt(t, 'vocab_size', 'text_config'),
    maxPositions: posInt(t, 'max_position_embeddings', 'text_config'),
    eosTokenId: eos,
  };
  if (text.eosTokenId !== 2 && text.eosTokenId >= text.vocabSize) {
    throw new ClipConfigError(`text_config.eos_token_id ${text.eosTokenId} is outside the vocabulary (vocab_size ${text.vocabSize})`);
  }
  const visionTower = tower(v, 'vision_config');
  const vision: ClipVisionConfig = {
    ...visionTower,
    imageSize: posInt(v, 'image_size', 'vision_config'),
    patchSize: posInt(v, 'patch_size', 'vision_config'),
    numChannels: posInt(v, 'num_channels', 'vision_config'),
  };
  if (vision.numChannels !== 3) throw new ClipConfigError(`vision_config.num_channels ${vision.numChannels} is not supported (RGB images: 3)`);
  if (vision.imageSize % vision.patchSize !== 0) {
    throw new ClipConfigError(`vision_config.image_size ${vision.imageSize} is not a multiple of vision_config.patch_size ${vision.patchSize}`);
  }
  const config = { text, vision, projectionDim, logitScaleInit };
  const params = countClipParameters(config);
  if (params > CLIP_MAX_PARAMETERS) {
    throw new ClipConfigError(`the model has ${params.toLocaleString('en-US')} parameters, beyond the limit of ${CLIP_MAX_PARAMETERS.toLocaleString('en-US')}; the file is damaged or not a CLIP config`);
  }
  return config;
}

/** Scalars of a CLIPModel, from closed formulas (nothing allocated). */
export function countClipParameters(c: ClipConfig): number {
  const layer = (t: ClipTowerConfig): number => 4 * (t.hiddenSize * t.hiddenSize + t.hiddenSize) + 2 * t.hiddenSize * t.intermediateSize + t.intermediateSize + t.hiddenSize + 4 * t.hiddenSize;
  const t = c.text;
  const v = c.vision;
  const g = v.imageSize / v.patchSize;
  const text = (t.vocabSize + t.maxPositions) * t.hiddenSize + t.numLayers * layer(t) + 2 * t.hiddenSize;
  const vision = v.hiddenSize + v.hiddenSize * v.numChannels * v.patchSize * v.patchSize + (g * g + 1) * v.hiddenSize + 4 * v.hiddenSize + v.numLayers * layer(v);
  return text + vision + c.projectionDim * (t.hiddenSize + v.hiddenSize) + 1;
}

/** Number of patches per image side. */
export function patchGrid(v: ClipVisionConfig): number {
  return v.imageSize / v.patchSize;
}

/**
 * The tensors a CLIPModel checkpoint holds, with their PyTorch shapes (HF names; `position_ids`
 * buffers are not listed: they are ignored when present).
 */
export function clipTensorShapes(c: ClipConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const layers = (prefix: string, t: ClipTowerConfig): void => {
    const d = t.hiddenSize;
    for (let i = 0; i < t.numLayers; i++) {
      const p = `${prefix}.encoder.layers.${i}`;
      for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
        m.set(`${p}.self_attn.${proj}.weight`, [d, d]);
        m.set(`${p}.self_attn.${proj}.bias`, [d]);
      }
      m.set(`${p}.layer_norm1.weight`, [d]);
      m.set(`${p}.layer_norm1.bias`, [d]);
      m.set(`${p}.mlp.fc1.weight`, [t.intermediateSize, d]);
      m.set(`${p}.mlp.fc1.bias`, [t.intermediateSize]);
      m.set(`${p}.mlp.fc2.weight`, [d, t.intermediateSize]);
      m.set(`${p}.mlp.fc2.bias`, [d]);
      m.set(`${p}.layer_norm2.weight`, [d]);
      m.set(`${p}.layer_norm2.bias`, [d]);
    }
  };
  const t = c.text;
  m.set('text_model.embeddings.token_embedding.weight', [t.vocabSize, t.hiddenSize]);
  m.set('text_model.embeddings.position_embedding.weight', [t.maxPositions, t.hiddenSize]);
  layers('text_model', t);
  m.set('text_model.final_layer_norm.weight', [t.hiddenSize]);
  m.set('text_model.final_layer_norm.bias', [t.hiddenSize]);
  const v = c.vision;
  const g = patchGrid(v);
  m.set('vision_model.embeddings.class_embedding', [v.hiddenSize]);
  m.set('vision_model.embeddings.patch_embedding.weight', [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize]);
  m.set('vision_model.embeddings.position_embedding.weight', [g * g + 1, v.hiddenSize]);
  m.set('vision_model.pre_layrnorm.weight', [v.hiddenSize]);
  m.set('vision_model.pre_layrnorm.bias', [v.hiddenSize]);
  layers('vision_model', v);
  m.set('vision_model.post_layernorm.weight', [v.hiddenSize]);
  m.set('vision_model.post_layernorm.bias', [v.hiddenSize]);
  m.set('visual_projection.weight', [c.projectionDim, v.hiddenSize]);
  m.set('text_projection.weight', [c.projectionDim, t.hiddenSize]);
  m.set('logit_scale', []);
  return m;
}

/** True for HF buffers that carry no weights (`*.position_ids`). */
export function isIgnoredClipTensor(name: string): boolean {
  return name.endsWith('.position_ids');
}

export interface HfClipConfigExtras {
  /** `_name_or_path` (default "spikeclip/clip"). */
  nameOrPath?: string;
  /** `text_config.bos_token_id` (default eos - 1: `<|startoftext|>` right below `<|endoftext|>`, as in CLIP's vocabulary). */
  bosTokenId?: number;
  /** `text_config.pad_token_id` (default eos: spikeclip pads with the end token). */
  padTokenId?: number;
}

/**
 * A Hugging Face `config.json` object (`CLIPModel`, the fields transformers writes) for a config:
 * the inverse of {@link parseHfClipConfig}, which gives `c` back from it.
 */
export function toHfClipConfig(c: ClipConfig, extras: HfClipConfigExtras = {}): Record<string, unknown> {
  const tower = (t: ClipTowerConfig, modelType: string): Record<string, unknown> => ({
    attention_dropout: 0.0,
    hidden_act: t.hiddenAct,
    hidden_size: t.hiddenSize,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: t.intermediateSize,
    layer_norm_eps: t.layerNormEps,
    model_type: modelType,
    num_attention_heads: t.numHeads,
    num_hidden_layers: t.numLayers,
    projection_dim: c.projectionDim,
  });
  const eos = c.text.eosTokenId;
  return {
    _name_or_path: extras.nameOrPath ?? 'spikeclip/clip',
    architectures: ['CLIPModel'],
    initializer_factor: 1.0,
    logit_scale_init_value: c.logitScaleInit,
    model_type: 'clip',
    projection_dim: c.projectionDim,
    text_config: {
      ...tower(c.text, 'clip_text_model'),
      bos_token_id: extras.bosTokenId ?? Math.max(0, eos - 1),
      eos_token_id: eos,
      pad_token_id: extras.padTokenId ?? eos,
      max_position_embeddings: c.text.maxPositions,
      vocab_size: c.text.vocabSize,
    },
    torch_dtype: 'float32',
    vision_config: {
      ...tower(c.vision, 'clip_vision_model'),
      image_size: c.vision.imageSize,
      num_channels: c.vision.numChannels,
      patch_size: c.vision.patchSize,
    },
  };
}
