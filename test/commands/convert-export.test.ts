/**
 * End to end: `spikeclip convert export` through the real CLI, on a student made by
 * `spikeclip convert import` from reference checkpoints written by the test helper.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSafetensorsFile } from '../../src/io/safetensors';
import { SMALL_TEXT, TINY_IMAGE, referenceImageStateDict, referenceTextStateDict, writeReferenceSafetensors } from '../helpers/reference-checkpoint';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let ckpt: string;
const img = referenceImageStateDict(TINY_IMAGE, 21);
const txt = referenceTextStateDict(SMALL_TEXT, 22);

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'convert', 'export.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-convert-export-'));
  writeReferenceSafetensors(path.join(dir, 'image.safetensors'), img);
  writeReferenceSafetensors(path.join(dir, 'text.safetensors'), txt);
  ckpt = path.join(dir, 'student');
  const r = cli(['convert', 'import', '--from', path.join(dir, 'image.safetensors'), '--text', path.join(dir, 'text.safetensors'), '--out', ckpt, '--heads', '4', '--quiet']);
  if (r.status !== 0) throw new Error(`convert import failed: ${r.stderr}`);
});

describe('spikeclip convert export', () => {
  it('--format safetensors --json: reference-named files whose tensors are the imported ones, byte for byte', async () => {
    const out = path.join(dir, 'pt');
    const r = cli(['convert', 'export', '--checkpoint', ckpt, '--format', 'safetensors', '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ status: 0, result: { format: 'safetensors', parts: ['image', 'text'], checkpoint: { kind: 'student', imported: ['image', 'text'] } } });
    expect(doc.result.files.map((f: { file: string }) => f.file)).toEqual(['image_encoder.safetensors', 'text_encoder.safetensors']);
    for (const [file, ref] of [['image_encoder.safetensors', img], ['text_encoder.safetensors', txt]] as const) {
      const { tensors, metadata } = await readSafetensorsFile(path.join(out, file));
      expect([...tensors.keys()].sort()).toEqual([...ref.keys()].sort());
      for (const [name, t] of ref) {
        if (t.data instanceof Float32Array) expect(Buffer.compare(Buffer.from((tensors.get(name)!.data as Float32Array).buffer), Buffer.from(t.data.buffer))).toBe(0);
      }
      expect(metadata.format).toBe('pt');
    }
    const ej = JSON.parse(fs.readFileSync(path.join(out, 'export.json'), 'utf8'));
    expect(ej.provenance.commandLine.slice(0, 3)).toEqual(['spikeclip', 'convert', 'export']);
  });

  it('--format tfjs: model.json + shards, human output lists the files', () => {
    const out = path.join(dir, 'web');
    const r = cli(['convert', 'export', '--checkpoint', ckpt, '--format', 'tfjs', '--out', out, '--shard-bytes', '65536']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote tfjs export ${out}`);
    expect(r.stdout).toMatch(/model\.json\s+TF\.js manifest\s+\d+ tensors/);
    expect(r.stdout).toMatch(/group1-shard\{1\.\.\d+\}of\d+\.bin\s+weight shards/);
    const mj = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(mj.format).toBe('spikeclip-tfjs');
    expect(mj.weightsManifest[0].paths.length).toBeGreaterThan(5);
    for (const p of mj.weightsManifest[0].paths) expect(fs.statSync(path.join(out, p)).size).toBeLessThanOrEqual(65536);
    const again = cli(['convert', 'export', '--checkpoint', ckpt, '--format', 'tfjs', '--out', out]);
    expect(again.status).toBe(4);
    expect(again.stderr).toMatch(/^Error: .* is already a spikeclip export folder \(fix: pass --force/);
    expect(cli(['convert', 'export', '--checkpoint', ckpt, '--format', 'tfjs', '--out', out, '--force', '-q']).status).toBe(0);
  });

  it('bad input: not a checkpoint, a bad shard size', () => {
    const r = cli(['convert', 'export', '--checkpoint', path.join(dir, 'image.safetensors'), '--format', 'tfjs', '--out', path.join(dir, 'x'), '--json']);
    expect(r.status).toBe(4);
    expect(JSON.parse(r.stdout).error.message).toMatch(/not a spikeclip checkpoint: .*image\.safetensors .*it is a file, not a directory/);
    const s = cli(['convert', 'export', '--checkpoint', ckpt, '--format', 'tfjs', '--out', path.join(dir, 'x'), '--shard-bytes', '1001']);
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/--shard-bytes must be a multiple of 4/);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  });
});
