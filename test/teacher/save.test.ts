/**
 * saveTeacherCheckpoint: a teacher built here (a preset, a trained BPE vocabulary) written in the
 * layout of `convert teacher` and loaded back bit for bit.
 */
import * as tf from '../../src/tf';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultClipPreprocess } from '../../src/data/clip-preprocess';
import { CheckpointError, loadCheckpoint } from '../../src/io/checkpoint';
import { readSafetensorsFile } from '../../src/io/safetensors';
import { clipTensorShapes, toHfClipConfig } from '../../src/models/clip-config';
import { createTeacher } from '../../src/models/clip-init';
import { hfToInternal } from '../../src/models/clip-teacher';
import { loadTeacherCheckpoint } from '../../src/teacher/checkpoint';
import { saveTeacherCheckpoint } from '../../src/teacher/save';
import { clipTokenizerFiles, trainClipBpe } from '../../src/text/bpe-train';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const CORPUS = ['a photo of a red circle', 'a photo of a blue square', 'a red triangle, drawn', 'a blue circle on grey'];

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'teacher-save-'));
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function fixture(seed = 1) {
  const bpe = trainClipBpe([...CORPUS, ...CORPUS]);
  const teacher = createTeacher('clip-tiny', { vocabSize: bpe.vocabSize, seed });
  return { bpe, teacher, tokenizerFiles: clipTokenizerFiles(bpe, { contextLength: teacher.config.text.maxPositions }) };
}

