import { clipTensorShapes, ClipConfigError, parseHfClipConfig, toHfClipConfig } from '../../src/models/clip-config';
import { CLIP_PRESET_NAMES, clipPreprocessorConfig, clipPresetConfig, clipPresetHfConfig, getClipPreset } from '../../src/models/clip-presets';
import { getPreset, PRESET_NAMES } from '../../src/models/config';
import { defaultClipPreprocess, parseClipPreprocessConfig } from '../../src/data/clip-preprocess';
import { CLIP_MEAN, CLIP_STD } from '../../src/data/transforms';
import { trainClipBpe } from '../../src/text/bpe-train';

function parameters(name: string, vocabSize: number): number {
  let n = 0;
  for (const shape of clipTensorShapes(clipPresetConfig(name, { vocabSize })).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

describe('CLIP presets', () => {
  it('clip-tiny and clip-small are the documented architectures, as Hugging Face configs', () => {
    expect(CLIP_PRESET_NAMES).toEqual(['clip-tiny', 'clip-small']);
    const tiny = clipPresetConfig('clip-tiny', { vocabSize: 1000 });
    expect(tiny.vision).toEqual({ hiddenSize: 128, intermediateSize: 512, numLayers: 2, numHeads: 4, hiddenAct: 'quick_gelu', layerNormEps: 1e-5, imageSize: 32, patchSize: 4, numChannels: 3 });
    expect(tiny.text).toEqual({ hiddenSize: 128, intermediateSize: 512, numLayers: 2, numHeads: 4, hiddenAct: 'quick_gelu', layerNormEps: 1e-5, vocabSize: 1000, maxPositions: 20, eosTokenId: 999 });
    expect(tiny.projectionDim).toBe(512);
    expect(tiny.logitScaleInit).toBe(2.6592); // HF's ln(1 / 0.07), rounded as transformers writes it
    const small = clipPresetConfig('clip-small', { vocabSize: 3000 });
    expect(small.vision).toMatchObject({ imageSize: 64, patchSize: 8, hiddenSize: 256, numLayers: 4, numHeads: 8, intermediateSize: 1024 });
    expect(small.text).toMatchObject({ hiddenSize: 256, numLayers: 4, numHeads: 8, maxPositions: 77, vocabSize: 3000, eosTokenId: 2999 });
    expect(small.projectionDim).toBe(512);
    // parameter counts quoted in docs/architecture.md (vocabulary 2,514: 2,000 merges)
    expect(parameters('clip-tiny', 2514)).toBe(1_263_873);
    expect(parameters('clip-small', 2514)).toBe(7_311_105);
  });

  it('writes the fields transformers writes, and what it writes parses back to the same config', () => {
    const json = clipPresetHfConfig('clip-tiny', { vocabSize: 700 });
    expect(json).toMatchObject({ architectures: ['CLIPModel'], model_type: 'clip', projection_dim: 512 });
    expect(json.text_config).toMatchObject({ model_type: 'clip_text_model', vocab_size: 700, bos_token_id: 698, eos_token_id: 699, max_position_embeddings: 20 });
    expect(json.vision_config).toMatchObject({ model_type: 'clip_vision_model', image_size: 32, patch_size: 4, num_channels: 3 });
    const roundTrip = parseHfClipConfig(JSON.parse(JSON.stringify(json)));
    expect(roundTrip).toEqual(clipPresetConfig('clip-tiny', { vocabSize: 700 }));
    expect(clipPresetConfig('clip-tiny', { vocabSize: 700, eosTokenId: 5 }).text.eosTokenId).toBe(5);
  });

  it('matches a trained BPE vocabulary: eos is its <|endoftext|>', () => {
    const bpe = trainClipBpe(['a red circle', 'a red circle', 'a blue square', 'a blue square']);
    const c = clipPresetConfig('clip-tiny', { vocabSize: bpe.vocabSize });
    expect(c.text.eosTokenId).toBe(bpe.endId);
    expect(c.text.vocabSize).toBe(bpe.endId + 1);
  });

  it('projects to the width of every spikeclip student preset', () => {
    for (const name of CLIP_PRESET_NAMES) {
      const p = getClipPreset(name);
      for (const student of PRESET_NAMES) {
        expect(p.projectionDim).toBe(getPreset(student).image.outputDim);
        expect(p.projectionDim).toBe(getPreset(student).text.outputDim);
      }
    }
  });

  it('refuses unknown presets, bad vocabularies and inconsistent custom presets by name', () => {
    expect(() => getClipPreset('clip-huge')).toThrow('unknown CLIP preset "clip-huge"; choose one of clip-tiny, clip-small');
    expect(() => clipPresetHfConfig('clip-tiny', { vocabSize: 2 })).toThrow(ClipConfigError);
    const bad = getClipPreset('clip-tiny');
    bad.vision.patchSize = 5;
    expect(() => clipPresetHfConfig(bad, { vocabSize: 600 })).toThrow(/CLIP preset custom: vision_config.image_size 32 is not a multiple of vision_config.patch_size 5/);
    // getClipPreset hands out copies
    expect(getClipPreset('clip-tiny').vision.patchSize).toBe(4);
  });
});

describe('preprocessor_config.json of a preset', () => {
  it.each([32, 64])('is CLIP\'s processor at %i pixels', (size) => {
    const raw = clipPreprocessorConfig(size);
    expect(raw.image_mean).toEqual([...CLIP_MEAN]);
    expect(raw.image_std).toEqual([...CLIP_STD]);
    expect(parseClipPreprocessConfig(JSON.parse(JSON.stringify(raw)), size)).toEqual(defaultClipPreprocess(size));
  });

  it('refuses a bad size', () => {
    expect(() => clipPreprocessorConfig(0)).toThrow(/positive integer/);
  });
});

describe('toHfClipConfig', () => {
  it('is the inverse of parseHfClipConfig, legacy eos_token_id 2 and other activations included', () => {
    const base = clipPresetConfig('clip-small', { vocabSize: 900 });
    const variants = [
      base,
      { ...base, text: { ...base.text, eosTokenId: 2, hiddenAct: 'gelu' as const, layerNormEps: 1e-6 }, vision: { ...base.vision, hiddenAct: 'gelu_new' as const }, logitScaleInit: 1.5, projectionDim: 64 },
    ];
    for (const c of variants) {
      const json = JSON.parse(JSON.stringify(toHfClipConfig(c))) as Record<string, unknown>;
      expect(parseHfClipConfig(json)).toEqual(c);
      expect(json).toMatchObject({ architectures: ['CLIPModel'], model_type: 'clip', _name_or_path: 'spikeclip/clip' });
    }
    expect(toHfClipConfig(base, { nameOrPath: 'x/y', bosTokenId: 7, padTokenId: 1 })).toMatchObject({ _name_or_path: 'x/y', text_config: { bos_token_id: 7, pad_token_id: 1, eos_token_id: 899 } });
  });
});
