/**
 * End-to-end: `spikeclip energy report` through the real CLI (bin/run.js over dist/; `npm test`
 * builds first). Kept fast: spikeclip-tiny or a micro checkpoint, a few samples.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as tf from '../../src/tf';
import { checkpointHash } from '../../src/io/checkpoint';
import { SpikeClip, validateConfig } from '../../src/models';
import { DEFAULT_NEURON } from '../../src/snn';
import { saveStudentCheckpoint } from '../../src/student/checkpoint';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'energy', 'report', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Envelope {
  status: number;
  result?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  error?: { code: string; message: string; fix?: string };
  backend?: { name: string };
}

let tmp: string;
beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'energy', 'report.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-e2e-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('spikeclip energy report (real CLI)', () => {
  test('--synthetic --json --plot png: one JSON document, the chart written and decodable', async () => {
    const chart = path.join(tmp, 'chart.png');
    const r = cli(['--synthetic', '--preset', 'spikeclip-tiny', '--samples', '3', '--batch-size', '2', '--seed', '4', '--json', '--plot', chart]);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as Envelope;
    expect(doc.status).toBe(0);
    expect(doc.backend?.name).toEqual(expect.any(String));
    const res = doc.result!;
    expect(res).toMatchObject({ format: 'spikeclip-energy-report', mode: 'measured', architecture: 'spikeclip-tiny', timeSteps: { image: 2, text: 2 } });
    expect(res.weights).toMatchObject({ kind: 'fresh', seed: 4 });
    expect(res.inputs).toMatchObject({ kind: 'synthetic', images: 3, prompts: 3, seed: 4 });
    expect(res.energy).toMatchObject({ preset: 'fp32', eMacPj: 4.6, eAcPj: 0.9 });
    expect(res.encoders[0].layers).toHaveLength(14);
    // ScratchCLIP at the tiny width: convs 13,197,312 + one block 3,670,016 + projection 32,768
    expect(res.encoders[0].ann.flops).toBe(16_900_096);
    expect(res.provenance.commandLine.slice(0, 4)).toEqual(['spikeclip', 'energy', 'report', '--synthetic']);
    expect(res.chart).toMatchObject({ path: chart, format: 'png' });
    expect((await sharp(chart).metadata()).format).toBe('png');
  });

  test('human output: header, tables, totals on stdout; notes and progress on stderr; --plot svg', () => {
    const chart = path.join(tmp, 'chart.svg');
    const r = cli(['--synthetic', '--preset', 'spikeclip-tiny', '--samples', '2', '--plot', chart, '--energy-preset', 'int8', '--e-ac', '0.05']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^SpikeCLIP energy report: spikeclip-tiny/);
    expect(r.stdout).toMatch(/int8 \(overridden\): E_MAC = 0.23 pJ, E_AC = 0.05 pJ/);
    expect(r.stdout).toMatch(/total \(one image \+ one prompt\)/);
    expect(r.stderr).toMatch(/counted spikes of 2 images and 2 prompts/);
    expect(r.stderr).toMatch(/chart: .*chart\.svg/);
    expect(fs.readFileSync(chart, 'utf8')).toMatch(/<svg /);
  });

  test('--csv: the table on stdout only', () => {
    const r = cli(['--synthetic', '--preset', 'spikeclip-tiny', '--samples', '1', '--csv', '-q']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\r\n');
    expect(lines[0]).toMatch(/^encoder,layer,kind,flops_per_step,/);
    expect(lines[1]).toMatch(/^image,image\.patch_embed\.block0_conv,mac,221184,2,/);
    expect(r.stderr).toBe('');
  });

  test('--rates: no data, no backend, the file hash recorded', () => {
    const f = path.join(tmp, 'rates.json');
    fs.writeFileSync(f, JSON.stringify({ '*': 0.1 }));
    const r = cli(['--rates', f, '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as Envelope;
    expect(doc.backend).toBeUndefined();
    expect(doc.result).toMatchObject({ mode: 'rates', architecture: 'spikeclip-b', inputs: { kind: 'rates', images: 0 } });
    // spikeclip-b, all spike-input layers at 10%: 1,327,104 x 4 + 196,608 x 1 = 5,505,024 MACs and 0.1 * 4 * (934,232,064 - 1,327,104 - 196,608) SOPs
    expect(doc.result!.encoders[0].macs).toBe(5_505_024);
    expect(doc.result!.encoders[0].sops).toBeCloseTo(0.4 * 932_708_352, 1);
  });

  test('the old names (--arch, --model-preset, --chart, --preset fp16) still work, each with one warning line on stderr; --json stays one document', () => {
    const f = path.join(tmp, 'rates-old.json');
    fs.writeFileSync(f, JSON.stringify({ '*': 0.1 }));
    const chart = path.join(tmp, 'old.svg');
    const r = cli(['--rates', f, '--arch', 'spikeclip-tiny', '--preset', 'fp16', `--chart=${chart}`, '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as Envelope & { warnings: string[] };
    expect(doc.result).toMatchObject({ architecture: 'spikeclip-tiny', energy: { preset: 'fp16' }, chart: { path: chart, format: 'svg' } });
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      'Warning: --arch is deprecated and will be removed in the next release: use --preset',
      'Warning: --chart is deprecated and will be removed in the next release: use --plot',
      'Warning: --preset fp16 naming energy constants is deprecated and will be removed in the next release: use --energy-preset fp16 (--preset is the architecture)',
    ]);
    expect(doc.warnings).toEqual(lines.map((l) => l.replace(/^Warning: /, '')));
    // the recorded command line is the one typed
    expect(doc.result!.provenance.commandLine).toContain('fp16');
    expect(doc.result!.provenance.commandLine).toContain('--arch');
    // from a --config file: the old key, and --preset's old meaning
    const cfg = path.join(tmp, 'old.yaml');
    fs.writeFileSync(cfg, 'model-preset: spikeclip-tiny\n');
    const c = cli(['--rates', f, '--config', cfg, '--energy-preset', 'int8', '--json', '-q']);
    expect(c.status).toBe(0);
    expect(c.stderr).toBe('');
    const cdoc = JSON.parse(c.stdout) as Envelope & { warnings: string[] };
    expect(cdoc.result).toMatchObject({ architecture: 'spikeclip-tiny', energy: { preset: 'int8' } });
    expect(cdoc.warnings).toEqual([`${cfg}: --model-preset is deprecated and will be removed in the next release: use --preset`]);
  });

  test('a student checkpoint: its SHA-256 in the report; shapes dataset inputs', async () => {
    await tf.setBackend('cpu');
    const neuron = { ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } };
    const cfg = validateConfig({
      image: { embedDim: 16, depth: 1, heads: 2, mlpRatio: 2, timeSteps: 2, imageSize: 32, inChannels: 3, outputDim: 8, neuron },
      text: { contextLength: 4, vocabSize: 50, width: 8, maxPositions: 6, hidden: 16, outputDim: 8, timeSteps: 2, neuron },
    });
    const model = new SpikeClip(cfg, { seed: 1 });
    const dir = path.join(tmp, 'ckpt');
    await saveStudentCheckpoint(dir, model);
    model.dispose();
    const r = cli(['--checkpoint', dir, '--dataset', 'shapes', '--samples', '4', '--json']);
    expect(r.status).toBe(0);
    const res = (JSON.parse(r.stdout) as Envelope).result!;
    expect(res.weights).toMatchObject({ kind: 'checkpoint', checkpoint: dir, sha256: await checkpointHash(dir) });
    expect(res.architecture).toBe('checkpoint');
    expect(res.inputs).toMatchObject({ kind: 'dataset', dataset: 'shapes', split: 'test', images: 4 });
    expect(res.warnings.join(' ')).toMatch(/random token sequences/);
  });

  test.each([
    [[], 2, /needs inputs/],
    [['--synthetic', '--rates', 'x.json'], 2, /exclusive/],
    [['--synthetic', '--e-mac', '-1'], 2, /--e-mac must be a non-negative number/],
    [['--synthetic', '--csv', '--json'], 2, /exclusive/],
    [['--checkpoint', 'x', '--preset', 'spikeclip-tiny', '--synthetic'], 2, /carries its own architecture/],
    [['--synthetic', '--preset', 'fp16', '--energy-preset', 'int8'], 2, /both given/],
    [['--synthetic', '--preset', 'huge'], 2, /one of spikeclip-b, spikeclip-tiny/],
    [['--data-dir', 'x', '--synthetic'], 2, /--data-dir needs --dataset/],
    [['--synthetic', '--preset', 'spikeclip-tiny', '--samples', '1', '--plot', 'x.jpg'], 2, /\.svg or \.png/],
    [['--rates', '/nonexistent/rates.json'], 4, /no such file|ENOENT/],
    [['--checkpoint', '/nonexistent/ckpt', '--synthetic'], 4, /not found|nonexistent/],
  ] as Array<[string[], number, RegExp]>)('%j -> status %i', (args, status, msg) => {
    const r = cli([...args, '--json']);
    expect(r.status).toBe(status);
    const doc = JSON.parse(r.stdout) as Envelope;
    expect(doc.status).toBe(status);
    expect(`${doc.error?.message} ${doc.error?.fix ?? ''}`).toMatch(msg);
  });

  test('a malformed rates file is bad input (status 4) naming the file', () => {
    const f = path.join(tmp, 'bad-rates.json');
    fs.writeFileSync(f, JSON.stringify({ 'image.nope': 0.1 }));
    const r = cli(['--rates', f]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/^Error: .*bad-rates\.json: no layer named "image\.nope"/);
    expect(r.stderr).toMatch(/fix: see docs\/energy\.md/);
  });
});
