/**
 * `spikeclip finetune` through the real CLI on a small random CLIP teacher and a generated image
 * folder: dual, ce, kl and gate modes run and lower their loss; --max-steps + --resume ends
 * bit-identical to a straight run; finetune -> eval -> energy report --rates; bad input.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertHfClipFolder } from '../../src/teacher/checkpoint';
import { writeClipFixture } from '../helpers/clip-fixture';
import { patternPng, writeMicroStudent } from '../helpers/eval-fixtures';
import { makeCifarFixture } from '../helpers/fixtures-cifar';
import { errorMessage, okResult, runCli } from '../helpers/cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-cli-'));
const teacher = path.join(work, 'teacher');
const folder = path.join(work, 'images');
const student = path.join(work, 'text', 'checkpoints', 'latest');
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') };
const CLASSES = ['cat', 'dog', 'car', 'ship'];

const cli = (args: string[]) => runCli(args, ENV);
const ok = okResult;

const epochsOf = (run: string) =>
  fs
    .readFileSync(path.join(run, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((r) => (r.type as unknown) === 'epoch');

const errorOf = errorMessage;
const FT = (out: string, ...extra: string[]) => ['finetune', '--checkpoint', student, '--teacher', teacher, '--dataset', `folder:${folder}`, '--epochs', '3', '--batch-size', '8', '--lr', '2e-3', '--out', out, '--json', ...extra];

beforeAll(async () => {
  writeClipFixture(path.join(work, 'hf'), { seed: 9, bin: false, imageSize: 32, patchSize: 8 });
  await convertHfClipFolder(path.join(work, 'hf'), teacher, { provenance: {} });
  for (const [split, n] of [['train', 8], ['val', 3], ['test', 3]] as const) {
    for (let c = 0; c < CLASSES.length; c++) {
      for (let k = 0; k < n; k++) await patternPng(path.join(folder, split, CLASSES[c], `${k}.png`), 30 + 3 * k, 34 - 2 * c, 50 * c + k + (split === 'train' ? 1 : split === 'val' ? 20 : 30));
    }
  }
  // a student whose text encoder is aligned (its class matrix then tells the classes apart)
  const prompts = path.join(work, 'prompts.txt');
  fs.writeFileSync(prompts, CLASSES.map((c) => `a photo of a ${c}.`).join('\n'));
  ok(cli(['pretrain', '--part', 'text', '--teacher', teacher, '--dataset', 'cifar10', '--prompts', prompts, '--preset', 'spikeclip-tiny', '--epochs', '30', '--batch-size', '32', '--out', path.join(work, 'text'), '--json']));
}, 120_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('spikeclip finetune', () => {
  test.each([
    ['dual', []],
    ['ce', ['--loss', 'ce']],
    ['kl', ['--loss', 'kl', '--kl-reduction', 'batchmean']],
  ])('--loss %s runs and lowers its loss; the last line has its terms, val top-1 and firing rates', (mode, extra) => {
    const out = path.join(work, `ft-${mode}`);
    const res = ok<{ loss: string; classes: number; steps: number }>(cli(FT(out, ...extra)));
    expect(res).toMatchObject({ loss: mode, classes: 4, steps: 12 });
    const e = epochsOf(out);
    expect(e[2].loss).toBeLessThan(e[0].loss);
    if (mode !== 'kl') expect(typeof e[2].ce).toBe('number');
    if (mode !== 'ce') expect(typeof e[2].kl).toBe('number');
    expect(typeof e[2].val_top1).toBe('number');
    expect(Array.isArray(e[2].firing_rates)).toBe(true);
  });

  test('gate mode: each batch is either a CE step or skipped, and the skips are counted', () => {
    const out = path.join(work, 'ft-gate');
    // 180 degrees takes every batch: a CE-only step each time
    ok(cli(FT(out, '--boundary-angle', '180')));
    const all = epochsOf(out);
    expect(all.map((e) => e.skipped_batches)).toEqual([0, 0, 0]);
    expect(all[2].loss).toBeLessThan(all[0].loss);
    // a tiny boundary skips (nearly) every batch: the CE and KL gradients are never that aligned
    const out2 = path.join(work, 'ft-gate-tight');
    const res = ok<{ steps: number }>(cli(FT(out2, '--boundary-angle', '0.001')));
    const tight = epochsOf(out2);
    expect(tight.reduce((s, e) => s + e.skipped_batches, 0)).toBe(12 - res.steps);
    expect(res.steps).toBeLessThan(3);
  });

  test('--max-steps then --resume latest ends bit-identical to a straight run', () => {
    const straight = path.join(work, 'ft-straight');
    ok(cli(FT(straight)));
    const cut = path.join(work, 'ft-cut');
    const first = ok<{ stopped: string; steps: number }>(cli(FT(cut, '--max-steps', '5')));
    expect(first).toMatchObject({ stopped: 'max-steps', steps: 5 });
    expect(fs.readlinkSync(path.join(cut, 'checkpoints', 'latest'))).toBe('step_5');
    ok(cli([...FT(cut), '--resume', 'latest']));
    for (const f of ['model.safetensors', 'training_state.safetensors']) {
      const a = fs.readFileSync(path.join(straight, 'checkpoints', 'latest', f));
      const b = fs.readFileSync(path.join(cut, 'checkpoints', 'latest', f));
      expect([f, b.equals(a)]).toEqual([f, true]);
    }
  });

  test('finetune -> eval -> energy report --rates on the run\'s checkpoint', () => {
    const ck = path.join(work, 'ft-dual', 'checkpoints', 'best');
    const resultFile = path.join(work, 'eval.json');
    const ev = ok<{ results: { metrics: { acc1: number } }[] }>(cli(['eval', '--checkpoint', ck, '--dataset', `folder:${folder}`, '--split', 'test', '--output', resultFile, '--json']));
    expect(ev.results[0].metrics.acc1).toBeGreaterThanOrEqual(0);
    const en = cli(['energy', 'report', '--checkpoint', ck, '--rates', resultFile, '--json']);
    expect(en.status).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ kind: 'student', stage: 'finetune', loss: 'dual', selectOn: 'val', classNames: CLASSES.slice().sort() });
  });

  test('the CLI contract: a fresh tiny student on CIFAR-10 with CE only, no teacher, then eval on test', () => {
    const data = path.join(work, 'data');
    fs.mkdirSync(data, { recursive: true });
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: data, perBatch: 8, testCount: 10 });
    const out = path.join(work, 'contract');
    const res = ok<{ stopped: string; steps: number; classes: number }>(
      cli(['finetune', '--dataset', 'cifar10', '--data-dir', data, '--preset', 'spikeclip-tiny', '--loss', 'ce', '--lr', '1e-3', '--batch-size', '16', '--max-steps', '3', '--seed', '1', '--out', out, '--json']),
    );
    expect(res).toMatchObject({ stopped: 'max-steps', steps: 3, classes: 10 });
    expect(fs.readFileSync(path.join(out, 'out.log'), 'utf8')).toMatch(/tokenizer: byte-level BPE .* learnt from the 180 class prompts/);
    const ev = ok<{ results: { metrics: { acc1: number }; split: string }[] }>(cli(['eval', '--checkpoint', path.join(out, 'checkpoints', 'latest'), '--dataset', 'cifar10', '--data-dir', data, '--split', 'test', '--json']));
    expect(ev.results[0].split).toBe('test');
  });

  test('an untrained text encoder (every class vector the same) is refused before the run folder is made', async () => {
    const silent = path.join(work, 'silent');
    const r = cli(['pretrain', '--part', 'image', '--teacher', teacher, '--dataset', `folder:${folder}`, '--preset', 'spikeclip-tiny', '--max-steps', '1', '--batch-size', '8', '--out', silent, '--json']);
    expect(r.status).toBe(0);
    const ft = cli(['finetune', '--checkpoint', path.join(silent, 'checkpoints', 'latest'), '--dataset', `folder:${folder}`, '--loss', 'ce', '--out', path.join(work, 'b6'), '--json']);
    expect(ft.status).toBe(4);
    expect(errorOf(ft)).toMatch(/the class matrix has the same vector for .* the text encoder does not tell these prompts apart/);
    expect(fs.existsSync(path.join(work, 'b6'))).toBe(false);
  });

  test('bad input: one line each, before training, nothing written', async () => {
    const dualNoTeacher = cli(['finetune', '--checkpoint', student, '--dataset', `folder:${folder}`, '--loss', 'dual', '--out', path.join(work, 'b1'), '--json']);
    expect(dualNoTeacher.status).toBe(2);
    expect(errorOf(dualNoTeacher)).toMatch(/--loss dual needs the teacher's class distribution/);
    const one = path.join(work, 'one-class');
    await patternPng(path.join(one, 'train', 'cat', '0.png'), 32, 32, 1);
    const oneClass = cli(['finetune', '--checkpoint', student, '--dataset', `folder:${one}`, '--loss', 'ce', '--out', path.join(work, 'b2'), '--json']);
    expect(oneClass.status).toBe(4);
    expect(errorOf(oneClass)).toMatch(/has 1 class; classification needs at least 2/);
    const names = path.join(work, 'names.txt');
    fs.writeFileSync(names, 'a\nb\nc\n');
    const count = cli([...FT(path.join(work, 'b3')), '--classnames', names]);
    expect(count.status).toBe(4);
    expect(errorOf(count)).toMatch(/has 3 class names but .* has 4 classes/);
    const micro = path.join(work, 'micro');
    await writeMicroStudent(micro);
    const width = cli(['finetune', '--checkpoint', micro, '--teacher', teacher, '--dataset', `folder:${folder}`, '--out', path.join(work, 'b4'), '--json']);
    expect(width.status).toBe(4);
    expect(errorOf(width)).toMatch(/embeds into 12 dimensions but the teacher .* projects to 16/);
    const noTok = path.join(work, 'micro-notok');
    await writeMicroStudent(noTok, { tokenizer: false });
    const tok = cli(['finetune', '--checkpoint', noTok, '--dataset', `folder:${folder}`, '--loss', 'ce', '--out', path.join(work, 'b5'), '--json']);
    expect(tok.status).toBe(4);
    expect(errorOf(tok)).toMatch(/no tokenizer/);
    for (const b of ['b1', 'b2', 'b3', 'b4', 'b5']) expect([b, fs.existsSync(path.join(work, b))]).toEqual([b, false]);
  });
});
