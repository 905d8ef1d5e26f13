import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import rawFs = require('fs');
import { writeDirAtomic, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-atomic-'));
}

function listAll(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates and replaces files (string and bytes)', async () => {
    const p = path.join(dir, 'a.txt');
    await writeFileAtomic(p, 'hello');
    expect(fs.readFileSync(p, 'utf8')).toBe('hello');
    await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3]);
    writeFileAtomicSync(p, 'sync');
    expect(fs.readFileSync(p, 'utf8')).toBe('sync');
    expect(listAll(dir)).toEqual(['a.txt']);
  });

  it('keeps the old file and leaves no temp when a write fails halfway', async () => {
    const p = path.join(dir, 'state.json');
    fs.writeFileSync(p, 'OLD CONTENT');
    const realOpen = fs.promises.open.bind(fs.promises);
    jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof fs.promises.open>) => {
      const handle = await realOpen(...args);
      // Simulate a disk that fills up: half the data reaches the temp file, then ENOSPC.
      handle.writeFile = async (data: unknown): Promise<void> => {
        const bytes = data as Uint8Array;
        await handle.write(bytes, 0, Math.floor(bytes.length / 2));
        const err: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
        err.code = 'ENOSPC';
        throw err;
      };
      return handle;
    });
    await expect(writeFileAtomic(p, 'NEW CONTENT THAT IS LONGER')).rejects.toThrow(/ENOSPC/);
    expect(fs.readFileSync(p, 'utf8')).toBe('OLD CONTENT');
    expect(listAll(dir)).toEqual(['state.json']);
  });

  it('keeps the old file when the rename fails', async () => {
    const p = path.join(dir, 'x.bin');
    fs.writeFileSync(p, 'OLD');
    jest.spyOn(fs.promises, 'rename').mockRejectedValue(new Error('EIO: simulated rename failure'));
    await expect(writeFileAtomic(p, 'NEW')).rejects.toThrow(/EIO/);
    expect(fs.readFileSync(p, 'utf8')).toBe('OLD');
    expect(listAll(dir)).toEqual(['x.bin']);
  });

  it('sync variant: partial write then failure keeps old content, no temp', () => {
    const p = path.join(dir, 's.txt');
    fs.writeFileSync(p, 'OLD');
    const realWrite = rawFs.writeSync;
    let calls = 0;
    // spy on the raw module object (the TS namespace import wraps it in getters)
    jest.spyOn(rawFs, 'writeSync').mockImplementation(((fd: number, buf: Uint8Array, off: number, len: number) => {
      calls++;
      if (calls === 1) return realWrite(fd, buf, off, Math.max(1, Math.floor(len / 2)));
      throw new Error('EIO: simulated');
    }) as typeof fs.writeSync);
    expect(() => writeFileAtomicSync(p, 'NEW NEW NEW')).toThrow(/EIO/);
    expect(fs.readFileSync(p, 'utf8')).toBe('OLD');
    expect(listAll(dir)).toEqual(['s.txt']);
  });

  it('uses a dot-prefixed unique temp name in the same directory', async () => {
    const p = path.join(dir, 'f.txt');
    const seen: string[] = [];
    const realOpen = fs.promises.open.bind(fs.promises);
    jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof fs.promises.open>) => {
      seen.push(String(args[0]));
      return realOpen(...args);
    });
    await writeFileAtomic(p, 'x');
    const tmp = seen[0];
    expect(path.dirname(tmp)).toBe(dir);
    expect(path.basename(tmp)).toMatch(new RegExp(`^\\.f\\.txt\\.tmp-${process.pid}-[0-9a-f]+$`));
  });
});

