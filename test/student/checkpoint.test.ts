import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../../src/tf';
import { inspectCheckpoint } from '../../src/inspect/inspect';
import { readCheckpointConfig, saveCheckpoint } from '../../src/io/checkpoint';
import { getPreset, type SpikeClipConfig } from '../../src/models/config';
import { SpikeClip } from '../../src/models/spikeclip';
import { loadStudentCheckpoint, saveStudentCheckpoint } from '../../src/student/checkpoint';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A very small student (tiny image side, small vocabulary) so the test runs in seconds. */
function micro(): SpikeClipConfig {
  const c = getPreset('spikeclip-tiny');
  c.image.embedDim = 16;
  c.image.heads = 2;
  c.text.vocabSize = 64;
  c.text.maxPositions = 8;
  c.text.contextLength = 4;
  c.text.width = 8;
  c.text.hidden = 16;
  c.text.outputDim = 512;
  return c;
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-student-'));

describe('student checkpoints', () => {
  it('round-trips the architecture and every tensor: identical embeddings after reload', async () => {
    const model = new SpikeClip(micro(), { seed: 3 });
    const dir = path.join(tmp(), 'ckpt');
    await saveStudentCheckpoint(dir, model, { extra: { stage: 'test' }, trainingState: { tensors: new Map([['opt.m', { shape: [2], data: new Float32Array([1, 2]) }]]), info: { step: 7 } } });
    const images = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1);
    const ids = tf.tensor2d([[49, 1, 2, 63], [5, 6, 7, 8]], [2, 4], 'int32');
    const a = model.encodeImage(images).arraySync();
    const at = model.encodeText(ids).arraySync();
    const loaded = await loadStudentCheckpoint(dir, { trainingState: true });
    expect(loaded.config).toEqual(model.config);
    expect(loaded.raw.stage).toBe('test');
    expect(loaded.model.encodeImage(images).arraySync()).toEqual(a);
    expect(loaded.model.encodeText(ids).arraySync()).toEqual(at);
    expect(loaded.trainingState?.info).toEqual({ step: 7 });
    expect(Array.from(loaded.trainingState?.tensors.get('opt.m')?.data ?? [])).toEqual([1, 2]);
    const cfg = await readCheckpointConfig(dir);
    expect(cfg.kind).toBe('student');
    model.dispose();
    loaded.model.dispose();
  });

  it('inspect finds the tensors match the stored architecture', async () => {
    const model = new SpikeClip(micro(), { seed: 1 });
    const dir = path.join(tmp(), 'ckpt');
    await saveStudentCheckpoint(dir, model);
    const r = await inspectCheckpoint(dir);
    expect(r.architectureCheck).toEqual({ matches: true, missing: [], unexpected: [], shapeMismatches: [] });
    expect(r.parts.find((p) => p.name === 'image')?.parameters).toBe(model.image.parameterCount());
    expect(r.parts.find((p) => p.name === 'text')?.parameters).toBe(model.text.parameterCount());
    model.dispose();
  });

  it('refuses a teacher checkpoint and a checkpoint whose weights do not fit its architecture', async () => {
    const root = tmp();
    await saveCheckpoint(path.join(root, 'teacher'), { config: { kind: 'teacher' }, weights: new Map() });
    await expect(loadStudentCheckpoint(path.join(root, 'teacher'))).rejects.toThrow('is a teacher checkpoint; a student (spiking) checkpoint is needed here');
    const bad = micro();
    await saveCheckpoint(path.join(root, 'bad'), { config: { kind: 'student', architecture: bad as unknown as Record<string, unknown> }, weights: new Map([['image.proj.weight', { shape: [1], data: new Float32Array(1) }]]) });
    await expect(loadStudentCheckpoint(path.join(root, 'bad'))).rejects.toThrow(/does not match its architecture: (missing|shape mismatch)/);
    const r = await inspectCheckpoint(path.join(root, 'bad'));
    expect(r.architectureCheck?.matches).toBe(false);
    expect(r.architectureCheck?.shapeMismatches[0]).toMatch(/^image\.proj\.weight: stored \[1\]/);
  });
  it('compares the stored shapes with config.json before building the model (issue 13)', async () => {
    const model = new SpikeClip(micro(), { seed: 1 });
    const dir = path.join(tmp(), 'ckpt');
    await saveStudentCheckpoint(dir, model);
    model.dispose();
    const file = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    // legal on its own (within every bound and the parameter budget) but 800 MB to build
    cfg.architecture.text.vocabSize = 400_000;
    cfg.architecture.text.width = 512;
    fs.writeFileSync(file, JSON.stringify(cfg));
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = Date.now();
    await expect(loadStudentCheckpoint(dir)).rejects.toThrow(/model\.safetensors does not match its architecture: shape mismatch: text\.fc1\.weight is \[32, 16\], the architecture needs \[2048, 16\]/);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(100 * 2 ** 20);
  });
});
