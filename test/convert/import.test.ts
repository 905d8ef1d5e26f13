/**
 * `convert import` as a service: reference SpikeCLIP checkpoints written by test helpers
 * (independent reference names; torch.save zips and safetensors) -> student checkpoints.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../../src/tf';
import { ConvertError } from '../../src/convert/errors';
import { importReferenceCheckpoint } from '../../src/convert/import';
import { loadCheckpoint } from '../../src/io/checkpoint';
import { getPreset, validateConfig, type SpikeClipConfig } from '../../src/models/config';
import { SpikeClipImageEncoder } from '../../src/models/image-encoder';
import { fromPytorchStateDict, permute } from '../../src/models/pytorch-names';
import { SpikeClip } from '../../src/models/spikeclip';
import { SpikeClipTextEncoder } from '../../src/models/text-encoder';
import { loadStudentCheckpoint } from '../../src/student/checkpoint';
import {
  SMALL_TEXT,
  TINY_IMAGE,
  referenceImageStateDict,
  referenceTextStateDict,
  referenceTorchSave,
  withModulePrefix,
  writeReferenceSafetensors,
  writeReferenceTorchSave,
  type RefStateDict,
} from '../helpers/reference-checkpoint';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'convert-import-'));

/** spikeclip-tiny's image side with the small text side (vocabulary 64). */
export function testArch(): SpikeClipConfig {
  const c = getPreset('spikeclip-tiny');
  c.text = { ...c.text, contextLength: 4, vocabSize: 64, width: 8, maxPositions: 8, hidden: 16 };
  return validateConfig(c);
}

