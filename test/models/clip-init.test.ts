import * as tf from '../../src/tf';
import { clipTensorShapes } from '../../src/models/clip-config';
import { clipInitOf, createTeacher } from '../../src/models/clip-init';
import { clipPresetConfig } from '../../src/models/clip-presets';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('createTeacher: a Hugging Face-initialised preset', () => {
  it('draws every tensor from its documented distribution', () => {
    const t = createTeacher('clip-tiny', { vocabSize: 600, seed: 1 });
    const c = t.config;
    expect(c).toEqual(clipPresetConfig('clip-tiny', { vocabSize: 600 }));
    const off: string[] = [];
    for (const [name, v] of t.namedParameters()) {
      const d = v.dataSync();
      const init = clipInitOf(name, c);
      if ('constant' in init) {
        if (!d.every((x) => x === Math.fround(init.constant))) off.push(`${name}: not constant ${init.constant}`);
        continue;
      }
      let s = 0;
      let s2 = 0;
      for (const x of d) {
        s += x;
        s2 += x * x;
      }
      const mean = s / d.length;
      const std = Math.sqrt(s2 / d.length - mean * mean);
      // sampling error of the std of n normals ~ std / sqrt(2n); the smallest tensors have 128 values
      if (Math.abs(std / init.normal - 1) > 0.2 || Math.abs(mean) > (4 * init.normal) / Math.sqrt(d.length)) off.push(`${name}: mean ${mean} std ${std}, expected N(0, ${init.normal})`);
    }
    expect(off).toEqual([]);
    // spot checks of the formulas (clip-tiny: D 128, 2 layers)
    expect(clipInitOf('vision_model.encoder.layers.1.self_attn.q_proj.weight', c)).toEqual({ normal: 128 ** -0.5 * 4 ** -0.5 });
    expect(clipInitOf('text_model.encoder.layers.0.mlp.fc1.weight', c)).toEqual({ normal: 256 ** -0.5 });
    expect(clipInitOf('text_model.encoder.layers.0.self_attn.out_proj.weight', c)).toEqual({ normal: 128 ** -0.5 });
    expect(clipInitOf('vision_model.embeddings.class_embedding', c)).toEqual({ normal: 128 ** -0.5 });
    expect(clipInitOf('vision_model.embeddings.patch_embedding.weight', c)).toEqual({ normal: 0.02 });
    expect(clipInitOf('logit_scale', c)).toEqual({ constant: 2.6592 });
    expect(clipInitOf('vision_model.pre_layrnorm.weight', c)).toEqual({ constant: 1 });
    expect(clipInitOf('vision_model.encoder.layers.0.self_attn.k_proj.bias', c)).toEqual({ constant: 0 });
    // every tensor of the config has a rule
    for (const name of clipTensorShapes(c).keys()) expect(() => clipInitOf(name, c)).not.toThrow();
    expect(() => clipInitOf('something.else', c)).toThrow(/no CLIP initialisation/);
    t.dispose();
  });

  it('is reproducible from the seed, and gives finite, distinct features', () => {
    const a = createTeacher('clip-tiny', { vocabSize: 600, seed: 4 });
    const b = createTeacher('clip-tiny', { vocabSize: 600, seed: 4 });
    const other = createTeacher('clip-tiny', { vocabSize: 600, seed: 5 });
    const wa = a.toHfWeights();
    const wb = b.toHfWeights();
    const wo = other.toHfWeights();
    for (const [name, t] of wa) expect(Buffer.from((wb.get(name)!.data).buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    expect(wo.get('text_model.embeddings.token_embedding.weight')!.data).not.toEqual(wa.get('text_model.embeddings.token_embedding.weight')!.data);
    const feats = tf.tidy(() => a.encodeImage(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D).arraySync());
    expect(feats.flat().every(Number.isFinite)).toBe(true);
    expect(feats[0]).not.toEqual(feats[1]);
    [a, b, other].forEach((t) => t.dispose());
  });
});
