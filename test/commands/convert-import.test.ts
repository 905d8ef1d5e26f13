/**
 * End to end: `spikeclip convert import` through the real CLI (bin/run.js over dist/; `npm test`
 * builds first) on reference checkpoints written by test/helpers/reference-checkpoint.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCheckpoint } from '../../src/io/checkpoint';
import { getPreset, validateConfig } from '../../src/models/config';
import {
  SMALL_TEXT,
  TINY_IMAGE,
  hfClipStateDict,
  referenceImageStateDict,
  referenceTextStateDict,
  withModulePrefix,
  writeReferenceSafetensors,
  writeReferenceTorchSave,
} from '../helpers/reference-checkpoint';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'cli-convert-import-'));

function testArch() {
  const c = getPreset('spikeclip-tiny');
  c.text = { ...c.text, contextLength: 4, vocabSize: 64, width: 8, maxPositions: 8, hidden: 16 };
  return validateConfig(c);
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'convert', 'import.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
});

describe('spikeclip convert import', () => {
  it('--json: a timm .pth.tar with module. prefix (image) and a safetensors text encoder -> a student checkpoint', async () => {
    const dir = tmp();
    writeReferenceTorchSave(path.join(dir, 'model_best.pth.tar'), withModulePrefix(referenceImageStateDict(TINY_IMAGE, 1)), { timm: true, epoch: 7 });
    writeReferenceSafetensors(path.join(dir, 'text.safetensors'), referenceTextStateDict(SMALL_TEXT, 2));
    const out = path.join(dir, 'student');
    const r = cli(['convert', 'import', '--from', path.join(dir, 'model_best.pth.tar'), '--text', path.join(dir, 'text.safetensors'), '--out', out, '--heads', '4', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      status: 0,
      result: { imported: ['image', 'text'], fresh: null, archSource: 'auto', preset: null, sources: [{ part: 'image', format: 'pytorch', container: 'state_dict', modulePrefix: true, values: { epoch: 7 } }, { part: 'text', format: 'safetensors' }] },
      warnings: [],
    });
    expect(doc.result.architecture).toEqual(testArch());
    expect(doc.backend.name).toEqual(expect.any(String));
    const ck = await loadCheckpoint(out);
    expect(ck.config).toMatchObject({ kind: 'student', imported: ['image', 'text'] });
    const prov = ck.config.provenance as { commandLine: string[]; seed: number; sources: { sha256: string }[] };
    expect(prov.commandLine.slice(0, 3)).toEqual(['spikeclip', 'convert', 'import']);
    expect(prov.sources.map((s) => s.sha256)).toEqual(doc.result.sources.map((s: { sha256: string }) => s.sha256));
    expect(ck.weights!.has('image.patch_embed.block0_conv.weight')).toBe(true);
  });

  it('one part only: says on stderr that the other is initialised fresh (and in the JSON warnings)', async () => {
    const dir = tmp();
    writeReferenceSafetensors(path.join(dir, 'image.safetensors'), referenceImageStateDict(TINY_IMAGE, 3));
    const arch = path.join(dir, 'arch.json');
    fs.writeFileSync(arch, JSON.stringify(testArch()));
    const r = cli(['convert', 'import', '--from', path.join(dir, 'image.safetensors'), '--out', path.join(dir, 'a'), '--arch', arch, '--seed', '5']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^Warning: only the image encoder was imported; the text encoder is initialised fresh \(seed 5, /m);
    expect(r.stdout).toContain(`wrote student checkpoint ${path.join(dir, 'a')}`);
    expect(r.stdout).toMatch(/image\s+imported from .*image\.safetensors/);
    expect(r.stdout).toMatch(/text\s+fresh \(seed 5\)/);
    expect(r.stdout).toMatch(/image encoder: D 64, depth 1, MLP ratio 4, T 2, output 512, 4 heads, 32x32/);
    const j = cli(['convert', 'import', '--from', path.join(dir, 'image.safetensors'), '--out', path.join(dir, 'b'), '--arch', arch, '--json']);
    expect(j.status).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.result).toMatchObject({ imported: ['image'], fresh: 'text', archSource: 'file' });
    expect(doc.warnings).toEqual([expect.stringMatching(/only the image encoder was imported/)]);
    expect((await loadCheckpoint(path.join(dir, 'b'))).config.imported).toEqual(['image']);
  });

  it('the imported student works with `spikeclip embed` (texts through the --tokenizer files): embeddings of the reference weights', async () => {
    const { smallClipVocab } = await import('../helpers/clip-vocab');
    const { ClipTokenizer } = await import('../../src/text/tokenizer');
    const { SpikeClipTextEncoder } = await import('../../src/models/text-encoder');
    const { fromPytorchStateDict } = await import('../../src/models/pytorch-names');
    const tf = await import('../../src/tf');
    const dir = tmp();
    const vocab = smallClipVocab();
    fs.mkdirSync(path.join(dir, 'clip'));
    fs.writeFileSync(path.join(dir, 'clip', 'vocab.json'), vocab.vocabJson);
    fs.writeFileSync(path.join(dir, 'clip', 'merges.txt'), vocab.mergesTxt);
    const text = { ...SMALL_TEXT, vocabSize: 600 };
    const txt = referenceTextStateDict(text, 31);
    writeReferenceSafetensors(path.join(dir, 'image.safetensors'), referenceImageStateDict(TINY_IMAGE, 30));
    writeReferenceSafetensors(path.join(dir, 'text.safetensors'), txt);
    const out = path.join(dir, 'student');
    const r = cli(['convert', 'import', '--from', path.join(dir, 'image.safetensors'), '--text', path.join(dir, 'text.safetensors'), '--out', out, '--tokenizer', path.join(dir, 'clip'), '--quiet']);
    expect(r.status).toBe(0);
    const e = cli(['embed', '--checkpoint', out, '--text', 'a photo of a cat', '--text', 'a red square', '--json']);
    expect(e.status).toBe(0);
    const doc = JSON.parse(e.stdout).result as { text_embeds: number[][]; token_ids: number[][] };
    const tok = ClipTokenizer.fromHuggingFace(vocab.vocabJson, vocab.mergesTxt);
    const ids = tok.encodeBatch(['a photo of a cat', 'a red square'], 4, { padId: tok.endId });
    expect(doc.token_ids).toEqual([Array.from(ids.slice(0, 4)), Array.from(ids.slice(4, 8))]);
    // the same texts through a text encoder loaded directly from the reference tensors
    await tf.setBackend('cpu');
    const arch = { ...getPreset('spikeclip-b').text, ...text };
    const enc = new SpikeClipTextEncoder(arch, { seed: 1 });
    enc.loadStateDict(fromPytorchStateDict(txt, 'text'));
    const y = enc.forward(tf.tensor2d(doc.token_ids, [2, 4], 'int32'));
    const want = tf.div(y, tf.norm(y, 2, 1, true)).arraySync() as number[][];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 512; j++) expect(doc.text_embeds[i][j]).toBeCloseTo(want[i][j], 5);
    enc.dispose();
  });

  it('bad input: one line naming the problem, exit status 4, nothing written', () => {
    const dir = tmp();
    const out = path.join(dir, 'out');
    writeReferenceSafetensors(path.join(dir, 'model.safetensors'), hfClipStateDict());
    const hf = cli(['convert', 'import', '--from', path.join(dir, 'model.safetensors'), '--out', out]);
    expect(hf.status).toBe(4);
    expect(hf.stdout).toBe('');
    expect(hf.stderr.trim().split('\n')).toHaveLength(1);
    expect(hf.stderr).toMatch(/^Error: .*model\.safetensors: this looks like a Hugging Face CLIP model \(it has .*\): use `spikeclip convert teacher` .*\(fix: run `spikeclip convert teacher --from/);

    const evil = new Map([['x', { $reduce: [{ $global: 'os.system' }, ['true']] }]]) as Map<never, never>;
    writeReferenceTorchSave(path.join(dir, 'evil.pth'), referenceImageStateDict(TINY_IMAGE, 1), { timm: true, extra: evil });
    const e = cli(['convert', 'import', '--from', path.join(dir, 'evil.pth'), '--out', out, '--json']);
    expect(e.status).toBe(4);
    expect(JSON.parse(e.stdout)).toMatchObject({ status: 4, error: { name: 'PickleError', code: 'E_PICKLE', message: expect.stringMatching(/evil\.pth: refusing to load disallowed global os\.system/) } });

    const img = referenceImageStateDict(TINY_IMAGE, 1);
    img.delete('block.0.mlp.mlp1_bn.bias');
    writeReferenceSafetensors(path.join(dir, 'partial.safetensors'), img);
    const m = cli(['convert', 'import', '--from', path.join(dir, 'partial.safetensors'), '--out', out, '--json']);
    expect(m.status).toBe(4);
    expect(JSON.parse(m.stdout)).toMatchObject({ status: 4, error: { code: 'E_MISSING_TENSORS', message: expect.stringMatching(/missing tensor block\.0\.mlp\.mlp1_bn\.bias/) } });

    fs.writeFileSync(path.join(dir, 'junk.bin'), Buffer.from('not a model at all'));
    const j = cli(['convert', 'import', '--from', path.join(dir, 'junk.bin'), '--out', out]);
    expect(j.status).toBe(4);
    expect(j.stderr).toMatch(/^Error: .*junk\.bin is neither a PyTorch checkpoint \(the zip format of torch\.save\) nor a safetensors file/);

    const a = cli(['convert', 'import', '--from', path.join(dir, 'partial.safetensors'), '--out', out, '--arch', 'spikeclip-b', '--json']);
    expect(JSON.parse(a.stdout)).toMatchObject({ status: 4, error: { code: 'E_ARCH_MISMATCH' } });
    expect(fs.existsSync(out)).toBe(false);
  });
});
