/**
 * `convert export` as a service: reference-named safetensors (checked against the helper's
 * independent list of reference names) and TF.js model folders (decoded with TF.js's own
 * tf.io.decodeWeights / tf.io.loadWeights, over the file system and over loopback HTTP).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../../src/tf';
import { exportCheckpoint } from '../../src/convert/export';
import { importReferenceCheckpoint } from '../../src/convert/import';
import { loadTfjsFolder, readTfjsFolder } from '../../src/convert/tfjs-files';
import { loadSpikeClipFromUrl, type SpikeclipTfjsModelJson } from '../../src/convert/tfjs-format';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint';
import { readSafetensorsFile } from '../../src/io/safetensors';
import { getPreset, validateConfig, type SpikeClipConfig } from '../../src/models/config';
import { loadStudentCheckpoint } from '../../src/student/checkpoint';
import { startServer } from '../helpers/http-server';
import { SMALL_TEXT, TINY_IMAGE, referenceImageStateDict, referenceTextStateDict, writeReferenceSafetensors, type RefStateDict } from '../helpers/reference-checkpoint';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'convert-export-'));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function testArch(): SpikeClipConfig {
  const c = getPreset('spikeclip-tiny');
  c.text = { ...c.text, contextLength: 4, vocabSize: 64, width: 8, maxPositions: 8, hidden: 16 };
  return validateConfig(c);
}

interface Fixture {
  dir: string;
  ckpt: string;
  img: RefStateDict;
  txt: RefStateDict;
}

/** Reference safetensors -> import -> a student checkpoint. */
async function fixture(seed = 1): Promise<Fixture> {
  const dir = tmp();
  const img = referenceImageStateDict(TINY_IMAGE, seed);
  const txt = referenceTextStateDict(SMALL_TEXT, seed + 1);
  writeReferenceSafetensors(path.join(dir, 'ref-image.safetensors'), img);
  writeReferenceSafetensors(path.join(dir, 'ref-text.safetensors'), txt);
  const ckpt = path.join(dir, 'ckpt');
  await importReferenceCheckpoint({ from: path.join(dir, 'ref-image.safetensors'), text: path.join(dir, 'ref-text.safetensors'), out: ckpt, heads: 4 });
  return { dir, ckpt, img, txt };
}

