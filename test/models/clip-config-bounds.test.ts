/** A teacher's config.json is bounded like a student's (issue 13): refused by name before any allocation. */
import { CLIP_MAX_PARAMETERS, ClipConfigError, clipTensorShapes, countClipParameters, parseHfClipConfig } from '../../src/models/clip-config';

const bad = (raw: Record<string, unknown>, message: RegExp): void => {
  const t0 = Date.now();
  expect(() => parseHfClipConfig(raw, 'ck/config.json hf_config')).toThrow(ClipConfigError);
  expect(() => parseHfClipConfig(raw, 'ck/config.json hf_config')).toThrow(message);
  expect(Date.now() - t0).toBeLessThan(200);
};

describe('parseHfClipConfig bounds', () => {
  it('refuses each absurd size field naming the file and key', () => {
    bad({ text_config: { num_hidden_layers: 1e7 } }, /^ck\/config\.json hf_config: text_config\.num_hidden_layers 10000000 is beyond the limit 128/);
    bad({ vision_config: { hidden_size: 2 ** 20, num_attention_heads: 2 } }, /vision_config\.hidden_size 1048576 is beyond the limit 8192/);
    bad({ text_config: { vocab_size: 1e9 } }, /text_config\.vocab_size 1000000000 is beyond the limit 1000000/);
    bad({ vision_config: { image_size: 1e6, patch_size: 1000 } }, /vision_config\.image_size 1000000 is beyond the limit 1024/);
    bad({ text_config: { max_position_embeddings: 1e9 } }, /max_position_embeddings 1000000000 is beyond the limit 4096/);
    bad({ text_config: { intermediate_size: 1e9 } }, /intermediate_size 1000000000 is beyond the limit 65536/);
    bad({ projection_dim: 1e9 }, /config\.projection_dim 1000000000 is beyond the limit 8192/);
  });

  it('refuses fields that are legal alone but too large together', () => {
    bad({ text_config: { hidden_size: 8192, num_attention_heads: 8, intermediate_size: 65536, num_hidden_layers: 128 } }, /parameters, beyond the limit of/);
  });

  it('counts a default CLIP exactly as its tensor list', () => {
    const c = parseHfClipConfig({});
    let n = 0;
    for (const s of clipTensorShapes(c).values()) n += s.reduce((a, b) => a * b, 1);
    expect(countClipParameters(c)).toBe(n);
    expect(n).toBeLessThan(CLIP_MAX_PARAMETERS);
  });
});
