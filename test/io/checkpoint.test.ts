import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  checkpointHash,
  isCheckpointDir,
  loadCheckpoint,
  readCheckpointConfig,
  saveCheckpoint,
} from '../../src/io/checkpoint';
import { SafeTensorInput, parseSafetensors, tensorToFloat32 } from '../../src/io/safetensors';

type SafeTensorInputMap = Map<string, SafeTensorInput>;

function weights(scale = 1): SafeTensorInputMap {
  return new Map([
    ['image.tokenizer.conv0.weight', { shape: [4, 3, 3, 3], data: Float32Array.from({ length: 108 }, (_, i) => i * scale) }],
    ['image.head.bias', { shape: [4], data: Float32Array.from([1, 2, 3, 4].map((v) => v * scale)) }],
    ['logit_scale', { shape: [], data: Float32Array.from([4.6052]) }],
  ]);
}

function listAll(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

describe('checkpoint', () => {
  let root: string;
  let dir: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-ckpt-'));
    dir = path.join(root, 'checkpoints', 'epoch_1');
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('round-trips config, weights, tokenizer files and training state', async () => {
    const tokenizerFiles = new Map([
      ['vocab.json', new Uint8Array(Buffer.from('{"a":1}'))],
      ['merges.txt', new Uint8Array(Buffer.from('#version: 0.2\na b\n'))],
    ]);
    await saveCheckpoint(dir, {
      config: { kind: 'student', model: { T: 4, dim: 384, neuron: { tau: 2, vThreshold: 1, vReset: 0 } }, teacher: 'ViT-B/32' },
      weights: weights(),
      tokenizerFiles,
      trainingState: {
        tensors: new Map([['adam.m.image.head.bias', { shape: [4], data: Float32Array.from([0.1, 0.2, 0.3, 0.4]) }]]),
        info: { step: 1200, epoch: 1, rng: [1, 2, 3, 4] },
      },
    });
    expect(listAll(dir)).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer',
      'tokenizer/merges.txt',
      'tokenizer/vocab.json',
      'training_state.json',
      'training_state.safetensors',
    ]);
    // No temp or backup litter next to the checkpoint.
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['epoch_1']);

    const configText = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(configText.startsWith('{\n  "format": "spikeclip-checkpoint",\n  "formatVersion": 1,\n  "kind": "student",')).toBe(true);
    expect(configText.endsWith('}\n')).toBe(true);

    const ck = await loadCheckpoint(dir, { trainingState: true });
    expect(ck.dir).toBe(path.resolve(dir));
    expect(ck.config).toEqual({
      format: CHECKPOINT_FORMAT,
      formatVersion: 1,
      kind: 'student',
      model: { T: 4, dim: 384, neuron: { tau: 2, vThreshold: 1, vReset: 0 } },
      teacher: 'ViT-B/32',
    });
    expect(ck.weightsMetadata).toEqual({ spikeclip_format_version: '1' });
    const w = ck.weights;
    expect(w).toBeDefined();
    for (const [name, t] of weights()) {
      const got = w?.get(name);
      expect(got?.dtype).toBe('F32');
      expect(got?.shape).toEqual(t.shape);
      expect(Array.from(tensorToFloat32(got!))).toEqual(Array.from(t.data as Float32Array));
    }
    expect(ck.tokenizerFiles && Buffer.from(ck.tokenizerFiles.get('merges.txt')!).toString()).toBe('#version: 0.2\na b\n');
    expect([...(ck.tokenizerFiles?.keys() ?? [])]).toEqual(['merges.txt', 'vocab.json']);
    expect(ck.trainingState?.info).toEqual({ step: 1200, epoch: 1, rng: [1, 2, 3, 4] });
    expect(Array.from(tensorToFloat32(ck.trainingState!.tensors.get('adam.m.image.head.bias')!))).toEqual(
      Array.from(Float32Array.from([0.1, 0.2, 0.3, 0.4])),
    );

    // The weights file is a plain safetensors file with the documented metadata.
    const raw = parseSafetensors(fs.readFileSync(path.join(dir, 'model.safetensors')), 'model.safetensors');
    expect(raw.metadata).toEqual({ spikeclip_format_version: '1' });
  });

  it('loads selectively', async () => {
    await saveCheckpoint(dir, {
      config: { kind: 'teacher' },
      weights: weights(),
      trainingState: { tensors: new Map(), info: { step: 1 } },
    });
    const noWeights = await loadCheckpoint(dir, { weights: false });
    expect(noWeights.weights).toBeUndefined();
    expect(noWeights.trainingState).toBeUndefined(); // not requested
    expect(noWeights.tokenizerFiles).toBeUndefined(); // none saved
    const withState = await loadCheckpoint(dir, { weights: false, trainingState: true });
    expect(withState.trainingState?.info).toEqual({ step: 1 });
    expect(withState.trainingState?.tensors.size).toBe(0);
    expect((await readCheckpointConfig(dir)).kind).toBe('teacher');
  });

  it('overwrites an existing checkpoint completely', async () => {
    await saveCheckpoint(dir, { config: { kind: 'student', v: 1 }, weights: weights(), trainingState: { tensors: {}, info: {} } });
    await saveCheckpoint(dir, { config: { kind: 'student', v: 2 }, weights: weights(2) });
    expect(listAll(dir)).toEqual(['config.json', 'model.safetensors']);
    const ck = await loadCheckpoint(dir, { trainingState: true });
    expect(ck.config.v).toBe(2);
    expect(ck.trainingState).toBeUndefined();
    expect(Array.from(tensorToFloat32(ck.weights!.get('image.head.bias')!))).toEqual([2, 4, 6, 8]);
  });

  it('a crash while saving keeps the old checkpoint intact', async () => {
    await saveCheckpoint(dir, { config: { kind: 'student', v: 1 }, weights: weights() });
    const before = new Map(listAll(dir).map((f) => [f, fs.statSync(path.join(dir, f)).isFile() ? fs.readFileSync(path.join(dir, f)).toString('hex') : 'dir']));
    const hashBefore = await checkpointHash(dir);

    // Crash after config.json has been written and model.safetensors only partly written.
    const realWriteFile = fs.promises.writeFile.bind(fs.promises);
    jest.spyOn(fs.promises, 'writeFile').mockImplementation(async (file, data, options) => {
      if (String(file).endsWith('model.safetensors')) {
        const bytes = data as Uint8Array;
        await realWriteFile(file, bytes.subarray(0, bytes.length >> 1));
        throw new Error('ENOSPC: simulated crash while writing weights');
      }
      return realWriteFile(file, data, options);
    });
    await expect(saveCheckpoint(dir, { config: { kind: 'student', v: 2 }, weights: weights(3) })).rejects.toThrow(/ENOSPC/);
    jest.restoreAllMocks();

    const after = new Map(listAll(dir).map((f) => [f, fs.statSync(path.join(dir, f)).isFile() ? fs.readFileSync(path.join(dir, f)).toString('hex') : 'dir']));
    expect(after).toEqual(before);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['epoch_1']);
    expect(await checkpointHash(dir)).toBe(hashBefore);
    expect((await loadCheckpoint(dir)).config.v).toBe(1);
  });

  it('invalid content is rejected before anything is written', async () => {
    await expect(saveCheckpoint(dir, { config: { kind: 'student', lr: NaN }, weights: weights() })).rejects.toThrow(/config is not JSON-serialisable: "lr" is NaN/);
    await expect(saveCheckpoint(dir, { config: { kind: 'student', n: 1n }, weights: weights() })).rejects.toThrow(/"n" is a bigint/);
    await expect(saveCheckpoint(dir, { config: { kind: '' }, weights: weights() })).rejects.toThrow(/kind must be a non-empty string/);
    await expect(saveCheckpoint(dir, { config: { kind: 'student', formatVersion: 7 }, weights: weights() })).rejects.toThrow(/formatVersion 1/);
    await expect(
      saveCheckpoint(dir, { config: { kind: 'student' }, weights: weights(), tokenizerFiles: new Map([['../evil', new Uint8Array()]]) }),
    ).rejects.toThrow(/invalid tokenizer file name "..\/evil"/);
    await expect(saveCheckpoint(dir, { config: { kind: 'student' }, weights: { w: { shape: [2], data: new Float32Array(1) } } })).rejects.toThrow(
      /holds 2 elements/,
    );
    expect(fs.existsSync(root) ? listAll(root) : []).toEqual([]);
  });

  it('hash is the sha256 of model.safetensors', async () => {
    await saveCheckpoint(dir, { config: { kind: 'student' }, weights: weights() });
    const expected = createHash('sha256').update(fs.readFileSync(path.join(dir, 'model.safetensors'))).digest('hex');
    const h = await checkpointHash(dir);
    expect(h).toBe(expected);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    // Same weights, different config: same hash. Different weights: different hash.
    const other = path.join(root, 'other');
    await saveCheckpoint(other, { config: { kind: 'student', note: 'x' }, weights: weights() });
    expect(await checkpointHash(other)).toBe(h);
    await saveCheckpoint(other, { config: { kind: 'student' }, weights: weights(2) });
    expect(await checkpointHash(other)).not.toBe(h);
  });

  describe('errors', () => {
    async function errorOf(p: Promise<unknown>): Promise<CheckpointError> {
      try {
        await p;
      } catch (err) {
        expect(err).toBeInstanceOf(CheckpointError);
        return err as CheckpointError;
      }
      throw new Error('expected a CheckpointError');
    }

    it('missing directory', async () => {
      const missing = path.join(root, 'nope');
      expect((await errorOf(loadCheckpoint(missing))).message).toBe(`checkpoint not found: ${missing}`);
      expect((await errorOf(checkpointHash(missing))).message).toBe(`checkpoint not found: ${missing}`);
      expect(await isCheckpointDir(missing)).toBe(false);
    });

    it('directory without config.json', async () => {
      fs.mkdirSync(dir, { recursive: true });
      const e = await errorOf(loadCheckpoint(dir));
      expect(e.message).toBe(`not a spikeclip checkpoint: ${dir} (expected config.json and model.safetensors): config.json is missing`);
      expect(e.path).toBe(dir);
      expect(await isCheckpointDir(dir)).toBe(false);
    });

    it('a weights file instead of a directory', async () => {
      const f = path.join(root, 'model.safetensors');
      fs.writeFileSync(f, '');
      const e = await errorOf(loadCheckpoint(f));
      expect(e.message).toMatch(/^not a spikeclip checkpoint: .*it is a file, not a directory; pass the checkpoint directory, not the weights file$/);
    });

    it('missing model.safetensors', async () => {
      await saveCheckpoint(dir, { config: { kind: 'student' }, weights: weights() });
      fs.rmSync(path.join(dir, 'model.safetensors'));
      expect((await errorOf(loadCheckpoint(dir))).message).toMatch(/not a spikeclip checkpoint: .*model.safetensors is missing/);
      expect((await errorOf(checkpointHash(dir))).message).toMatch(/model.safetensors is missing/);
      expect(await isCheckpointDir(dir)).toBe(false);
    });

    it('invalid JSON, wrong format, newer version, bad kind', async () => {
      await saveCheckpoint(dir, { config: { kind: 'student' }, weights: weights() });
      expect(await isCheckpointDir(dir)).toBe(true);
      const cfg = path.join(dir, 'config.json');

      fs.writeFileSync(cfg, '{"format": "spikeclip-checkpoint",');
      expect((await errorOf(readCheckpointConfig(dir))).message).toMatch(new RegExp(`^${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON: `));

      fs.writeFileSync(cfg, '[1]');
      expect((await errorOf(readCheckpointConfig(dir))).message).toMatch(/config.json: expected a JSON object/);

      fs.writeFileSync(cfg, JSON.stringify({ format: 'other', formatVersion: 1, kind: 'student' }));
      expect((await errorOf(readCheckpointConfig(dir))).message).toBe(
        `not a spikeclip checkpoint: ${dir} (expected config.json and model.safetensors): config.json has format "other", expected "spikeclip-checkpoint"`,
      );

      fs.writeFileSync(cfg, JSON.stringify({ format: CHECKPOINT_FORMAT, formatVersion: 2, kind: 'student' }));
      expect((await errorOf(loadCheckpoint(dir))).message).toBe(
        `${dir} uses checkpoint formatVersion 2, newer than this spikeclip supports (1); upgrade spikeclip to read it`,
      );

      fs.writeFileSync(cfg, JSON.stringify({ format: CHECKPOINT_FORMAT, formatVersion: '1', kind: 'student' }));
      expect((await errorOf(readCheckpointConfig(dir))).message).toMatch(/formatVersion must be a positive integer \(got "1"\)/);

      fs.writeFileSync(cfg, JSON.stringify({ format: CHECKPOINT_FORMAT, formatVersion: 1 }));
      expect((await errorOf(readCheckpointConfig(dir))).message).toMatch(/"kind" must be a non-empty string/);
      expect(await isCheckpointDir(dir)).toBe(false);
    });

    it('incomplete training state', async () => {
      await saveCheckpoint(dir, { config: { kind: 'student' }, weights: weights(), trainingState: { tensors: {}, info: { step: 3 } } });
      fs.rmSync(path.join(dir, 'training_state.safetensors'));
      expect((await errorOf(loadCheckpoint(dir, { trainingState: true }))).message).toMatch(
        /incomplete training state in .*: training_state.safetensors is missing/,
      );
      // Not requested: not looked at.
      await expect(loadCheckpoint(dir)).resolves.toBeDefined();
    });

    it('corrupt weights surface as a SafetensorsError naming the file', async () => {
      await saveCheckpoint(dir, { config: { kind: 'student' }, weights: weights() });
      const w = path.join(dir, 'model.safetensors');
      fs.truncateSync(w, fs.statSync(w).size - 1);
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${w}: invalid safetensors file:`);
    });
  });
});
