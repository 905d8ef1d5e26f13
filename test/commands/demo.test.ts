/**
 * `spikeclip demo --quick` through the real CLI: every stage runs (teacher, text and image
 * alignment, dual-loss fine-tuning, three evals, energy report) into one run folder, and the
 * summary holds each stage's numbers, the held-out accuracy against chance and the energy report.
 * The quick budget is far too short to learn: accuracies are checked to be measured, not high.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { errorMessage, okResult, runCli } from '../helpers/cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-cli-'));
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') };

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

interface Summary {
  out: string;
  quick: boolean;
  stages: Array<{ stage: string; status: string; seconds: number; checkpoint?: string }>;
  accuracy: Array<{ model: string; top1: number; heldOut: { accuracy: number | null; chance: number; images: number } }>;
  zeroShot: { classes: string[]; images: number; accuracy: number | null; chance: number; gapToChance: number | null };
  energy: { report: string; chart: string; imageMj: number; annImageMj: number; meanFiringRate: number | null };
  files: Record<string, string>;
  nextSteps: string[];
}

test('demo --quick --json runs every stage and summarises them', () => {
  const out = path.join(work, 'demo');
  const s = okResult<Summary>(runCli(['demo', '--quick', '--out', out, '--json'], ENV));
  expect(s.quick).toBe(true);
  expect(s.stages.map((x) => `${x.stage}:${x.status}`)).toEqual(['teacher:ran', 'align-text:ran', 'align-image:ran', 'finetune:ran', 'eval:ran', 'energy:ran']);
  for (const st of s.stages) expect(st.seconds).toBeGreaterThanOrEqual(0);
  expect(s.accuracy.map((a) => a.model)).toEqual(['teacher', 'student-aligned', 'student-finetuned']);
  for (const a of s.accuracy) {
    expect(a.top1).toBeGreaterThanOrEqual(0);
    expect(a.top1).toBeLessThanOrEqual(1);
    expect(a.heldOut.chance).toBeCloseTo(1 / 36, 10);
    expect(a.heldOut.images).toBeGreaterThan(0);
  }
  expect(s.zeroShot.classes).toEqual(['red circle', 'orange square', 'yellow triangle', 'green star', 'blue hexagon', 'purple cross']);
  expect(s.zeroShot.gapToChance).toBeCloseTo((s.zeroShot.accuracy as number) - 1 / 36, 10);
  // the energy report is the command's own JSON, with its chart
  const report = JSON.parse(fs.readFileSync(s.energy.report, 'utf8')) as { encoders: Array<{ encoder: string; energyMj: number }> };
  expect(report.encoders.find((e) => e.encoder === 'image')?.energyMj).toBeCloseTo(s.energy.imageMj, 12);
  expect(s.energy.annImageMj).toBeGreaterThan(s.energy.imageMj);
  expect(fs.readFileSync(s.energy.chart, 'utf8')).toMatch(/^<svg|<\?xml/);
  // every file the summary names exists; summary.json is the same summary
  for (const f of Object.values(s.files)) expect(fs.existsSync(f)).toBe(true);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toMatchObject({ out: s.out, stages: s.stages.map((x) => ({ stage: x.stage })) });
  // each stage's checkpoint loads in eval's --json (the commands work on the demo's run folder)
  const ev = okResult<{ results: Array<{ metrics: { acc1: number } }> }>(runCli(['eval', '--checkpoint', s.files['fine-tuned student'], '--dataset', 'shapes', '--split', 'test', '--limit', '36', '--json'], ENV));
  expect(ev.results[0].metrics.acc1).toBeGreaterThanOrEqual(0);
  expect(s.nextSteps.every((c) => c.startsWith('spikeclip '))).toBe(true);

  // the same --out again: refused before anything runs, nothing overwritten
  const again = runCli(['demo', '--quick', '--out', out, '--json'], ENV);
  expect(again.status).toBe(2);
  expect(errorMessage(again)).toMatch(/already exists and is not empty/);
}, 240_000);