describe('convert export --format safetensors', () => {
  it('reference-named safetensors -> import -> export: the same names and byte-identical tensors; num_batches_tracked zeros; position_ids', async () => {
    const fx = await fixture(1);
    const out = path.join(fx.dir, 'pt');
    const r = await exportCheckpoint({ checkpoint: fx.ckpt, format: 'safetensors', out });
    expect(r.parts).toEqual(['image', 'text']);
    expect(fs.readdirSync(out).sort()).toEqual(['export.json', 'image_encoder.safetensors', 'text_encoder.safetensors']);
    for (const [file, ref, part] of [['image_encoder.safetensors', fx.img, 'image'], ['text_encoder.safetensors', fx.txt, 'text']] as const) {
      const { tensors, metadata } = await readSafetensorsFile(path.join(out, file));
      // exactly the reference state dict's names (written out independently in the helper)
      expect([...tensors.keys()].sort()).toEqual([...ref.keys()].sort());
      for (const [name, t] of ref) {
        const got = tensors.get(name)!;
        expect(got.shape).toEqual(t.shape);
        if (name.endsWith('num_batches_tracked')) {
          expect(got.dtype).toBe('I64');
          expect(Array.from(got.data as BigInt64Array)).toEqual([0n]);
        } else if (name === 'clip_embedding.position_ids') {
          expect(got.dtype).toBe('I64');
          expect(Array.from(got.data as BigInt64Array)).toEqual(Array.from(t.data as BigInt64Array));
        } else {
          expect(got.dtype).toBe('F32');
          expect(Buffer.compare(bytesOf(got.data), bytesOf(t.data))).toBe(0);
        }
      }
      expect(metadata.format).toBe('pt');
      expect(metadata.spikeclip_part).toBe(part);
      expect(metadata.spikeclip_reference_class).toBe(part === 'image' ? 'Vision_Encoder' : 'Language_Encoder');
      expect(JSON.parse(metadata.spikeclip_architecture)).toEqual(testArch());
    }
    // export.json describes every file
    const ej = JSON.parse(fs.readFileSync(path.join(out, 'export.json'), 'utf8'));
    expect(ej).toMatchObject({ format: 'spikeclip-export', formatVersion: 1, target: 'safetensors', parts: ['image', 'text'], checkpoint: { kind: 'student', imported: ['image', 'text'] } });
    expect(ej.architecture).toEqual(testArch());
    expect(ej.checkpoint.sha256).toBe(sha(fs.readFileSync(path.join(fx.ckpt, 'model.safetensors'))));
    for (const f of ej.files) expect(f.sha256).toBe(sha(fs.readFileSync(path.join(out, f.file))));
    expect(ej.files.map((f: { file: string; part: string; tensors: number }) => [f.file, f.part, f.tensors])).toEqual([
      ['image_encoder.safetensors', 'image', fx.img.size],
      ['text_encoder.safetensors', 'text', fx.txt.size],
    ]);
    expect(ej.load.join('\n')).toMatch(/load_state_dict\(load_file\('image_encoder\.safetensors'\)\)/);
  });

  it('export -> import again: the same checkpoint weights byte for byte (architecture from the metadata), so the same embeddings', async () => {
    const fx = await fixture(3);
    const out = path.join(fx.dir, 'pt');
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'safetensors', out });
    const again = path.join(fx.dir, 'again');
    const r = await importReferenceCheckpoint({ from: path.join(out, 'image_encoder.safetensors'), text: path.join(out, 'text_encoder.safetensors'), out: again });
    expect(r.architecture).toEqual(testArch());
    expect(Buffer.compare(fs.readFileSync(path.join(fx.ckpt, 'model.safetensors')), fs.readFileSync(path.join(again, 'model.safetensors')))).toBe(0);
  });

  it('--part image, --no-position-ids, and a teacher checkpoint refused', async () => {
    const fx = await fixture(5);
    const img = path.join(fx.dir, 'img');
    const r = await exportCheckpoint({ checkpoint: fx.ckpt, format: 'safetensors', out: img, parts: ['image'] });
    expect(r.files.map((f) => f.file)).toEqual(['image_encoder.safetensors']);
    const noPos = path.join(fx.dir, 'nopos');
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'safetensors', out: noPos, parts: ['text'], positionIds: false });
    const { tensors } = await readSafetensorsFile(path.join(noPos, 'text_encoder.safetensors'));
    expect(tensors.has('clip_embedding.position_ids')).toBe(false);
    expect(tensors.size).toBe(fx.txt.size - 1);
    // a teacher checkpoint
    const teacher = path.join(fx.dir, 'teacher');
    await saveCheckpoint(teacher, { config: { kind: 'teacher', model: 'clip' }, weights: new Map([['logit_scale', { shape: [], data: new Float32Array([1]) }]]) });
    await expect(exportCheckpoint({ checkpoint: teacher, format: 'safetensors', out: path.join(fx.dir, 'x') })).rejects.toMatchObject({
      code: 'E_NOT_STUDENT',
      message: expect.stringMatching(/is a teacher checkpoint; convert export writes student \(spiking\) checkpoints/),
      fix: expect.stringMatching(/already holds Hugging Face names/),
    });
    await expect(exportCheckpoint({ checkpoint: path.join(fx.dir, 'nope'), format: 'safetensors', out: path.join(fx.dir, 'x') })).rejects.toThrow(/checkpoint not found/);
    expect(fs.existsSync(path.join(fx.dir, 'x'))).toBe(false);
  });

  it('replaces a previous export only with force, never another folder; a damaged checkpoint is named', async () => {
    const fx = await fixture(7);
    const out = path.join(fx.dir, 'pt');
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'safetensors', out });
    await expect(exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out })).rejects.toThrow(/is already a spikeclip export folder/);
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out, force: true });
    expect(fs.existsSync(path.join(out, 'image_encoder.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(true);
    const mine = path.join(fx.dir, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'notes.txt'), 'keep');
    await expect(exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out: mine, force: true })).rejects.toThrow(/refusing to replace .*mine: it exists and is not a spikeclip export folder/);
    await expect(exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out: fx.ckpt, force: true })).rejects.toThrow(/would replace the input/);
    // a checkpoint whose weights do not match its architecture
    const ck = await loadCheckpoint(fx.ckpt);
    const w = new Map(ck.weights!);
    w.delete('image.proj.bias');
    const broken = path.join(fx.dir, 'broken');
    await saveCheckpoint(broken, { config: ck.config, weights: w as never });
    await expect(exportCheckpoint({ checkpoint: broken, format: 'tfjs', out: path.join(fx.dir, 'y') })).rejects.toThrow(/broken\/model\.safetensors does not match its architecture: missing image\.proj\.bias/);
  });
});

