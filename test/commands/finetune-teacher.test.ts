/**
 * `spikeclip finetune --target teacher` through the real CLI on a generated image folder (4
 * classes; the built-in shapes set renders 1,500 images per run, too slow for CI) and a small
 * random CLIP teacher: it runs and lowers its CE, writes teacher checkpoints that `eval` and
 * `finetune --teacher` take, and refuses flags that do not apply in one line.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertHfClipFolder } from '../../src/teacher/checkpoint';
import { writeClipFixture } from '../helpers/clip-fixture';
import { errorMessage, okResult, runCli } from '../helpers/cli';
import { patternPng } from '../helpers/eval-fixtures';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-teacher-'));
const teacher = path.join(work, 'teacher');
const folder = path.join(work, 'images');
const DATA = `folder:${folder}`;
const CLASSES = ['cat', 'dog', 'car', 'ship'];
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') };
const cli = (args: string[]) => runCli(args, ENV);

const lines = (run: string) =>
  fs
    .readFileSync(path.join(run, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  writeClipFixture(path.join(work, 'hf'), { seed: 9, bin: false, imageSize: 32, patchSize: 8 });
  await convertHfClipFolder(path.join(work, 'hf'), teacher, { provenance: {} });
  for (const [split, n] of [['train', 8], ['val', 3], ['test', 3]] as const) {
    for (let c = 0; c < CLASSES.length; c++) {
      for (let k = 0; k < n; k++) await patternPng(path.join(folder, split, CLASSES[c], `${k}.png`), 30 + 3 * k, 34 - 2 * c, 50 * c + k + (split === 'train' ? 1 : split === 'val' ? 20 : 30));
    }
  }
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('spikeclip finetune --target teacher', () => {
  const out = path.join(work, 'ft-teacher');

  test('runs, lowers its CE, and writes a teacher checkpoint that eval and finetune --teacher take', () => {
    const res = okResult<{ target: string; loss: string; classes: number; steps: number; checkpoint: string }>(
      cli(['finetune', '--target', 'teacher', '--teacher', teacher, '--dataset', DATA, '--epochs', '3', '--batch-size', '8', '--lr', '2e-3', '--out', out, '--json']),
    );
    expect(res).toMatchObject({ target: 'teacher', loss: 'ce', classes: 4, steps: 12 });
    const epochs = lines(out).filter((r) => r.type === 'epoch');
    expect(epochs).toHaveLength(3);
    expect(epochs[2].loss as number).toBeLessThan(epochs[0].loss as number);
    expect(typeof epochs[2].val_top1).toBe('number');
    const params = JSON.parse(fs.readFileSync(path.join(out, 'params.json'), 'utf8')) as { options: Record<string, unknown> };
    expect(params.options).toMatchObject({ target: 'teacher', loss: 'ce', preset: null });

    const ck = path.join(out, 'checkpoints', 'latest');
    const cfg = JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ kind: 'teacher', model: 'clip', stage: 'finetune-teacher', loss: 'ce', initFrom: teacher });
    // only the image tower moved: the text tower (so the class matrix) is the original's
    const a = fs.readFileSync(path.join(teacher, 'model.safetensors'));
    const b = fs.readFileSync(path.join(ck, 'model.safetensors'));
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(false);

    const ev = okResult<{ results: { metrics: { acc1: number } }[] }>(cli(['eval', '--checkpoint', ck, '--dataset', DATA, '--split', 'test', '--json']));
    expect(ev.results[0].metrics.acc1).toBeGreaterThanOrEqual(0);
    // the fine-tuned teacher as the KL target of a fresh student
    const st = okResult<{ loss: string; steps: number }>(
      cli(['finetune', '--teacher', ck, '--preset', 'spikeclip-tiny', '--dataset', DATA, '--batch-size', '8', '--max-steps', '2', '--out', path.join(work, 'ft-student'), '--json']),
    );
    expect(st).toMatchObject({ loss: 'dual', steps: 2 });
  });

  test('--max-steps then --resume latest ends bit-identical to the straight run', () => {
    const cut = path.join(work, 'ft-teacher-cut');
    const args = ['finetune', '--target', 'teacher', '--teacher', teacher, '--dataset', DATA, '--epochs', '3', '--batch-size', '8', '--lr', '2e-3', '--out', cut, '--json'];
    expect(okResult<{ steps: number }>(cli([...args, '--max-steps', '5']))).toMatchObject({ steps: 5 });
    expect(okResult<{ steps: number; target: string }>(cli([...args, '--resume', 'latest']))).toMatchObject({ steps: 12, target: 'teacher' });
    for (const f of ['model.safetensors', 'training_state.safetensors']) {
      const a = fs.readFileSync(path.join(out, 'checkpoints', 'latest', f));
      const b = fs.readFileSync(path.join(cut, 'checkpoints', 'latest', f));
      expect([f, b.equals(a)]).toEqual([f, true]);
    }
  });

  test.each([
    [['--target', 'teacher'], /--target teacher fine-tunes a teacher, and no --teacher was given/],
    // the other refusals are checked without spawning the CLI (test/train/finetune-teacher.test.ts)
  ])('bad input %j is a one-line usage error before anything is written', (extra, message) => {
    const dir = path.join(work, `bad-${Math.random().toString(36).slice(2)}`);
    const r = cli(['finetune', '--dataset', DATA, ...extra, '--out', dir, '--json']);
    expect(r.status).toBe(2);
    expect(errorMessage(r)).toMatch(message);
    expect(errorMessage(r)).not.toContain('\n');
    expect(fs.existsSync(dir)).toBe(false);
  });
});
