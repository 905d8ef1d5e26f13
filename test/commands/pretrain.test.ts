/**
 * `spikeclip pretrain` through the real CLI (bin/run.js over dist/; `npm test` builds first), on a
 * small random Hugging Face CLIP converted to a teacher and a generated image folder: every part
 * runs and lowers its loss, the checkpoints feed eval, embed and energy report, Ctrl-C saves a
 * resumable checkpoint and the resumed run ends bit-identical to an uninterrupted one, and bad
 * input is refused before any training.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertHfClipFolder } from '../../src/teacher/checkpoint';
import { writeClipFixture } from '../helpers/clip-fixture';
import { patternPng, writeMicroStudent } from '../helpers/eval-fixtures';
import { BIN, ROOT, runCli, type CliRun } from '../helpers/cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrain-cli-'));
const teacher = path.join(work, 'teacher');
const folder = path.join(work, 'images');
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache'), SPIKECLIP_PROGRESS_INTERVAL: '0' };

const cli = (args: string[]) => runCli(args, ENV);

function json<T = Record<string, unknown>>(r: CliRun): T {
  try {
    return (JSON.parse(r.stdout) as { result: T }).result;
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

function results(run: string): Record<string, unknown>[] {
  return fs
    .readFileSync(path.join(run, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const epochsOf = (run: string) => results(run).filter((r) => r.type === 'epoch');
const initialOf = (run: string) => results(run).find((r) => r.type === 'initial') as Record<string, number>;
const TINY = ['--preset', 'spikeclip-tiny', '--json'];

beforeAll(async () => {
  writeClipFixture(path.join(work, 'hf'), { seed: 5, bin: false, imageSize: 32, patchSize: 8 });
  await convertHfClipFolder(path.join(work, 'hf'), teacher, { provenance: {} });
  // 4 classes x (8 train + 3 val) patterned images of varied sizes
  const classes = ['cat', 'dog', 'car', 'ship'];
  for (const [split, n] of [['train', 8], ['val', 3]] as const) {
    for (let c = 0; c < classes.length; c++) {
      for (let k = 0; k < n; k++) await patternPng(path.join(folder, split, classes[c], `${k}.png`), 28 + 5 * k, 36 - 2 * c, 40 * c + k + (split === 'val' ? 20 : 1));
    }
  }
}, 60_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('spikeclip pretrain', () => {
  test('--part text: the loss falls, the held-out cosine rises above the fresh student\'s, and the run folder is complete', () => {
    const out = path.join(work, 'text');
    const prompts = path.join(work, 'prompts.txt');
    fs.writeFileSync(prompts, 'a photo of a truck.\na drawing of a boat.\na picture of a bird.\n');
    const r = cli(['pretrain', '--part', 'text', '--teacher', teacher, '--dataset', 'cifar10', '--prompts', prompts, '--epochs', '4', '--batch-size', '32', '--val-fraction', '0.2', '--lr', '5e-3', '--out', out, ...TINY]);
    expect(r.status).toBe(0);
    const res = json<{ phases: { part: string; steps: number }[]; checkpoint: string; best: string }>(r);
    expect(res.phases[0]).toMatchObject({ part: 'text' });
    const epochs = epochsOf(out);
    expect(epochs).toHaveLength(4);
    expect(epochs[3].loss as number).toBeLessThan(epochs[0].loss as number);
    expect(epochs[3].val_cosine as number).toBeGreaterThan(initialOf(out).val_cosine + 0.2);
    for (const f of ['params.json', 'out.log', 'results.jsonl']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect(fs.realpathSync(path.join(out, 'checkpoints', 'latest'))).toBe(fs.realpathSync(res.checkpoint));
    const params = JSON.parse(fs.readFileSync(path.join(out, 'params.json'), 'utf8')) as { command: string; options: Record<string, unknown>; provenance: Record<string, unknown> };
    expect(params).toMatchObject({ command: 'pretrain', options: { part: 'text' } });
    expect(params.options.phases).toEqual([expect.objectContaining({ part: 'text', epochs: 4, batchSize: 32, lr: 5e-3, lrMin: 5e-4, tMax: 2000, patience: 20 })]);
    expect(typeof params.provenance.codeVersion).toBe('string');
    // 18 CIFAR templates x 10 classes + 3 prompts = 183, 37 held out: 146 in 5 batches of 32
    expect(fs.readFileSync(path.join(out, 'out.log'), 'utf8')).toMatch(/text alignment: 5 batches per epoch/);
  });

  test('--part image: the loss falls, the validation cosine rises, and eval, embed and energy report accept the checkpoint', () => {
    const out = path.join(work, 'image');
    const r = cli(['pretrain', '--part', 'image', '--teacher', teacher, '--dataset', `folder:${folder}`, '--epochs', '4', '--batch-size', '8', '--out', out, ...TINY]);
    expect(r.status).toBe(0);
    const epochs = epochsOf(out);
    expect(epochs[3].loss as number).toBeLessThan(epochs[0].loss as number);
    expect(epochs[3].val_cosine as number).toBeGreaterThan(initialOf(out).val_cosine + 0.1);
    expect((epochs[3].firing_rates as unknown[]).length).toBeGreaterThan(5);
    const ck = path.join(out, 'checkpoints', 'latest');
    const ev = cli(['eval', '--checkpoint', ck, '--dataset', `folder:${folder}`, '--split', 'val', '--json']);
    expect(ev.status).toBe(0);
    expect(json<{ results: { metrics: { acc1: number } }[] }>(ev).results[0].metrics.acc1).toBeGreaterThanOrEqual(0);
    const em = cli(['embed', '--checkpoint', ck, '--image', path.join(folder, 'val', 'cat', '0.png'), '--text', 'a photo of a cat.', '--json']);
    expect(em.status).toBe(0);
    expect(json<{ image_embeds: number[][] }>(em).image_embeds[0]).toHaveLength(16);
    const en = cli(['energy', 'report', '--checkpoint', path.join(out, 'checkpoints', 'best'), '--synthetic', '--json']);
    expect(en.status).toBe(0);
    // a second run over the same images reads the teacher features from the cache
    const again = cli(['pretrain', '--part', 'image', '--teacher', teacher, '--dataset', `folder:${folder}`, '--epochs', '1', '--batch-size', '8', '--out', path.join(work, 'image2'), ...TINY]);
    expect(again.status).toBe(0);
    expect(fs.readFileSync(path.join(work, 'image2', 'out.log'), 'utf8')).toMatch(/teacher image features of .* train: 32 images, from the cache/);
  });

  test('--part both: text then image, one run folder whose latest is the image phase\'s', () => {
    const out = path.join(work, 'both');
    const r = cli(['pretrain', '--part', 'both', '--teacher', teacher, '--dataset', 'shapes', '--max-steps', '3', '--batch-size', '16', '--out', out, ...TINY]);
    expect(r.status).toBe(0);
    const res = json<{ phases: { part: string; steps: number; stopped: string }[] }>(r);
    expect(res.phases.map((p) => [p.part, p.steps, p.stopped])).toEqual([['text', 3, 'max-steps'], ['image', 3, 'max-steps']]);
    expect(fs.realpathSync(path.join(out, 'checkpoints', 'latest'))).toBe(fs.realpathSync(path.join(out, 'image', 'checkpoints', 'latest')));
    const ck = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', 'latest', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(ck).toMatchObject({ kind: 'student', stage: 'pretrain-image' });
  });

  test('--part clip (student): contrastive training of both spiking encoders lowers its loss', () => {
    const out = path.join(work, 'clip');
    const r = cli(['pretrain', '--part', 'clip', '--teacher', teacher, '--dataset', `folder:${folder}`, '--epochs', '4', '--batch-size', '16', '--lr', '2e-3', '--out', out, ...TINY]);
    expect(r.status).toBe(0);
    const epochs = epochsOf(out);
    expect(epochs[3].loss as number).toBeLessThan(epochs[0].loss as number);
    expect(typeof epochs[3].val_top1).toBe('number');
    expect(typeof epochs[3].logit_scale).toBe('number');
  });

  test('--part clip --target teacher: a CLIP teacher from scratch (own BPE tokenizer) that pretrain, eval and embed accept', () => {
    const out = path.join(work, 'clip-teacher');
    const r = cli(['pretrain', '--part', 'clip', '--target', 'teacher', '--preset', 'clip-tiny', '--dataset', `folder:${folder}`, '--epochs', '3', '--batch-size', '16', '--out', out, '--json']);
    expect(r.status).toBe(0);
    const epochs = epochsOf(out);
    expect(epochs[2].loss as number).toBeLessThan(epochs[0].loss as number);
    expect(typeof epochs[2].val_top1).toBe('number');
    const ck = path.join(out, 'checkpoints', 'latest');
    const cfg = JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ kind: 'teacher', model: 'clip', stage: 'pretrain-clip', preset: 'clip-tiny' });
    expect(fs.readFileSync(path.join(out, 'out.log'), 'utf8')).toMatch(/tokenizer: byte-level BPE with \d+ merges/);
    // the new teacher is a teacher like any other
    const text = cli(['pretrain', '--part', 'text', '--teacher', ck, '--dataset', `folder:${folder}`, '--max-steps', '2', '--batch-size', '4', '--out', path.join(work, 'from-own-teacher'), ...TINY]);
    expect(text.status).toBe(0);
    expect(cli(['eval', '--checkpoint', ck, '--dataset', `folder:${folder}`, '--split', 'val', '--json']).status).toBe(0);
    expect(cli(['embed', '--checkpoint', ck, '--text', 'a photo of a cat.', '--json']).status).toBe(0);
  });

  test('Ctrl-C mid-epoch saves a resumable checkpoint; the resumed run ends bit-identical to an uninterrupted one', async () => {
    // (no --json: the progress lines on stderr say when step 3 is done)
    const args = (out: string) => ['pretrain', '--part', 'image', '--teacher', teacher, '--dataset', `folder:${folder}`, '--epochs', '2', '--batch-size', '4', '--out', out, '--preset', 'spikeclip-tiny'];
    const straight = path.join(work, 'straight');
    expect(cli(args(straight)).status).toBe(0);
    const cut = path.join(work, 'cut');
    const child = spawn(process.execPath, [BIN, ...args(cut)], { cwd: ROOT, env: ENV });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // after the 3rd optimiser step of the first epoch
      if (!sent && /step 3 loss/.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(sent).toBe(true);
    expect(status).toBe(130);
    const latest = fs.readlinkSync(path.join(cut, 'checkpoints', 'latest'));
    expect(latest).toMatch(/^step_\d+$/);
    const resumed = cli([...args(cut), '--resume', 'latest']);
    expect([resumed.status, resumed.stderr.split('\n').filter((l) => l.startsWith('Error')).join('')]).toEqual([0, '']);
    const a = fs.readFileSync(path.join(straight, 'checkpoints', 'latest', 'model.safetensors'));
    const b = fs.readFileSync(path.join(cut, 'checkpoints', 'latest', 'model.safetensors'));
    expect(b.equals(a)).toBe(true);
    const sa = fs.readFileSync(path.join(straight, 'checkpoints', 'latest', 'training_state.safetensors'));
    const sb = fs.readFileSync(path.join(cut, 'checkpoints', 'latest', 'training_state.safetensors'));
    expect(sb.equals(sa)).toBe(true);
  });

  test('kill -9 at random moments never leaves checkpoints/latest incomplete, and the run resumes from it', async () => {
    const out = path.join(work, 'killed');
    const args = ['pretrain', '--part', 'image', '--teacher', teacher, '--dataset', `folder:${folder}`, '--epochs', '3', '--batch-size', '4', '--save-every-steps', '1', '--out', out, '--preset', 'spikeclip-tiny', '--resume', 'latest'];
    // kill after the first checkpoint exists, at a few random moments of later writes
    for (const wait of [300, 700, 1100]) {
      const first = !fs.existsSync(path.join(out, 'checkpoints', 'latest'));
      const child = spawn(process.execPath, [BIN, ...(first ? args.filter((a) => a !== '--resume' && a !== 'latest') : args)], { cwd: ROOT, env: ENV });
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (fs.existsSync(path.join(out, 'checkpoints', 'latest'))) {
            clearInterval(poll);
            setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, wait * Math.random() + 50);
          }
        }, 20);
      });
      await new Promise((resolve) => child.on('close', resolve));
      const latest = path.join(out, 'checkpoints', 'latest');
      const inspect = cli(['inspect', latest, '--json']);
      expect([wait, inspect.status]).toEqual([wait, 0]);
      expect(fs.existsSync(path.join(latest, 'training_state.json'))).toBe(true);
    }
    const resumed = cli([...args, '--json']);
    expect(resumed.status).toBe(0);
    expect(json<{ stopped: string }>(resumed).stopped).toBe('epochs');
  });

  test('bad input: one line each, exit 2 or 4, before any training, nothing overwritten', async () => {
    const micro = path.join(work, 'micro');
    await writeMicroStudent(micro);
    const noTeacher = cli(['pretrain', '--part', 'text', '--dataset', 'cifar10', '--out', path.join(work, 'x1'), ...TINY]);
    expect(noTeacher.status).toBe(2);
    expect(JSON.parse(noTeacher.stdout).error.message).toMatch(/no --teacher/);
    // a student whose width differs from the teacher's (12 vs 16)
    const mismatch = cli(['pretrain', '--part', 'image', '--teacher', teacher, '--checkpoint', micro, '--dataset', 'shapes', '--out', path.join(work, 'x2'), ...TINY]);
    expect(mismatch.status).toBe(4);
    expect(JSON.parse(mismatch.stdout).error.message).toMatch(/embeds into 12 dimensions but the teacher .* projects to 16/);
    const empty = path.join(work, 'empty.txt');
    fs.writeFileSync(empty, '\n\n');
    const noCorpus = cli(['pretrain', '--part', 'text', '--teacher', teacher, '--prompts', empty, '--out', path.join(work, 'x3'), ...TINY]);
    expect(noCorpus.status).toBe(4);
    expect(JSON.parse(noCorpus.stdout).error.message).toMatch(/corpus is empty/);
    // a run folder that already holds a run
    const before = fs.readFileSync(path.join(work, 'text', 'results.jsonl'));
    const exists = cli(['pretrain', '--part', 'text', '--teacher', teacher, '--dataset', 'cifar10', '--out', path.join(work, 'text'), ...TINY]);
    expect(exists.status).toBe(4);
    expect(JSON.parse(exists.stdout).error.message).toMatch(/already holds a run/);
    expect(fs.readFileSync(path.join(work, 'text', 'results.jsonl')).equals(before)).toBe(true);
    // resuming with other settings lists them; --force accepts
    const differ = cli(['pretrain', '--part', 'text', '--teacher', teacher, '--dataset', 'cifar100', '--prompts', path.join(work, 'prompts.txt'), '--val-fraction', '0.2', '--out', path.join(work, 'text'), '--resume', 'latest', ...TINY]);
    expect(differ.status).toBe(4);
    expect(JSON.parse(differ.stdout).error.message).toMatch(/datasets \(\["cifar10"\] then, \["cifar100"\] now\)/);
    // a corrupt checkpoint
    const bad = path.join(work, 'bad-ck');
    fs.cpSync(path.join(work, 'image', 'checkpoints', 'latest'), bad, { recursive: true, dereference: true });
    fs.truncateSync(path.join(bad, 'model.safetensors'), 100);
    const corrupt = cli(['pretrain', '--part', 'image', '--teacher', teacher, '--checkpoint', bad, '--dataset', `folder:${folder}`, '--out', path.join(work, 'x4'), ...TINY]);
    expect(corrupt.status).toBe(4);
    // --out under a file
    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, 'x');
    const under = cli(['pretrain', '--part', 'text', '--teacher', teacher, '--dataset', 'cifar10', '--out', path.join(file, 'run'), ...TINY]);
    expect(under.status).toBe(4);
    for (const x of ['x1', 'x2', 'x3', 'x4']) expect([x, fs.existsSync(path.join(work, x, 'params.json'))]).toEqual([x, false]);
  });
});