describe('convert export --format tfjs', () => {
  it('model.json in the weights-manifest format, shards of at most the shard size, decodeWeights gives the checkpoint tensors bit for bit', async () => {
    const fx = await fixture(11);
    const out = path.join(fx.dir, 'web');
    const shardBytes = 100_000;
    const r = await exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out, shardBytes });
    const mj = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8')) as SpikeclipTfjsModelJson;
    expect(mj.format).toBe('spikeclip-tfjs');
    expect(mj.modelTopology).toEqual(testArch());
    expect(mj.weightsManifest).toHaveLength(1);
    const { paths, weights } = mj.weightsManifest[0];
    const ck = await loadCheckpoint(fx.ckpt);
    const total = [...ck.weights!.values()].reduce((s, t) => s + t.data.byteLength, 0);
    const n = Math.ceil(total / shardBytes);
    expect(n).toBeGreaterThan(3);
    expect(paths).toEqual(Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`));
    for (const p of paths.slice(0, -1)) expect(fs.statSync(path.join(out, p)).size).toBe(shardBytes);
    expect(fs.statSync(path.join(out, paths[n - 1])).size).toBe(total - (n - 1) * shardBytes);
    expect(weights.every((w) => w.dtype === 'float32')).toBe(true);
    expect(weights.map((w) => w.name).sort()).toEqual([...ck.weights!.keys()].sort());
    expect(mj.userDefinedMetadata.spikeclip).toMatchObject({ formatVersion: 1, kind: 'student', parts: ['image', 'text'], imported: ['image', 'text'] });
    expect(r.files.filter((f) => f.role === 'weights-shard')).toHaveLength(n);

    // TF.js's own decoder over the concatenated shards
    const buf = Buffer.concat(paths.map((p) => fs.readFileSync(path.join(out, p))));
    const decoded = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), weights);
    for (const [name, t] of ck.weights!) {
      expect(decoded[name].shape).toEqual(t.shape);
      expect(Buffer.compare(bytesOf(decoded[name].dataSync() as Float32Array), bytesOf(t.data))).toBe(0);
    }
    tf.dispose(Object.values(decoded));
    // tf.io.weightsLoaderFactory: the same code path as tf.io.loadWeights, reading shard files
    const load = tf.io.weightsLoaderFactory(async (urls) => urls.map((u) => {
      const b = fs.readFileSync(u);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    }));
    const loaded = await load(mj.weightsManifest, `${out}/`);
    expect(Array.from(loaded['text.fc1.weight'].dataSync())).toEqual(Array.from(ck.weights!.get('text.fc1.weight')!.data as Float32Array));
    tf.dispose(Object.values(loaded));
  });

  it('the model rebuilt from the folder (our src/models code) embeds exactly like the checkpoint; --part image keeps only the image weights', async () => {
    const fx = await fixture(13);
    const out = path.join(fx.dir, 'web');
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out });
    expect(fs.readdirSync(out).sort()).toEqual(['export.json', 'group1-shard1of1.bin', 'model.json']);
    const fromFolder = loadTfjsFolder(out);
    const student = await loadStudentCheckpoint(fx.ckpt);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 2);
    const ids = tf.tensor2d([[1, 2, 3, 4], [60, 0, 9, 9]], [2, 4], 'int32');
    expect(Array.from(fromFolder.encodeImage(x).dataSync())).toEqual(Array.from(student.model.encodeImage(x).dataSync()));
    expect(Array.from(fromFolder.encodeText(ids).dataSync())).toEqual(Array.from(student.model.encodeText(ids).dataSync()));
    fromFolder.dispose();
    const imgOnly = path.join(fx.dir, 'web-image');
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out: imgOnly, parts: ['image'] });
    const { modelJson, weights } = readTfjsFolder(imgOnly);
    expect(Object.keys(weights).every((n) => n.startsWith('image.'))).toBe(true);
    expect(modelJson.userDefinedMetadata.spikeclip.parts).toEqual(['image']);
    tf.dispose(Object.values(weights));
    const m = loadTfjsFolder(imgOnly);
    expect(Array.from(m.encodeImage(x).dataSync())).toEqual(Array.from(student.model.encodeImage(x).dataSync()));
    m.dispose();
    student.model.dispose();
    tf.dispose([x, ids]);
  });

  it('a browser-style load over HTTP: tf.io.loadWeights and loadSpikeClipFromUrl', async () => {
    const fx = await fixture(17);
    const out = path.join(fx.dir, 'web');
    await exportCheckpoint({ checkpoint: fx.ckpt, format: 'tfjs', out, shardBytes: 256 * 1024 });
    const routes: Record<string, { body: Buffer }> = {};
    for (const f of fs.readdirSync(out)) routes[`/models/student/${f}`] = { body: fs.readFileSync(path.join(out, f)) };
    const server = await startServer(routes);
    try {
      const url = `${server.url}/models/student/model.json`;
      const mj = (await (await fetch(url)).json()) as SpikeclipTfjsModelJson;
      const weights = await tf.io.loadWeights(mj.weightsManifest, `${server.url}/models/student/`);
      const ck = await loadCheckpoint(fx.ckpt);
      for (const [name, t] of ck.weights!) expect(Buffer.compare(bytesOf(weights[name].dataSync() as Float32Array), bytesOf(t.data))).toBe(0);
      tf.dispose(Object.values(weights));
      const { model, modelJson } = await loadSpikeClipFromUrl(url);
      expect(modelJson.modelTopology).toEqual(testArch());
      const student = await loadStudentCheckpoint(fx.ckpt);
      const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 4);
      expect(Array.from(model.encodeImage(x).dataSync())).toEqual(Array.from(student.model.encodeImage(x).dataSync()));
      model.dispose();
      student.model.dispose();
      x.dispose();
      expect(server.requests.filter((q) => q.path.endsWith('.bin')).length).toBeGreaterThanOrEqual(2);
    } finally {
      await server.close();
    }
  });
});