describe('writeDirAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a new directory (and missing parents)', async () => {
    const target = path.join(dir, 'runs', 'ckpt');
    const r = await writeDirAtomic(target, async (tmp) => {
      expect(fs.readdirSync(tmp)).toEqual([]);
      fs.writeFileSync(path.join(tmp, 'a.txt'), 'A');
      fs.mkdirSync(path.join(tmp, 'sub'));
      fs.writeFileSync(path.join(tmp, 'sub', 'b.txt'), 'B');
      return 42;
    });
    expect(r).toBe(42);
    expect(listAll(path.join(dir, 'runs'))).toEqual(['ckpt', 'ckpt/a.txt', 'ckpt/sub', 'ckpt/sub/b.txt']);
  });

  it('replaces an existing directory completely', async () => {
    const target = path.join(dir, 'ckpt');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'old-only.txt'), 'x');
    fs.writeFileSync(path.join(target, 'a.txt'), 'OLD');
    await writeDirAtomic(target, async (tmp) => {
      fs.writeFileSync(path.join(tmp, 'a.txt'), 'NEW');
    });
    expect(listAll(dir)).toEqual(['ckpt', 'ckpt/a.txt']);
    expect(fs.readFileSync(path.join(target, 'a.txt'), 'utf8')).toBe('NEW');
  });

  it('simulated crash: fill throws halfway -> old dir intact, no temp litter', async () => {
    const target = path.join(dir, 'ckpt');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'model.bin'), 'GOOD WEIGHTS');
    fs.writeFileSync(path.join(target, 'config.json'), '{"good":true}');
    const before = listAll(dir);
    await expect(
      writeDirAtomic(target, async (tmp) => {
        fs.writeFileSync(path.join(tmp, 'config.json'), '{"new":true}');
        fs.writeFileSync(path.join(tmp, 'model.bin'), 'HALF WRI');
        throw new Error('simulated crash while writing weights');
      }),
    ).rejects.toThrow('simulated crash while writing weights');
    expect(listAll(dir)).toEqual(before);
    expect(fs.readFileSync(path.join(target, 'model.bin'), 'utf8')).toBe('GOOD WEIGHTS');
    expect(fs.readFileSync(path.join(target, 'config.json'), 'utf8')).toBe('{"good":true}');
  });

  it('simulated crash: a write inside fill fails after writing part of a file', async () => {
    const target = path.join(dir, 'ckpt');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'w.bin'), 'OLD');
    const realOpen = fs.promises.open.bind(fs.promises);
    jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof fs.promises.open>) => {
      const handle = await realOpen(...args);
      handle.writeFile = async (data: unknown): Promise<void> => {
        const bytes = data as Uint8Array;
        await handle.write(bytes, 0, Math.floor(bytes.length / 2));
        throw new Error('EIO: simulated');
      };
      return handle;
    });
    await expect(
      writeDirAtomic(target, async (tmp) => {
        await writeFileAtomic(path.join(tmp, 'w.bin'), 'NEW CONTENT');
      }),
    ).rejects.toThrow(/EIO/);
    jest.restoreAllMocks();
    expect(listAll(dir)).toEqual(['ckpt', 'ckpt/w.bin']);
    expect(fs.readFileSync(path.join(target, 'w.bin'), 'utf8')).toBe('OLD');
  });

  it('failure of the final rename restores the old directory', async () => {
    const target = path.join(dir, 'ckpt');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'a.txt'), 'OLD');
    const realRename = fs.promises.rename.bind(fs.promises);
    let n = 0;
    jest.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      n++;
      if (n === 2) throw new Error('EXDEV: simulated');
      return realRename(from, to);
    });
    await expect(
      writeDirAtomic(target, async (tmp) => {
        fs.writeFileSync(path.join(tmp, 'a.txt'), 'NEW');
      }),
    ).rejects.toThrow(/EXDEV/);
    jest.restoreAllMocks();
    expect(listAll(dir)).toEqual(['ckpt', 'ckpt/a.txt']);
    expect(fs.readFileSync(path.join(target, 'a.txt'), 'utf8')).toBe('OLD');
  });

  it('refuses to replace a regular file', async () => {
    const target = path.join(dir, 'file');
    fs.writeFileSync(target, 'x');
    await expect(writeDirAtomic(target, async () => undefined)).rejects.toThrow(/not a directory/);
    expect(listAll(dir)).toEqual(['file']);
  });
});
