/**
 * `spikeclip data info` end to end: the real CLI over the compiled dist/ (`npm test` builds first).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1', ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface InfoDoc {
  status: number;
  result: {
    dataset: string;
    builtIn: boolean;
    numClasses: number;
    classNames: string[];
    splits: Array<{ name: string; size: number; classCounts: number[]; origin: string }>;
    files: Array<{ path: string; found: boolean; role: string }>;
    heldOut?: string[];
    dataDir?: string;
  };
  warnings: string[];
}

let tmp: string;
beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'data', 'info.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-data-info-'));
  for (const [cls, n] of [['cat', 3], ['dog', 2]] as const) {
    fs.mkdirSync(path.join(tmp, 'photos', cls), { recursive: true });
    for (let i = 0; i < n; i++) {
      await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 10 * i, g: 50, b: 90 } } })
        .png()
        .toFile(path.join(tmp, 'photos', cls, `${i}.png`));
    }
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('spikeclip data info', () => {
  it('describes the built-in shapes set with no data directory', () => {
    const r = cli(['data', 'info', '--dataset', 'shapes', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as InfoDoc;
    expect(doc.result.dataset).toBe('shapes');
    expect(doc.result.builtIn).toBe(true);
    expect(doc.result.numClasses).toBe(36);
    expect(doc.result.splits.map((s) => [s.name, s.size])).toEqual([
      ['train', 1200],
      ['val', 300],
      ['test', 360],
      ['trainval', 1500],
    ]);
    const train = doc.result.splits[0];
    expect(train.classCounts.filter((c) => c > 0)).toHaveLength(30);
    expect(doc.result.heldOut).toEqual(['red circle', 'orange square', 'yellow triangle', 'green star', 'blue hexagon', 'purple cross']);
    for (const h of doc.result.heldOut!) expect(train.classCounts[doc.result.classNames.indexOf(h)]).toBe(0);
    expect(doc.result.files).toEqual([]);
  });

  it('prints a human table', () => {
    const r = cli(['data', 'info', '--dataset', 'shapes']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^train\s+1200\s+30\/36\s+40\s+official$/m);
    expect(r.stdout).toMatch(/^test\s+360\s+36\/36\s+10\s+official$/m);
    expect(r.stdout).toContain('held out of train and val (zero-shot classes, only in test): red circle, orange square');
    expect(r.stdout).toContain('files: none (generated)');
  });

  it('describes an image folder: carved splits, counts and the folder found', () => {
    const dir = path.join(tmp, 'photos');
    const r = cli(['data', 'info', '--dataset', `folder:${dir}`, '--val-fraction', '0.5', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as InfoDoc;
    expect(doc.result.classNames).toEqual(['cat', 'dog']);
    const byName = Object.fromEntries(doc.result.splits.map((s) => [s.name, s]));
    expect(byName.trainval.classCounts).toEqual([3, 2]);
    expect(byName.train.size + byName.val.size).toBe(5);
    expect(byName.val.origin).toMatch(/carved/);
    expect(doc.result.files).toEqual([{ path: dir, found: true, role: 'image folder' }]);
  });

  it('a dataset whose files are missing is one line naming the fix, exit 4', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    const r = cli(['data', 'info', '--dataset', 'cifar10', '--data-dir', empty]);
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no CIFAR-10 found in .*data download --dataset cifar10/);
  });

  it('an unknown dataset lists the known ones, shapes included', () => {
    const r = cli(['data', 'info', '--dataset', 'imagenet21k', '--json']);
    expect(r.status).toBe(4);
    const doc = JSON.parse(r.stdout) as { error: { message: string } };
    expect(doc.error.message).toMatch(/unknown dataset "imagenet21k"; known datasets: .*cifar10.*shapes/);
  });
});
