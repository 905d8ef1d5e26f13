/**
 * Writes a small random CLIP model folder in exactly the Hugging Face layout:
 * config.json, model.safetensors and/or pytorch_model.bin (zip + pickle, written by our own test
 * writer), vocab.json, merges.txt, preprocessor_config.json, tokenizer_config.json,
 * special_tokens_map.json. Weights are seeded and returned (HF names, PyTorch layouts) so the
 * tests can compute reference embeddings with the plain-TypeScript CLIP of ./clip-reference.
 */
import * as fs from 'fs';
import * as path from 'path';
import { serializeSafetensors } from '../../src/io/safetensors';
import { ClipConfig, clipTensorShapes, parseHfClipConfig } from '../../src/models/clip-config';
import { smallClipVocab, VocabFiles } from './clip-vocab';
import { TorchTensorSpec, torchSave } from './pickle-writer';

export interface ClipFixtureOptions {
  seed?: number;
  /** Vision tower. */
  visionHidden?: number;
  visionLayers?: number;
  visionHeads?: number;
  visionIntermediate?: number;
  patchSize?: number;
  imageSize?: number;
  /** Text tower. */
  textHidden?: number;
  textLayers?: number;
  textHeads?: number;
  textIntermediate?: number;
  maxPositions?: number;
  projectionDim?: number;
  hiddenAct?: string;
  /** text_config.eos_token_id; 'legacy' writes 2 (HF's argmax pooling), 'vocab' the real end id (default). */
  eos?: 'legacy' | 'vocab';
  /** Which weight files to write (default both). */
  safetensors?: boolean;
  bin?: boolean;
  /** Write pytorch_model.bin in half precision (F16), as many hub checkpoints are. */
  binDtype?: 'F32' | 'F16';
  /** Extra fields merged into config.json (to test validation). */
  configPatch?: Record<string, unknown>;
  /** Weight-level sabotage for error tests. */
  dropTensor?: string;
  reshapeTensor?: string;
}

export interface ClipFixture {
  dir: string;
  config: ClipConfig;
  configJson: Record<string, unknown>;
  /** HF names, PyTorch layouts (what the files hold, as float32). */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  vocab: VocabFiles;
}

