/**
 * Small CLIP architectures for teachers trained from scratch (`spikeclip pretrain --part clip
 * --target teacher`), as plain data that becomes a Hugging Face `config.json` (`CLIPModel`) and
 * `preprocessor_config.json` (`CLIPImageProcessor`). The configs go through the same
 * `parseHfClipConfig` as a downloaded CLIP's, so a teacher trained here is in every respect a
 * Hugging Face CLIP (and loads in `transformers` as one).
 *
 * The vocabulary size is a parameter: it is that of the BPE vocabulary trained on the corpus
 * (src/text/bpe-train.ts), whose `<|startoftext|>` and `<|endoftext|>` are the two highest ids.
 * Every preset projects to 512 dimensions, the width of the spikeclip student presets.
 */
import { ClipActivation, ClipConfig, ClipConfigError, ClipTowerConfig, parseHfClipConfig, toHfClipConfig } from './clip-config';

/** CLIP's normalisation (the values of src/data/transforms.ts, not imported: that module loads sharp). */
const CLIP_IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_IMAGE_STD = [0.26862954, 0.26130258, 0.27577711];

export interface ClipTowerPreset {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  hiddenAct: ClipActivation;
}

export interface ClipPreset {
  /** What the preset is for, one line (for --help and inspect). */
  description: string;
  vision: ClipTowerPreset & { imageSize: number; patchSize: number };
  text: ClipTowerPreset & { maxPositions: number };
  projectionDim: number;
}

const PRESETS: Readonly<Record<string, ClipPreset>> = {
  'clip-tiny': {
    description: 'ViT 32x32 / patch 4, width 128, 2 layers; text width 128, 2 layers, 20 tokens (the student context); 512-d embeddings',
    vision: { imageSize: 32, patchSize: 4, hiddenSize: 128, intermediateSize: 512, numLayers: 2, numHeads: 4, hiddenAct: 'quick_gelu' },
    text: { maxPositions: 20, hiddenSize: 128, intermediateSize: 512, numLayers: 2, numHeads: 4, hiddenAct: 'quick_gelu' },
    projectionDim: 512,
  },
  'clip-small': {
    description: 'ViT 64x64 / patch 8, width 256, 4 layers; text width 256, 4 layers, 77 tokens; 512-d embeddings',
    vision: { imageSize: 64, patchSize: 8, hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 8, hiddenAct: 'quick_gelu' },
    text: { maxPositions: 77, hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 8, hiddenAct: 'quick_gelu' },
    projectionDim: 512,
  },
};

export const CLIP_PRESET_NAMES: readonly string[] = Object.freeze(Object.keys(PRESETS));

/** A copy of a named preset; unknown names are refused with the list of choices. */
export function getClipPreset(name: string): ClipPreset {
  const p = PRESETS[name];
  if (p === undefined) throw new ClipConfigError(`unknown CLIP preset "${name}"; choose one of ${CLIP_PRESET_NAMES.join(', ')}`);
  return { description: p.description, vision: { ...p.vision }, text: { ...p.text }, projectionDim: p.projectionDim };
}

export interface ClipPresetVocabulary {
  /** Size of the tokenizer's vocabulary (its highest id + 1). */
  vocabSize: number;
  /** `<|endoftext|>`, where texts are pooled (default vocabSize - 1, as the BPE trainer lays out). */
  eosTokenId?: number;
  /** `<|startoftext|>` (default vocabSize - 2). */
  bosTokenId?: number;
}

/**
 * The Hugging Face `config.json` object of a preset (or of a custom {@link ClipPreset}) for a
 * vocabulary, with the fields `transformers` writes for a `CLIPModel`.
 */
export function clipPresetHfConfig(preset: string | ClipPreset, vocabulary: ClipPresetVocabulary): Record<string, unknown> {
  const p = typeof preset === 'string' ? getClipPreset(preset) : preset;
  const { vocabSize } = vocabulary;
  if (!Number.isInteger(vocabSize) || vocabSize < 3) throw new ClipConfigError(`the vocabulary size must be an integer >= 3, got ${vocabSize}`);
  const name = typeof preset === 'string' ? preset : 'custom';
  const eosTokenId = vocabulary.eosTokenId ?? vocabSize - 1;
  const tower = (t: ClipTowerPreset): ClipTowerConfig => ({ hiddenSize: t.hiddenSize, intermediateSize: t.intermediateSize, numLayers: t.numLayers, numHeads: t.numHeads, hiddenAct: t.hiddenAct, layerNormEps: 1e-5 });
  const config: ClipConfig = {
    text: { ...tower(p.text), vocabSize, maxPositions: p.text.maxPositions, eosTokenId },
    vision: { ...tower(p.vision), imageSize: p.vision.imageSize, patchSize: p.vision.patchSize, numChannels: 3 },
    projectionDim: p.projectionDim,
    logitScaleInit: 2.6592,
  };
  const json = toHfClipConfig(config, { nameOrPath: `spikeclip/${name}`, bosTokenId: vocabulary.bosTokenId ?? vocabSize - 2 });
  parseHfClipConfig(json, `CLIP preset ${name}`); // refuses an inconsistent custom preset by field
  return json;
}

/** The parsed config of a preset for a vocabulary (what `new ClipTeacher(config)` takes). */
export function clipPresetConfig(preset: string | ClipPreset, vocabulary: ClipPresetVocabulary): ClipConfig {
  return parseHfClipConfig(clipPresetHfConfig(preset, vocabulary), `CLIP preset ${typeof preset === 'string' ? preset : 'custom'}`);
}

/**
 * The `preprocessor_config.json` object for a tower of `imageSize` pixels: CLIP's processor
 * (shortest side to the size, bicubic, centre crop, 1/255, CLIP mean and std).
 */
export function clipPreprocessorConfig(imageSize: number): Record<string, unknown> {
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new ClipConfigError(`image size must be a positive integer, got ${imageSize}`);
  return {
    crop_size: { height: imageSize, width: imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [...CLIP_IMAGE_MEAN],
    image_processor_type: 'CLIPImageProcessor',
    image_std: [...CLIP_IMAGE_STD],
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: imageSize },
  };
}
