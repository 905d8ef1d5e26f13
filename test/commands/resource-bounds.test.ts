/**
 * Every command that reads a checkpoint, given a config.json with a size field at an absurd
 * value (issue 13): exit status 4 at once, in bounded memory, before a model is built. The
 * service functions run in process; two real CLI runs check the whole path under a small heap.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { toErrorReport } from '../../src/cli/errors';
import { exportCheckpoint } from '../../src/convert/export';
import { embed } from '../../src/embed/embed';
import { energyConstants } from '../../src/energy/model';
import { runEnergyReport } from '../../src/energy/report';
import { runEval } from '../../src/eval/run';
import { inspectCheckpoint } from '../../src/inspect/inspect';
import { tmpDir, writeMicroStudent } from '../helpers/eval-fixtures';

const ROOT = path.resolve(__dirname, '..', '..');

type Edit = (a: { image: Record<string, unknown>; text: Record<string, unknown> }) => void;

/** Each size field at an absurd value; and a config legal on its own that does not fit its 100 KB of weights. */
const EDITS: [string, Edit][] = [
  ['image.timeSteps 1e9', (a) => (a.image.timeSteps = 1e9)],
  ['image.depth 1e7', (a) => (a.image.depth = 1e7)],
  ['image.embedDim 2^20, 2 heads', (a) => ((a.image.embedDim = 2 ** 20), (a.image.heads = 2))],
  ['image.heads 1e9', (a) => (a.image.heads = 1e9)],
  ['image.mlpRatio 1e6', (a) => (a.image.mlpRatio = 1e6)],
  ['image.imageSize 2^20', (a) => (a.image.imageSize = 2 ** 20)],
  ['image.inChannels 1e9', (a) => (a.image.inChannels = 1e9)],
  ['image/text outputDim 1e9', (a) => ((a.image.outputDim = 1e9), (a.text.outputDim = 1e9))],
  ['text.vocabSize 1e9', (a) => (a.text.vocabSize = 1e9)],
  ['text.width 1e9', (a) => (a.text.width = 1e9)],
  ['text.hidden 1e9', (a) => (a.text.hidden = 1e9)],
  ['text.contextLength and maxPositions 1e9', (a) => ((a.text.contextLength = 1e9), (a.text.maxPositions = 1e9))],
  ['text.timeSteps 1e9', (a) => (a.text.timeSteps = 1e9)],
  ['legal but 800 MB: text.vocabSize 400,000 x width 512', (a) => ((a.text.vocabSize = 400_000), (a.text.width = 512))],
];

let root: string;
let good: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = tmpDir('resource-');
  good = path.join(root, 'good');
  await writeMicroStudent(good);
});

function damaged(name: string, edit: Edit): string {
  const dir = path.join(root, name.replace(/[^a-z0-9]+/gi, '-'));
  if (!fs.existsSync(dir)) {
    fs.cpSync(good, dir, { recursive: true });
    const file = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(cfg.architecture);
    fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  }
  return dir;
}

const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;

async function refused(what: string, run: () => Promise<unknown>): Promise<void> {
  const m0 = used();
  const t0 = Date.now();
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = Date.now() - t0;
  const grew = (used() - m0) / 2 ** 20;
  if (err === undefined) throw new Error(`${what}: accepted`);
  const r = toErrorReport(err);
  expect({ what, status: r.status, user: r.user }).toEqual({ what, status: 4, user: true });
  expect(r.message).toMatch(/config\.json|model\.safetensors/);
  expect(ms).toBeLessThan(2000);
  expect(grew).toBeLessThan(150);
}

describe.each(EDITS)('%s', (name, edit) => {
  it('inspect, embed, eval, energy report and convert export exit 4 at once', async () => {
    const dir = damaged(name, edit);
    const legal = name.startsWith('legal');
    // inspect reads no weights: a legal config that does not fit is reported (architectureCheck), not an error
    if (legal) {
      const rep = await inspectCheckpoint(dir);
      expect(rep.architectureCheck?.matches).toBe(false);
    } else {
      await refused(`inspect ${name}`, () => inspectCheckpoint(dir));
    }
    await refused(`embed ${name}`, () => embed({ model: dir, images: [], texts: ['a cat'] }));
    await refused(`eval ${name}`, () => runEval({ checkpoint: dir, datasets: ['shapes'], limit: 2, cacheDir: path.join(root, 'cache') }));
    await refused(`energy report ${name}`, () => runEnergyReport({ model: { kind: 'checkpoint', dir }, energy: energyConstants('fp32'), inputs: { kind: 'synthetic', samples: 1, seed: 0 } }));
    await refused(`convert export ${name}`, () => exportCheckpoint({ checkpoint: dir, format: 'safetensors', out: path.join(root, 'out') }));
  });
});

const built = fs.existsSync(path.join(ROOT, 'dist', 'commands', 'inspect.js'));
(built ? describe : describe.skip)('the real CLI under a 200 MB heap', () => {
  it.each([
    ['inspect', (dir: string) => ['inspect', dir, '--summary']],
    ['embed', (dir: string) => ['embed', '--checkpoint', dir, '--text', 'a cat', '--backend', 'cpu']],
  ])('%s with image.timeSteps 1e9 exits 4 in a few seconds', (_cmd, argv) => {
    const dir = damaged('image.timeSteps 1e9', EDITS[0][1]);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--max-old-space-size=200', path.join(ROOT, 'bin', 'run.js'), ...argv(dir)], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' },
      timeout: 30_000,
    });
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/architecture\.image\.timeSteps: 1000000000 is beyond the limit 64/);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('Error:'))).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
