import * as tf from '../../src/tf';
import { benchTeacher, imageMacs, vitB16Config } from '../../bench/teacher';
import { parseHfClipConfig } from '../../src/models/clip-config';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('bench/teacher', () => {
  it('the default architecture is CLIP ViT-B/16 (~17.6 G multiply-accumulates per image)', () => {
    const c = vitB16Config();
    expect(c.vision).toMatchObject({ hiddenSize: 768, numLayers: 12, numHeads: 12, patchSize: 16, imageSize: 224, intermediateSize: 3072, hiddenAct: 'quick_gelu' });
    expect(c.text).toMatchObject({ hiddenSize: 512, numLayers: 12, vocabSize: 49408, maxPositions: 77 });
    expect(imageMacs(c) / 1e9).toBeCloseTo(17.56, 1);
  });

  it('measures images/s on a tiny teacher without leaking tensors', async () => {
    const config = parseHfClipConfig({ vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, image_size: 32, patch_size: 8 }, text_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 100, eos_token_id: 99 }, projection_dim: 8 });
    const before = tf.memory().numTensors;
    const r = await benchTeacher({ config, label: 'tiny', batch: 2, reps: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.name).toBe('teacher-image-embed/tiny/b2');
    expect(r.unit).toBe('images');
    expect(r.imagesPerSecond).toBeGreaterThan(0);
    expect(r.perSecond).toBe(r.imagesPerSecond);
    expect(r.reps).toBe(2);
    expect(r.details.tensorsAddedAfterWarmup).toBe(0);
  });
});