/** Deterministic normal-ish numbers (sum of uniforms), seeded. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
  return () => (u() + u() + u() + u() - 2) * Math.sqrt(3);
}

const F16_ROUND = (x: number): number => {
  // round to the nearest float16 value (for the F16 .bin route the reference uses the rounded weights)
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a === 0) return 0;
  const e = Math.floor(Math.log2(a));
  const step = 2 ** (Math.max(e, -14) - 10);
  return sign * Math.round(a / step) * step;
};

export function writeClipFixture(dir: string, o: ClipFixtureOptions = {}): ClipFixture {
  const vocab = smallClipVocab();
  const endId = vocab.vocab.get('<|endoftext|>') as number;
  const startId = vocab.vocab.get('<|startoftext|>') as number;
  const configJson: Record<string, unknown> = {
    _name_or_path: 'spikeclip-test/tiny-clip',
    architectures: ['CLIPModel'],
    initializer_factor: 1.0,
    logit_scale_init_value: 2.6592,
    model_type: 'clip',
    projection_dim: o.projectionDim ?? 16,
    text_config: {
      attention_dropout: 0.0,
      bos_token_id: o.eos === 'legacy' ? 0 : startId,
      eos_token_id: o.eos === 'legacy' ? 2 : endId,
      pad_token_id: 1,
      hidden_act: o.hiddenAct ?? 'quick_gelu',
      hidden_size: o.textHidden ?? 24,
      intermediate_size: o.textIntermediate ?? 48,
      layer_norm_eps: 1e-5,
      max_position_embeddings: o.maxPositions ?? 16,
      model_type: 'clip_text_model',
      num_attention_heads: o.textHeads ?? 4,
      num_hidden_layers: o.textLayers ?? 2,
      projection_dim: o.projectionDim ?? 16,
      vocab_size: vocab.vocab.size,
    },
    torch_dtype: 'float32',
    transformers_version: '4.38.0',
    vision_config: {
      attention_dropout: 0.0,
      hidden_act: o.hiddenAct ?? 'quick_gelu',
      hidden_size: o.visionHidden ?? 32,
      image_size: o.imageSize ?? 32,
      intermediate_size: o.visionIntermediate ?? 64,
      layer_norm_eps: 1e-5,
      model_type: 'clip_vision_model',
      num_attention_heads: o.visionHeads ?? 4,
      num_channels: 3,
      num_hidden_layers: o.visionLayers ?? 2,
      patch_size: o.patchSize ?? 8,
      projection_dim: o.projectionDim ?? 16,
    },
    ...(o.configPatch ?? {}),
  };
  const config = parseHfClipConfig(configJson);
  const rnd = seededRandom(o.seed ?? 1);
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of clipTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNormWeight = /(layer_norm\d|layrnorm|layernorm|final_layer_norm)\.weight$/.test(name);
    const isNormBias = /(layer_norm\d|layrnorm|layernorm|final_layer_norm)\.bias$/.test(name);
    const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    for (let i = 0; i < n; i++) {
      if (name === 'logit_scale') data[i] = 2.6592;
      else if (isNormWeight) data[i] = 1 + 0.2 * rnd();
      else if (isNormBias) data[i] = 0.1 * rnd();
      else if (name.includes('embedding')) data[i] = 0.5 * rnd();
      else if (name.endsWith('.bias')) data[i] = 0.05 * rnd();
      else data[i] = rnd() / Math.sqrt(fanIn);
    }
    if (o.binDtype === 'F16') for (let i = 0; i < n; i++) data[i] = F16_ROUND(data[i]);
    weights.set(name, { shape, data });
  }
  const fileWeights = new Map(weights);
  if (o.dropTensor) fileWeights.delete(o.dropTensor);
  if (o.reshapeTensor) {
    const t = fileWeights.get(o.reshapeTensor)!;
    fileWeights.set(o.reshapeTensor, { shape: [t.data.length], data: t.data });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(configJson, null, 2)}\n`);
  if (o.safetensors ?? true) {
    const st = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
    for (const [n, t] of fileWeights) st.set(n, t);
    st.set('text_model.embeddings.position_ids', { shape: [1, config.text.maxPositions], data: BigInt64Array.from({ length: config.text.maxPositions }, (_, i) => BigInt(i)) });
    fs.writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(st, { format: 'pt' }));
  }
  if (o.bin ?? true) {
    const specs = new Map<string, TorchTensorSpec>();
    for (const [n, t] of fileWeights) {
      // Linear weights stored transposed in their storage (a view, as tied/transposed tensors can be) for one layer, to exercise strides.
      const transposed = n === 'text_model.encoder.layers.0.mlp.fc1.weight';
      specs.set(n, { shape: t.shape, values: t.data, dtype: o.binDtype ?? 'F32', transposedStorage: transposed });
    }
    specs.set('vision_model.embeddings.position_ids', { shape: [1, (config.vision.imageSize / config.vision.patchSize) ** 2 + 1], values: BigInt64Array.from({ length: (config.vision.imageSize / config.vision.patchSize) ** 2 + 1 }, (_, i) => BigInt(i)), dtype: 'I64' });
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), torchSave(specs, { root: 'pytorch_model' }));
  }
  fs.writeFileSync(path.join(dir, 'vocab.json'), vocab.vocabJson);
  fs.writeFileSync(path.join(dir, 'merges.txt'), vocab.mergesTxt);
  fs.writeFileSync(
    path.join(dir, 'preprocessor_config.json'),
    `${JSON.stringify(
      {
        crop_size: { height: config.vision.imageSize, width: config.vision.imageSize },
        do_center_crop: true,
        do_convert_rgb: true,
        do_normalize: true,
        do_rescale: true,
        do_resize: true,
        image_mean: [0.48145466, 0.4578275, 0.40821073],
        image_processor_type: 'CLIPImageProcessor',
        image_std: [0.26862954, 0.26130258, 0.27577711],
        resample: 3,
        rescale_factor: 0.00392156862745098,
        size: { shortest_edge: config.vision.imageSize },
      },
      null,
      2,
    )}\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    `${JSON.stringify({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: config.text.maxPositions, tokenizer_class: 'CLIPTokenizer' }, null, 2)}\n`,
  );
  fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), `${JSON.stringify({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' })}\n`);
  return { dir, config, configJson, weights, vocab };
}