describe('saveTeacherCheckpoint', () => {
  it('round trip: loadTeacherCheckpoint gives back bit-identical weights, features, tokenizer and preprocessing', async () => {
    const { bpe, teacher, tokenizerFiles } = fixture();
    const dir = path.join(tmp(), 'teacher');
    const saved = await saveTeacherCheckpoint(dir, teacher, { tokenizerFiles, provenance: { seed: 1, commandLine: ['spikeclip', 'test'] }, extra: { training: { preset: 'clip-tiny', steps: 0 } } });
    expect(saved.dir).toBe(path.resolve(dir));
    expect(saved.parameters).toBe(teacher.parameterCount());
    const loaded = await loadTeacherCheckpoint(dir);
    try {
      expect(loaded.config).toEqual(teacher.config);
      expect(loaded.contextLength).toBe(20);
      expect(loaded.preprocess).toEqual(defaultClipPreprocess(32));
      expect(loaded.tokenizer.startId).toBe(bpe.startId);
      expect(loaded.tokenizer.endId).toBe(bpe.endId);
      const before = teacher.stateDict();
      const after = loaded.teacher.stateDict();
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [name, t] of before) {
        expect(after.get(name)!.shape).toEqual(t.shape);
        expect(bitsEqual(after.get(name)!.data, t.data)).toBe(true);
      }
      const images = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const ids = loaded.tokenizer.encodeBatch(['a photo of a red circle', 'a blue square', 'something unseen'], 20);
      const pairs: [tf.Tensor, tf.Tensor][] = [
        [teacher.encodeImage(images), loaded.teacher.encodeImage(images)],
        [teacher.encodeText({ ids, batch: 3, length: 20 }), loaded.teacher.encodeText({ ids, batch: 3, length: 20 })],
      ];
      for (const [a, b] of pairs) expect(bitsEqual(a.dataSync() as Float32Array, b.dataSync() as Float32Array)).toBe(true);
      tf.dispose([images, ...pairs.flat()]);
    } finally {
      loaded.teacher.dispose();
    }
    teacher.dispose();
  });

  it('writes the layout of convert teacher: HF names, PyTorch layouts, the config.json fields, the tokenizer files', async () => {
    const { bpe, teacher, tokenizerFiles } = fixture(2);
    const dir = path.join(tmp(), 'teacher');
    await saveTeacherCheckpoint(dir, teacher, { tokenizerFiles, provenance: { seed: 2 }, source: { trained_by: 'spikeclip', run: 'runs/x' }, extra: { training: { steps: 3 } } });
    const ck = await loadCheckpoint(dir);
    const cfg = ck.config;
    expect(Object.keys(cfg)).toEqual(['format', 'formatVersion', 'kind', 'model', 'hf_config', 'preprocessor_config', 'tokenizer', 'source', 'parameters', 'provenance', 'training']);
    expect(cfg).toMatchObject({
      kind: 'teacher',
      model: 'clip',
      hf_config: toHfClipConfig(teacher.config),
      tokenizer: { type: 'clip-bpe', files: ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'], context_length: 20, start_token_id: bpe.startId, end_token_id: bpe.endId, pad_token_id: bpe.endId },
      source: { trained_by: 'spikeclip', run: 'runs/x' },
      parameters: teacher.parameterCount(),
      provenance: { seed: 2 },
      training: { steps: 3 },
    });
    expect((cfg.preprocessor_config as Record<string, unknown>).crop_size).toEqual({ height: 32, width: 32 });
    for (const [name, bytes] of tokenizerFiles) expect(Buffer.from(ck.tokenizerFiles!.get(name)!).equals(Buffer.from(bytes))).toBe(true);
    // names and shapes are exactly the Hugging Face ones (PyTorch layouts), all F32
    const st = await readSafetensorsFile(path.join(dir, 'model.safetensors'));
    const expected = clipTensorShapes(teacher.config);
    expect([...st.tensors.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, t] of st.tensors) {
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(expected.get(name));
    }
    expect(st.tensors.get('vision_model.embeddings.patch_embedding.weight')!.shape).toEqual([128, 3, 4, 4]);
    expect(st.tensors.get('text_model.encoder.layers.0.mlp.fc1.weight')!.shape).toEqual([512, 128]);
    // and hfToInternal of the file is the module's state (internalToHf is its inverse)
    const internal = hfToInternal(st.tensors);
    for (const [name, t] of teacher.stateDict()) expect(bitsEqual(internal.get(name)!.data, t.data)).toBe(true);
    teacher.dispose();
  });

  it('keeps training state for resuming', async () => {
    const { teacher, tokenizerFiles } = fixture(3);
    const dir = path.join(tmp(), 'teacher');
    const moments = new Map([['logit_scale.exp_avg', { shape: [], data: Float32Array.of(0.25) }]]);
    await saveTeacherCheckpoint(dir, teacher, { tokenizerFiles, provenance: {}, trainingState: { tensors: moments, info: { step: 7 } } });
    const ck = await loadCheckpoint(dir, { trainingState: true });
    expect(ck.trainingState!.info).toEqual({ step: 7 });
    expect(Array.from(ck.trainingState!.tensors.get('logit_scale.exp_avg')!.data as Float32Array)).toEqual([0.25]);
    teacher.dispose();
  });

  it('refuses, before writing anything: a tokenizer that does not fit, bad preprocessing, non-finite weights, a foreign config', async () => {
    const { teacher, tokenizerFiles } = fixture(4);
    const root = tmp();
    const dir = path.join(root, 'teacher');
    const save = (o: Partial<Parameters<typeof saveTeacherCheckpoint>[2]>) => saveTeacherCheckpoint(dir, teacher, { tokenizerFiles, provenance: {}, ...o });
    const noMerges = new Map(tokenizerFiles);
    noMerges.delete('merges.txt');
    await expect(save({ tokenizerFiles: noMerges })).rejects.toThrow(/needs vocab.json and merges.txt/);
    await expect(save({ tokenizerFiles: new Map([...tokenizerFiles, ['notes.txt', new Uint8Array(1)]]) })).rejects.toThrow(/notes.txt are not CLIP tokenizer files/);
    const bigger = clipTokenizerFiles(trainClipBpe(['a photo of a red circle and a photo of a blue square, twice: a photo of a red circle and a photo of a blue square']), { contextLength: 20 });
    await expect(save({ tokenizerFiles: bigger })).rejects.toThrow(/eos_token_id \d+ does not match|vocab_size/);
    await expect(save({ preprocessorConfig: { crop_size: { height: 64, width: 64 }, size: { shortest_edge: 64 } } })).rejects.toThrow(/crops 64x64 but the teacher takes 32x32/);
    await expect(save({ hfConfig: toHfClipConfig({ ...teacher.config, projectionDim: 256 }) })).rejects.toThrow(/describes another model/);
    await expect(save({ extra: { kind: 'student' } })).rejects.toThrow(/would replace a standard/);
    teacher.text_projection.weight.assign(tf.fill(teacher.text_projection.weight.shape, NaN));
    await expect(save({})).rejects.toThrow(CheckpointError);
    await expect(save({})).rejects.toThrow(/tensor text_projection.weight holds NaN at index 0/);
    expect(fs.readdirSync(root)).toEqual([]);
    teacher.dispose();
  });
});