function images(n = 2, seed = 5): tf.Tensor4D {
  return tf.randomNormal([n, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

const IDS = [
  [1, 7, 63, 2],
  [5, 5, 0, 40],
];

/** What the importer must store for a reference tensor: our layout of it. */
function ours(sd: RefStateDict, part: 'image' | 'text'): Map<string, { shape: number[]; data: Float32Array }> {
  return fromPytorchStateDict(sd, part) as Map<string, { shape: number[]; data: Float32Array }>;
}

describe('convert import', () => {
  it('imports reference-named safetensors for both encoders: every tensor, the inferred architecture, provenance', async () => {
    const dir = tmp();
    const img = referenceImageStateDict(TINY_IMAGE, 1);
    const txt = referenceTextStateDict(SMALL_TEXT, 2);
    writeReferenceSafetensors(path.join(dir, 'image.safetensors'), img);
    writeReferenceSafetensors(path.join(dir, 'text.safetensors'), txt);
    const out = path.join(dir, 'ckpt');
    const warnings: string[] = [];
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'image.safetensors'), text: path.join(dir, 'text.safetensors'), out, heads: 4, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(r.imported).toEqual(['image', 'text']);
    expect(r.fresh).toBeNull();
    expect(r.archSource).toBe('auto');
    expect(r.architecture).toEqual(testArch());
    expect(r.sources.map((s) => [s.part, s.format, s.container, s.modulePrefix])).toEqual([
      ['image', 'safetensors', '', false],
      ['text', 'safetensors', '', false],
    ]);
    // 5 tokenizer BNs + 6 BNs in the block: num_batches_tracked skipped; position_ids skipped
    expect(r.sources[0].ignored).toBe(11);
    expect(r.sources[1].ignored).toBe(1);

    const ck = await loadCheckpoint(out);
    expect(ck.config.kind).toBe('student');
    expect(ck.config.imported).toEqual(['image', 'text']);
    const prov = ck.config.provenance as { sources: { part: string; sha256: string }[] };
    const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    expect(prov.sources).toEqual([
      { part: 'image', file: path.join(dir, 'image.safetensors'), format: 'safetensors', sha256: sha(path.join(dir, 'image.safetensors')) },
      { part: 'text', file: path.join(dir, 'text.safetensors'), format: 'safetensors', sha256: sha(path.join(dir, 'text.safetensors')) },
    ]);
    const w = ck.weights!;
    for (const [part, sd] of [['image', img], ['text', txt]] as const) {
      for (const [name, t] of ours(sd, part)) {
        expect(w.get(`${part}.${name}`)?.shape).toEqual(t.shape);
        expect(Buffer.compare(Buffer.from((w.get(`${part}.${name}`)!.data as Float32Array).buffer), Buffer.from(t.data.buffer))).toBe(0);
      }
    }
    // one element checked by hand: OIHW [o, i, kh, kw] -> HWIO [kh, kw, i, o]
    const ref = img.get('patch_embed.block2_conv.weight')!; // [32, 16, 3, 3]
    const mine = w.get('image.patch_embed.block2_conv.weight')!; // [3, 3, 16, 32]
    expect(mine.shape).toEqual([3, 3, 16, 32]);
    expect(mine.data[((2 * 3 + 1) * 16 + 5) * 32 + 7]).toBe(ref.data[((7 * 16 + 5) * 3 + 2) * 3 + 1]);
    expect(Array.from(w.get('text.weights_tensor')!.data as Float32Array)).toEqual(Array.from(txt.get('weights_tensor')!.data as Float32Array));
    expect(r.notes.join('\n')).not.toMatch(/assuming/);
    // without --heads: the reference scripts' default, said in a note
    const r8 = await importReferenceCheckpoint({ from: path.join(dir, 'image.safetensors'), text: path.join(dir, 'text.safetensors'), out: path.join(dir, 'ckpt8') });
    expect(r8.architecture.image.heads).toBe(8);
    expect(r8.notes.join('\n')).toMatch(/the head count is not in the weights: assuming 8 \(pass --heads N/);
  });

  it('reads a timm .pth.tar ({state_dict, optimizer, epoch, ...}) with a module. prefix: embeddings equal a model loaded from the same tensors', async () => {
    const dir = tmp();
    const img = referenceImageStateDict(TINY_IMAGE, 3);
    const txt = referenceTextStateDict(SMALL_TEXT, 4);
    writeReferenceTorchSave(path.join(dir, 'model_best.pth.tar'), withModulePrefix(img), { timm: true, arch: 'distributeddataparallel', epoch: 41 });
    writeReferenceTorchSave(path.join(dir, 'text.pth'), txt);
    const out = path.join(dir, 'ckpt');
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'model_best.pth.tar'), text: path.join(dir, 'text.pth'), out, heads: 4 });
    expect(r.sources[0]).toMatchObject({ format: 'pytorch', container: 'state_dict', modulePrefix: true, values: { epoch: 41, arch: 'distributeddataparallel', version: 2, metric: 41.25 } });
    expect(r.sources[1]).toMatchObject({ format: 'pytorch', container: '', modulePrefix: false });

    const cfg = testArch();
    const directImage = new SpikeClipImageEncoder(cfg.image, { seed: 99 });
    directImage.loadStateDict(fromPytorchStateDict(img, 'image'));
    const directText = new SpikeClipTextEncoder(cfg.text, { seed: 98 });
    directText.loadStateDict(fromPytorchStateDict(txt, 'text'));
    const loaded = await loadStudentCheckpoint(out);
    const x = images();
    const ids = tf.tensor2d(IDS, [2, 4], 'int32');
    const a = loaded.model.encodeImage(x);
    const b = directImage.forward(x);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(tf.max(tf.abs(a)).dataSync()[0]).toBeGreaterThan(0); // the spikes do something
    const at = loaded.model.encodeText(ids);
    const bt = directText.forward(ids);
    expect(Array.from(at.dataSync())).toEqual(Array.from(bt.dataSync()));
    tf.dispose([x, ids, a, b, at, bt]);
    loaded.model.dispose();
    directImage.dispose();
    directText.dispose();
  });

  it('image only: the text encoder is initialised fresh from the seed, config says imported: [image], and the caller is warned', async () => {
    const dir = tmp();
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), referenceImageStateDict(TINY_IMAGE, 5));
    const warnings: string[] = [];
    const arch = testArch();
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), out: path.join(dir, 'ckpt'), arch, seed: 7, warn: (m) => warnings.push(m) });
    expect(r.imported).toEqual(['image']);
    expect(r.fresh).toBe('text');
    expect(r.archSource).toBe('config');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/only the image encoder was imported; the text encoder is initialised fresh \(seed 7/);
    const ck = await loadCheckpoint(path.join(dir, 'ckpt'));
    expect(ck.config.imported).toEqual(['image']);
    expect((ck.config.import as { fresh: unknown }).fresh).toEqual({ part: 'text', seed: 7, architecture: 'the given architecture' });
    // the fresh part is exactly what the seed gives
    const fresh = new SpikeClip(arch, { seed: 7 });
    for (const [n, t] of fresh.text.stateDict('text.')) expect(Array.from(ck.weights!.get(n)!.data as Float32Array)).toEqual(Array.from(t.data));
    fresh.dispose();
  });

  it('text only via --from: detected by its names; the image side comes from --arch', async () => {
    const dir = tmp();
    const txt = referenceTextStateDict(SMALL_TEXT, 6, { positionIds: false });
    writeReferenceSafetensors(path.join(dir, 'language_encoder.safetensors'), txt);
    const archFile = path.join(dir, 'arch.json');
    fs.writeFileSync(archFile, JSON.stringify({ format: 'spikeclip-checkpoint', kind: 'student', architecture: testArch() }));
    const warnings: string[] = [];
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'language_encoder.safetensors'), out: path.join(dir, 'ckpt'), arch: archFile, warn: (m) => warnings.push(m) });
    expect(r.imported).toEqual(['text']);
    expect(r.fresh).toBe('image');
    expect(r.archSource).toBe('file');
    expect(r.architecture).toEqual(testArch());
    expect(warnings[0]).toMatch(/only the text encoder was imported; the image encoder is initialised fresh/);
    const ck = await loadCheckpoint(path.join(dir, 'ckpt'));
    expect(ck.config.imported).toEqual(['text']);
    for (const [name, t] of ours(txt, 'text')) expect(Array.from(ck.weights!.get(`text.${name}`)!.data as Float32Array)).toEqual(Array.from(t.data));
  });

  it('auto architecture with one part: the fresh part comes from the preset the imported part matches', async () => {
    const dir = tmp();
    // a non-preset image encoder (D 32, 2 blocks, MLP ratio 2, T 3, output 16) with PLIF neurons
    const a = { embedDim: 32, depth: 2, mlpRatio: 2, timeSteps: 3, inChannels: 3, outputDim: 16, plif: true };
    const img = referenceImageStateDict(a, 8);
    writeReferenceTorchSave(path.join(dir, 'img.pth'), img);
    // infer only: check what the importer makes of it without writing the big fresh spikeclip-b text side
    const { inferImage } = await import('../../src/convert/architecture');
    const { readReferenceFile } = await import('../../src/convert/reference-file');
    const ref = await readReferenceFile(path.join(dir, 'img.pth'));
    expect(inferImage(ref.file, ref.tensors)).toEqual({ embedDim: 32, depth: 2, mlpRatio: 2, timeSteps: 3, inChannels: 3, outputDim: 16, plif: true });
    // with a small text side given, the whole import goes through (PLIF w tensors included)
    const arch = testArch();
    arch.image = { ...arch.image, embedDim: 32, depth: 2, mlpRatio: 2, timeSteps: 3, outputDim: 16, heads: 2, neuron: { ...arch.image.neuron, kind: 'plif' } };
    arch.text = { ...arch.text, outputDim: 16 };
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'img.pth'), out: path.join(dir, 'ckpt'), arch });
    expect(r.architecture.image.neuron.kind).toBe('plif');
    const ck = await loadCheckpoint(path.join(dir, 'ckpt'));
    expect(ck.weights!.get('image.block.1.attn.q_lif.w')!.data[0]).toBe(img.get('block.1.attn.q_lif.w')!.data[0]);
  });

  it('auto architecture, text only: the fresh image encoder is the reference spikeclip-b one (output width matched)', async () => {
    const dir = tmp();
    const text = { ...SMALL_TEXT, outputDim: 24 };
    writeReferenceSafetensors(path.join(dir, 'text.safetensors'), referenceTextStateDict(text, 14));
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'text.safetensors'), out: path.join(dir, 'ckpt'), seed: 3 });
    expect(r.fresh).toBe('image');
    expect(r.architecture.image).toEqual({ ...getPreset('spikeclip-b').image, outputDim: 24 });
    expect(r.architecture.text).toMatchObject({ contextLength: 4, vocabSize: 64, width: 8, maxPositions: 8, hidden: 16, outputDim: 24, timeSteps: 2 });
    expect(r.parameters.image).toBe(9513396 - 385 * (512 - 24));
    const ck = await loadCheckpoint(path.join(dir, 'ckpt'));
    expect((ck.config.import as { fresh: unknown }).fresh).toEqual({ part: 'image', seed: 3, architecture: 'spikeclip-b' });
  });

  it('safetensors written by our export carry the architecture: heads and neuron settings come back without flags', async () => {
    const dir = tmp();
    const arch = testArch();
    arch.image.heads = 2;
    arch.image.neuron = { ...arch.image.neuron, vThreshold: 0.75 };
    const meta = { format: 'pt', spikeclip_architecture: JSON.stringify(arch), spikeclip_part: 'image' };
    writeReferenceSafetensors(path.join(dir, 'image_encoder.safetensors'), referenceImageStateDict(TINY_IMAGE, 9), meta);
    writeReferenceSafetensors(path.join(dir, 'text_encoder.safetensors'), referenceTextStateDict(SMALL_TEXT, 10), { ...meta, spikeclip_part: 'text' });
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'image_encoder.safetensors'), text: path.join(dir, 'text_encoder.safetensors'), out: path.join(dir, 'ckpt') });
    expect(r.architecture).toEqual(arch);
    expect(r.notes.join('\n')).not.toMatch(/assuming 8/);
  });

  it('checks the file against --arch: a preset that does not match is an error naming the fields', async () => {
    const dir = tmp();
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), referenceImageStateDict(TINY_IMAGE, 11));
    const out = path.join(dir, 'ckpt');
    await expect(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), out, arch: 'spikeclip-b' })).rejects.toThrow(
      /--arch spikeclip-b does not match .*img\.safetensors: image\.embedDim 64 in the file, 384 in the architecture; image\.depth 1 in the file, 4 in the architecture; image\.timeSteps 2 in the file, 4/,
    );
    expect(fs.existsSync(out)).toBe(false);
    await expect(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), out, arch: 'spikeclip-huge' })).rejects.toThrow(/--arch spikeclip-huge: not a preset \(auto, spikeclip-b, spikeclip-tiny\) nor a JSON file/);
  });

  it('stores tokenizer files from --tokenizer so embed can tokenize texts', async () => {
    const { smallClipVocab } = await import('../helpers/clip-vocab');
    const dir = tmp();
    const vocab = smallClipVocab();
    const tokDir = path.join(dir, 'clip');
    fs.mkdirSync(tokDir);
    fs.writeFileSync(path.join(tokDir, 'vocab.json'), vocab.vocabJson);
    fs.writeFileSync(path.join(tokDir, 'merges.txt'), vocab.mergesTxt);
    const text = { ...SMALL_TEXT, vocabSize: 600 };
    writeReferenceSafetensors(path.join(dir, 'text.safetensors'), referenceTextStateDict(text, 12));
    const arch = testArch();
    arch.text.vocabSize = 600;
    const r = await importReferenceCheckpoint({ from: path.join(dir, 'text.safetensors'), out: path.join(dir, 'ckpt'), arch, tokenizer: tokDir });
    expect(r.tokenizerFiles).toEqual(['vocab.json', 'merges.txt']);
    const ck = await loadCheckpoint(path.join(dir, 'ckpt'));
    expect(new TextDecoder().decode(ck.tokenizerFiles!.get('vocab.json'))).toBe(vocab.vocabJson);
    expect(ck.config.tokenizer).toMatchObject({ type: 'clip-bpe', context_length: 4 });
    // a vocabulary larger than the embedding is refused
    await expect(importReferenceCheckpoint({ from: path.join(dir, 'text.safetensors'), out: path.join(dir, 'ckpt2'), arch: testArch(), tokenizer: tokDir })).rejects.toThrow(
      /token ids do not fit the text encoder's 64-row embedding|does not match/,
    );
  });

  it('F16 tensors are widened exactly; permute keeps every bit', async () => {
    const t = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(permute(t, [1, 0]).data)).toEqual([1, 4, 2, 5, 3, 6]);
    const dir = tmp();
    const { torchSave } = await import('../helpers/pickle-writer');
    const img = referenceImageStateDict(TINY_IMAGE, 13);
    const specs = new Map([...img].map(([n, v]) => [n, v.data instanceof BigInt64Array ? { shape: v.shape, values: v.data, dtype: 'I64' as const } : { shape: v.shape, values: Float32Array.from(v.data, (x) => Math.round(x * 1024) / 1024), dtype: 'F16' as const }]));
    fs.writeFileSync(path.join(dir, 'half.pth'), torchSave(specs));
    await importReferenceCheckpoint({ from: path.join(dir, 'half.pth'), out: path.join(dir, 'ckpt'), arch: testArch() });
    const ck = await loadCheckpoint(path.join(dir, 'ckpt'));
    const want = Math.round(img.get('proj.bias')!.data[3] as number * 1024) / 1024;
    expect(ck.weights!.get('image.proj.bias')!.data[3]).toBe(want);
  });
});

