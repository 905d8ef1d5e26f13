/**
 * `spikeclip finetune --target teacher` through the real CLI on the built-in shapes set and a
 * small random CLIP teacher: it runs and lowers its CE, writes teacher checkpoints that `eval`
 * and `finetune --teacher` take, and refuses flags that do not apply in one line.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertHfClipFolder } from '../../src/teacher/checkpoint';
import { writeClipFixture } from '../helpers/clip-fixture';
import { errorMessage, okResult, runCli } from '../helpers/cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-teacher-'));
const teacher = path.join(work, 'teacher');
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') };
const cli = (args: string[]) => runCli(args, ENV);

const lines = (run: string) =>
  fs
    .readFileSync(path.join(run, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

beforeAll(async () => {
  writeClipFixture(path.join(work, 'hf'), { seed: 9, bin: false, imageSize: 32, patchSize: 8 });
  await convertHfClipFolder(path.join(work, 'hf'), teacher, { provenance: {} });
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('spikeclip finetune --target teacher', () => {
  const out = path.join(work, 'ft-teacher');

  test('runs on shapes, lowers its CE, and writes a teacher checkpoint that eval and finetune --teacher take', () => {
    const res = okResult<{ target: string; loss: string; classes: number; steps: number; checkpoint: string }>(
      cli(['finetune', '--target', 'teacher', '--teacher', teacher, '--dataset', 'shapes', '--batch-size', '32', '--lr', '3e-3', '--max-steps', '30', '--log-every', '1', '--out', out, '--json']),
    );
    expect(res).toMatchObject({ target: 'teacher', loss: 'ce', classes: 36, steps: 30 });
    const steps = lines(out).filter((r) => r.type === 'step');
    expect(steps).toHaveLength(30);
    const loss = steps.map((r) => r.loss as number);
    expect(mean(loss.slice(-8))).toBeLessThan(mean(loss.slice(0, 8)) - 0.05);
    const params = JSON.parse(fs.readFileSync(path.join(out, 'params.json'), 'utf8')) as { options: Record<string, unknown> };
    expect(params.options).toMatchObject({ target: 'teacher', loss: 'ce', preset: null });

    const ck = path.join(out, 'checkpoints', 'latest');
    const cfg = JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ kind: 'teacher', model: 'clip', stage: 'finetune-teacher', dataset: 'shapes', loss: 'ce', initFrom: teacher });
    // only the image tower moved: the text tower (so the class matrix) is the original's
    const a = fs.readFileSync(path.join(teacher, 'model.safetensors'));
    const b = fs.readFileSync(path.join(ck, 'model.safetensors'));
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(false);

    const ev = okResult<{ results: { metrics: { acc1: number } }[] }>(cli(['eval', '--checkpoint', ck, '--dataset', 'shapes', '--split', 'val', '--limit', '64', '--json']));
    expect(ev.results[0].metrics.acc1).toBeGreaterThanOrEqual(0);
    // the fine-tuned teacher as the KL target of a fresh student
    const st = okResult<{ loss: string; steps: number }>(
      cli(['finetune', '--teacher', ck, '--preset', 'spikeclip-tiny', '--dataset', 'shapes', '--batch-size', '8', '--max-steps', '2', '--out', path.join(work, 'ft-student'), '--json']),
    );
    expect(st).toMatchObject({ loss: 'dual', steps: 2 });
  });

  test.each([
    [['--target', 'teacher'], /--target teacher fine-tunes a teacher, and no --teacher was given/],
    [['--target', 'teacher', '--teacher', teacher, '--loss', 'dual'], /--loss dual does not apply/],
    [['--target', 'teacher', '--teacher', teacher, '--boundary-angle', '90'], /--boundary-angle gates the student's dual loss/],
    [['--target', 'teacher', '--teacher', teacher, '--preset', 'spikeclip-tiny'], /--preset sizes a fresh student/],
  ])('bad input %j is a one-line usage error before anything is written', (extra, message) => {
    const dir = path.join(work, `bad-${Math.random().toString(36).slice(2)}`);
    const r = cli(['finetune', '--dataset', 'shapes', ...extra, '--out', dir, '--json']);
    expect(r.status).toBe(2);
    expect(errorMessage(r)).toMatch(message);
    expect(errorMessage(r)).not.toContain('\n');
    expect(fs.existsSync(dir)).toBe(false);
  });
});
