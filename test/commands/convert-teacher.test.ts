/**
 * End to end: `spikeclip convert teacher` through the real CLI (bin/run.js over dist/; `npm test`
 * builds first) on small random Hugging Face CLIP folders written by the test helper.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCheckpoint } from '../../src/io/checkpoint';
import { readSafetensorsFile } from '../../src/io/safetensors';
import { writeClipFixture } from '../helpers/clip-fixture';
import { pickle, writeZip } from '../helpers/pickle-writer';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'convert-teacher-'));
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'convert', 'teacher.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
});

describe('spikeclip convert teacher', () => {
  it('converts a Hugging Face folder (model.safetensors) into a teacher checkpoint with HF names and the tokenizer', async () => {
    const root = tmp();
    const fx = writeClipFixture(path.join(root, 'clip'), { seed: 11 });
    const out = path.join(root, 'ckpt');
    const r = cli(['convert', 'teacher', '--from', fx.dir, '--out', out]);
    expect(r.stderr).toContain('note: using model.safetensors (pytorch_model.bin is ignored)');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote teacher checkpoint ${out}`);
    expect(r.stdout).toMatch(/image\s+ViT 2 layers, width 32, 4 heads, patch 8, 32x32, quick_gelu/);
    const ck = await loadCheckpoint(out);
    expect(ck.config.kind).toBe('teacher');
    expect(ck.config.model).toBe('clip');
    expect(ck.config.hf_config).toEqual(fx.configJson);
    expect((ck.config.provenance as { commandLine: string[] }).commandLine.slice(0, 3)).toEqual(['spikeclip', 'convert', 'teacher']);
    expect((ck.config.source as { format: string }).format).toBe('safetensors');
    expect([...(ck.tokenizerFiles as Map<string, Uint8Array>).keys()].sort()).toEqual(['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json']);
    expect(new TextDecoder().decode(ck.tokenizerFiles!.get('vocab.json'))).toBe(fx.vocab.vocabJson);
    const w = ck.weights!;
    expect(w.size).toBe(fx.weights.size);
    for (const [name, t] of fx.weights) {
      expect(w.get(name)?.shape).toEqual(t.shape);
      expect(w.get(name)?.data).toEqual(t.data);
    }
    expect(w.has('text_model.embeddings.position_ids')).toBe(false);
  });

  it('the pytorch_model.bin route gives byte-identical weights; --json result; --force replaces', async () => {
    const root = tmp();
    const fxA = writeClipFixture(path.join(root, 'a'), { seed: 12, bin: false });
    const fxB = writeClipFixture(path.join(root, 'b'), { seed: 12, safetensors: false });
    expect(cli(['convert', 'teacher', '--from', fxA.dir, '--out', path.join(root, 'ca')]).status).toBe(0);
    const r = cli(['convert', 'teacher', '--from', fxB.dir, '--out', path.join(root, 'cb'), '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ status: 0, result: { weightsFormat: 'pytorch', tensors: 78, projectionDim: 16, text: { contextLength: 16 } } });
    expect(r.stderr).toBe('');
    const a = fs.readFileSync(path.join(root, 'ca', 'model.safetensors'));
    const b = fs.readFileSync(path.join(root, 'cb', 'model.safetensors'));
    expect(Buffer.compare(a, b)).toBe(0);
    // an existing checkpoint is only replaced with --force
    const again = cli(['convert', 'teacher', '--from', fxB.dir, '--out', path.join(root, 'ca')]);
    expect(again.status).toBe(4);
    expect(again.stderr).toMatch(/is already a checkpoint \(fix: pass --force/);
    expect(cli(['convert', 'teacher', '--from', fxB.dir, '--out', path.join(root, 'ca'), '--force']).status).toBe(0);
    const { metadata } = await readSafetensorsFile(path.join(root, 'ca', 'model.safetensors'));
    expect(metadata).toEqual({ spikeclip_format_version: '1' });
  });

  describe('bad input: one clear line, exit status 4, nothing written', () => {
    function expectFailure(from: string, re: RegExp, extra: string[] = []): void {
      const out = path.join(path.dirname(from), 'out-ckpt');
      const r = cli(['convert', 'teacher', '--from', from, '--out', out, ...extra]);
      expect(r.status).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(path.dirname(from)).filter((n) => n.includes('out-ckpt'))).toEqual([]);
    }

    it('missing files are named', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { bin: false });
      fs.rmSync(path.join(fx.dir, 'merges.txt'));
      fs.rmSync(path.join(fx.dir, 'model.safetensors'));
      expectFailure(fx.dir, /is not a complete Hugging Face CLIP folder: missing model\.safetensors or pytorch_model\.bin, merges\.txt/);
    });

    it('an unsupported config field is named', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { bin: false });
      const cfg = JSON.parse(fs.readFileSync(path.join(fx.dir, 'config.json'), 'utf8'));
      cfg.vision_config.hidden_act = 'silu';
      fs.writeFileSync(path.join(fx.dir, 'config.json'), JSON.stringify(cfg));
      expectFailure(fx.dir, /config\.json: vision_config\.hidden_act "silu" is not supported/);
    });

    it('a tensor whose shape does not match config.json', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { bin: false, reshapeTensor: 'vision_model.encoder.layers.1.mlp.fc2.weight' });
      expectFailure(fx.dir, /model\.safetensors: tensor vision_model\.encoder\.layers\.1\.mlp\.fc2\.weight has shape \[2048\] but config\.json implies \[32, 64\]/);
    });

    it('a missing tensor', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { safetensors: false, dropTensor: 'logit_scale' });
      expectFailure(fx.dir, /pytorch_model\.bin: missing tensor logit_scale/);
    });

    it('a pickle with a disallowed global is refused by name', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { safetensors: false });
      const marker = path.join(path.dirname(fx.dir), 'pwned');
      const evil = pickle({ $reduce: [{ $global: 'os.system' }, [`touch ${marker}`]] });
      fs.writeFileSync(path.join(fx.dir, 'pytorch_model.bin'), writeZip([{ name: 'pytorch_model/data.pkl', data: evil }]));
      expectFailure(fx.dir, /pytorch_model\.bin: refusing to load disallowed global os\.system/);
      expect(fs.existsSync(marker)).toBe(false);
    });

    it('a truncated pytorch_model.bin', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { safetensors: false });
      const f = path.join(fx.dir, 'pytorch_model.bin');
      const bytes = fs.readFileSync(f);
      fs.writeFileSync(f, bytes.subarray(0, bytes.length - 100));
      expectFailure(fx.dir, /pytorch_model\.bin: invalid zip archive/);
    });

    it('a tokenizer that does not match the config', () => {
      const fx = writeClipFixture(path.join(tmp(), 'clip'), { bin: false });
      const cfg = JSON.parse(fs.readFileSync(path.join(fx.dir, 'config.json'), 'utf8'));
      cfg.text_config.eos_token_id = 5;
      fs.writeFileSync(path.join(fx.dir, 'config.json'), JSON.stringify(cfg));
      expectFailure(fx.dir, /text_config\.eos_token_id 5 does not match the tokenizer's <\|endoftext\|> id 540/);
    });

    it('--out that exists and is not a checkpoint is never replaced', () => {
      const root = tmp();
      const fx = writeClipFixture(path.join(root, 'clip'), { bin: false });
      const out = path.join(root, 'precious');
      fs.mkdirSync(out);
      fs.writeFileSync(path.join(out, 'thesis.tex'), 'x');
      const r = cli(['convert', 'teacher', '--from', fx.dir, '--out', out, '--force']);
      expect(r.status).toBe(4);
      expect(r.stderr).toMatch(/refusing to replace .*precious: it exists and is not a spikeclip checkpoint/);
      expect(fs.readFileSync(path.join(out, 'thesis.tex'), 'utf8')).toBe('x');
    });
  });
});