describe('convert import: bad input (one clear error, nothing written)', () => {
  let dir: string;
  let out: string;
  beforeEach(() => {
    dir = tmp();
    out = path.join(dir, 'ckpt');
  });
  afterEach(() => {
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  const expectError = async (p: Promise<unknown>, code: string, message: RegExp) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
    if (code !== '') expect((err as ConvertError).code).toBe(code);
    return err as Error;
  };

  it('a file that is neither a PyTorch zip nor safetensors', async () => {
    fs.writeFileSync(path.join(dir, 'notes.pth'), 'just some text, not a checkpoint\n');
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'notes.pth'), out }), 'E_NOT_A_CHECKPOINT', /notes\.pth is neither a PyTorch checkpoint \(the zip format of torch\.save\) nor a safetensors file/);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'missing.pth'), out }), 'E_NOT_FOUND', /--from .*missing\.pth: file not found/);
  });

  it('a pickle naming a disallowed global: the reader refuses it and names it', async () => {
    const evil = new Map([['hook', { $reduce: [{ $global: 'os.system' }, ['echo pwned']] }]]) as Map<never, never>;
    writeReferenceTorchSave(path.join(dir, 'evil.pth.tar'), referenceImageStateDict(TINY_IMAGE, 1), { timm: true, extra: evil });
    const e = await expectError(importReferenceCheckpoint({ from: path.join(dir, 'evil.pth.tar'), out }), '', /evil\.pth\.tar: refusing to load disallowed global os\.system/);
    expect(e.name).toBe('PickleError');
  });

  it('a truncated zip and a legacy (torch < 1.6) file', async () => {
    const full = Buffer.from(referenceTorchSave(referenceImageStateDict(TINY_IMAGE, 1)));
    fs.writeFileSync(path.join(dir, 'cut.pth'), full.subarray(0, full.length - 200));
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'cut.pth'), out }), '', /cut\.pth: .*(invalid zip archive|end of central directory)/);
    fs.writeFileSync(path.join(dir, 'legacy.pth'), Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'legacy.pth'), out }), '', /legacy \(torch < 1\.6\) torch\.save file/);
  });

  it('missing tensors are named', async () => {
    const img = referenceImageStateDict(TINY_IMAGE, 1);
    img.delete('block.0.attn.k_bn.running_var');
    img.delete('patch_embed.block2_bn.weight');
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), img);
    await expectError(
      importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), out }),
      'E_MISSING_TENSORS',
      /img\.safetensors does not match an image encoder \(D 64, depth 1, .*\): missing tensors patch_embed\.block2_bn\.weight, block\.0\.attn\.k_bn\.running_var/,
    );
    const txt = referenceTextStateDict(SMALL_TEXT, 2);
    txt.delete('clip_embedding.token_embedding.weight');
    writeReferenceSafetensors(path.join(dir, 'txt.safetensors'), txt);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'txt.safetensors'), out }), 'E_MISSING_TENSORS', /missing tensor clip_embedding\.token_embedding\.weight \(needed to infer the text encoder architecture\)/);
  });

  it('shape mismatches are named with both shapes', async () => {
    const img = referenceImageStateDict(TINY_IMAGE, 1);
    img.set('block.0.mlp.mlp2_conv.weight', { shape: [64, 128, 1, 1], data: new Float32Array(64 * 128) });
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), img);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), out }), 'E_SHAPE_MISMATCH', /shape mismatch: block\.0\.mlp\.mlp2_conv\.weight is \[64, 128, 1, 1\], expected \[64, 256, 1, 1\]/);
    const txt = referenceTextStateDict(SMALL_TEXT, 2);
    txt.set('fc2.weight', { shape: [512, 17], data: new Float32Array(512 * 17) });
    writeReferenceSafetensors(path.join(dir, 'txt.safetensors'), txt);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'txt.safetensors'), out }), 'E_SHAPE_MISMATCH', /shape mismatch: fc2\.weight is \[512, 17\], expected \[E, 16\]/);
  });

  it('unexpected tensors are named', async () => {
    const img = referenceImageStateDict(TINY_IMAGE, 1);
    img.set('block.0.attn.extra_gate', { shape: [4], data: new Float32Array(4) });
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), img);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), out }), 'E_UNEXPECTED_TENSORS', /unexpected tensor block\.0\.attn\.extra_gate/);
  });

  it('a Hugging Face CLIP model (file or folder) is recognised: use convert teacher', async () => {
    const { hfClipStateDict } = await import('../helpers/reference-checkpoint');
    writeReferenceSafetensors(path.join(dir, 'model.safetensors'), hfClipStateDict());
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'model.safetensors'), out }), 'E_HF_CLIP', /this looks like a Hugging Face CLIP model \(it has .*\): use `spikeclip convert teacher`/);
    writeReferenceTorchSave(path.join(dir, 'pytorch_model.bin'), hfClipStateDict());
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'pytorch_model.bin'), out }), 'E_HF_CLIP', /this looks like a Hugging Face CLIP model/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'clip' }));
    await expectError(importReferenceCheckpoint({ from: dir, out }), 'E_HF_CLIP', /looks like a Hugging Face CLIP model folder/);
    // as --text too
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), referenceImageStateDict(TINY_IMAGE, 1));
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), text: path.join(dir, 'model.safetensors'), out }), 'E_HF_CLIP', /model\.safetensors: this looks like a Hugging Face CLIP model/);
  });

  it('the wrong encoder in the wrong place, both encoders in one file, nothing recognisable', async () => {
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), referenceImageStateDict(TINY_IMAGE, 1));
    writeReferenceSafetensors(path.join(dir, 'txt.safetensors'), referenceTextStateDict(SMALL_TEXT, 2));
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), text: path.join(dir, 'img.safetensors'), out }), 'E_WRONG_PART', /--text .*img\.safetensors holds an image encoder/);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'txt.safetensors'), text: path.join(dir, 'txt.safetensors'), out }), 'E_WRONG_PART', /--from .*txt\.safetensors holds a text encoder, and --text gives another one/);
    const both = new Map([...referenceImageStateDict(TINY_IMAGE, 1), ...referenceTextStateDict(SMALL_TEXT, 2)]);
    writeReferenceSafetensors(path.join(dir, 'both.safetensors'), both);
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'both.safetensors'), out }), 'E_WRONG_PART', /holds both image-encoder .* and text-encoder .* tensors/);
    writeReferenceSafetensors(path.join(dir, 'other.safetensors'), new Map([['conv1.weight', { shape: [2], data: new Float32Array(2) }]]));
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'other.safetensors'), out }), 'E_WRONG_MODEL', /no SpikeCLIP encoder tensors found \(its first tensors: conv1\.weight\)/);
  });

  it('a spikeclip checkpoint (directory or its model.safetensors) is not a reference checkpoint', async () => {
    const model = new SpikeClip(testArch(), { seed: 1 });
    const { saveStudentCheckpoint } = await import('../../src/student/checkpoint');
    const ck = path.join(dir, 'student');
    await saveStudentCheckpoint(ck, model);
    model.dispose();
    await expectError(importReferenceCheckpoint({ from: ck, out }), 'E_WRONG_MODEL', /is already a spikeclip checkpoint \(kind "student"\): there is nothing to import/);
    await expectError(importReferenceCheckpoint({ from: path.join(ck, 'model.safetensors'), out }), 'E_WRONG_MODEL', /weights file of a spikeclip checkpoint/);
    fs.rmSync(ck, { recursive: true });
  });

  it('an existing output is only replaced with force, and never when it is not a checkpoint', async () => {
    writeReferenceSafetensors(path.join(dir, 'img.safetensors'), referenceImageStateDict(TINY_IMAGE, 1));
    writeReferenceSafetensors(path.join(dir, 'txt.safetensors'), referenceTextStateDict(SMALL_TEXT, 2));
    const other = path.join(dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'keep.txt'), 'mine');
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), text: path.join(dir, 'txt.safetensors'), out: other, force: true }), 'E_OUT_EXISTS', /refusing to replace .*other: it exists and is not a spikeclip checkpoint/);
    const good = path.join(dir, 'good');
    await importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), text: path.join(dir, 'txt.safetensors'), out: good });
    await expectError(importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), text: path.join(dir, 'txt.safetensors'), out: good }), 'E_OUT_EXISTS', /is already a spikeclip checkpoint/);
    await importReferenceCheckpoint({ from: path.join(dir, 'img.safetensors'), text: path.join(dir, 'txt.safetensors'), out: good, force: true });
    fs.rmSync(good, { recursive: true });
    fs.rmSync(other, { recursive: true });
  });
});
