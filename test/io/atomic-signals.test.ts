/**
 * Interrupted writes leave nothing behind (issue 13, item 6): temporary paths in flight are removed
 * on SIGINT/SIGTERM, and those of dead processes are removed by the next write into the same place.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { removeStaleTemps, tempsInFlight, writeDirAtomic, writeFileAtomic } from '../../src/io/atomic';

const ROOT = path.resolve(__dirname, '..', '..');
const tmpDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-signals-'));

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid as number;
}

describe('stale temporary siblings', () => {
  it('removes those of dead processes, keeps those of live ones and an old copy whose target is gone', () => {
    const d = tmpDir();
    const dead = deadPid();
    const mk = (n: string): string => {
      fs.mkdirSync(path.join(d, n, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(d, n, 'sub', 'w.bin'), 'x');
      return n;
    };
    mk(`.ck.tmp-${dead}-0a1b2c`);
    mk(`.ck.tmp-${process.pid}-0a1b2d`); // ours, in flight
    mk(`.ck.tmp-${process.ppid}-0a1b2e`); // alive
    mk(`.other.tmp-${dead}-0a1b2f`); // another target
    mk(`.ck.old-${dead}-0a1b30`); // the previous checkpoint of a swap cut short; ck is missing
    expect(removeStaleTemps(path.join(d, 'ck'))).toEqual([path.join(d, `.ck.tmp-${dead}-0a1b2c`)]);
    expect(fs.readdirSync(d).sort()).toEqual([`.ck.old-${dead}-0a1b30`, `.ck.tmp-${process.pid}-0a1b2d`, `.ck.tmp-${process.ppid}-0a1b2e`, `.other.tmp-${dead}-0a1b2f`].sort());
    fs.mkdirSync(path.join(d, 'ck'));
    expect(removeStaleTemps(path.join(d, 'ck'))).toEqual([path.join(d, `.ck.old-${dead}-0a1b30`)]);
  });

  it('the next atomic write into the same place removes them, with a warning', async () => {
    const d = tmpDir();
    const dead = deadPid();
    fs.mkdirSync(path.join(d, `.ck.tmp-${dead}-abcdef`));
    fs.writeFileSync(path.join(d, `.f.json.tmp-${dead}-abcdef`), '{');
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await writeDirAtomic(path.join(d, 'ck'), async (t) => fs.promises.writeFile(path.join(t, 'a'), 'a'));
      await writeFileAtomic(path.join(d, 'f.json'), '{}');
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/removed .*\.ck\.tmp-\d+-abcdef, left by an interrupted spikeclip process/), expect.stringMatching(/\.f\.json\.tmp-/)]);
    } finally {
      warn.mockRestore();
    }
    expect(fs.readdirSync(d).sort()).toEqual(['ck', 'f.json']);
  });
});

describe('SIGINT while a directory is being written', () => {
  it('in process: the handler removes the temporary folder, and is gone once nothing is in flight', async () => {
    const d = tmpDir();
    const other = (): void => undefined; // stands for the default action, which would end the test run
    process.on('SIGINT', other);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let tmp = '';
    const writing = writeDirAtomic(path.join(d, 'ck'), async (t) => {
      tmp = t;
      await fs.promises.writeFile(path.join(t, 'big.bin'), Buffer.alloc(1024));
      await gate;
    });
    try {
      while (tmp === '' || !fs.existsSync(path.join(tmp, 'big.bin'))) await new Promise((r) => setTimeout(r, 5));
      expect(tempsInFlight()).toEqual([tmp]);
      expect(process.listenerCount('SIGINT')).toBe(2);
      process.emit('SIGINT', 'SIGINT');
      expect(fs.existsSync(tmp)).toBe(false);
      release();
      await expect(writing).rejects.toThrow();
      expect(fs.readdirSync(d)).toEqual([]);
      expect(tempsInFlight()).toEqual([]);
      expect(process.listenerCount('SIGINT')).toBe(1);
    } finally {
      process.removeListener('SIGINT', other);
    }
  });

  const built = fs.existsSync(path.join(ROOT, 'dist', 'io', 'atomic.js'));
  (built ? it : it.skip).each(['SIGINT', 'SIGTERM'] as const)('a real process killed by %s mid-write leaves only the old checkpoint', async (signal) => {
    const d = tmpDir();
    const target = path.join(d, 'ck');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'old.txt'), 'old');
    const script = `
      const fs = require('fs'); const path = require('path');
      const { writeDirAtomic } = require(${JSON.stringify(path.join(ROOT, 'dist', 'io', 'atomic.js'))});
      writeDirAtomic(${JSON.stringify(target)}, async (t) => {
        fs.writeFileSync(path.join(t, 'new.bin'), Buffer.alloc(1 << 20));
        process.stdout.write('ready\\n');
        await new Promise(() => setInterval(() => undefined, 1000));
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve()));
    expect(fs.readdirSync(d).length).toBe(2); // ck and its .ck.tmp-*
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    child.kill(signal);
    expect(await exited).toBe(signal);
    expect(fs.readdirSync(d)).toEqual(['ck']);
    expect(fs.readdirSync(target)).toEqual(['old.txt']);
  });
});
