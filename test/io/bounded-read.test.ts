/**
 * Files that are not what they claim (issue 13, items 8 and 9): a link to /dev/zero, a FIFO, a
 * huge sparse file. Each is a clean one-line error, at once, without reading it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MAX_SETTINGS_FILE_BYTES, readSettingsTextSync } from '../../src/io/bounded-read';
import { CheckpointError, checkpointHash, readCheckpointConfig, saveCheckpoint } from '../../src/io/checkpoint';
import { ConfigFileError, readConfigFile } from '../../src/io/config-file';
import { readSafetensorsHeader } from '../../src/io/safetensors';
import { inspectCheckpoint } from '../../src/inspect/inspect';
import { ClipTokenizer } from '../../src/text/tokenizer';
import { ZipArchive } from '../../src/io/zip';
import { scanTar } from '../../src/io/tar';
import { readMatFile } from '../../src/io/mat';

const posix = process.platform !== 'win32' && fs.existsSync('/dev/zero');
const maybe = posix ? describe : describe.skip;

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-bounded-'));
const fifo = (p: string): void => {
  execFileSync('mkfifo', [p]);
};
/** A sparse file of `size` bytes (no disk used). */
const sparse = (p: string, size: number): void => {
  const fd = fs.openSync(p, 'w');
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
};

/** Runs `f`, expects it to throw `cls` matching `re`, within `ms` and with little heap growth. */
async function refusedQuickly(f: () => unknown, cls: new (...a: never[]) => Error, re: RegExp, ms = 1000): Promise<void> {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  let err: unknown;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(Date.now() - t0).toBeLessThan(ms);
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toMatch(re);
  expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(64 * 2 ** 20);
}

maybe('settings files are regular files of bounded size (item 8)', () => {
  it('--config linked to /dev/zero', async () => {
    const d = tmp();
    fs.symlinkSync('/dev/zero', path.join(d, 'run.yaml'));
    await refusedQuickly(() => readConfigFile(path.join(d, 'run.yaml')), ConfigFileError, /run\.yaml is a character device, not a regular file/);
  });

  it('a checkpoint config.json linked to /dev/zero, or 1 GB of nothing', async () => {
    const d = tmp();
    await saveCheckpoint(path.join(d, 'ck'), { config: { kind: 'student' }, weights: new Map() });
    const cfg = path.join(d, 'ck', 'config.json');
    fs.rmSync(cfg);
    fs.symlinkSync('/dev/zero', cfg);
    await refusedQuickly(() => readCheckpointConfig(path.join(d, 'ck')), CheckpointError, /config\.json is a character device, not a regular file/);
    fs.rmSync(cfg);
    sparse(cfg, 2 ** 30);
    await refusedQuickly(() => readCheckpointConfig(path.join(d, 'ck')), CheckpointError, /config\.json is 1,073,741,824 bytes, more than the 67,108,864 allowed/);
  });

  it('tokenizer files', async () => {
    const d = tmp();
    fs.symlinkSync('/dev/zero', path.join(d, 'vocab.json'));
    fs.writeFileSync(path.join(d, 'merges.txt'), 'a b\n');
    await refusedQuickly(() => ClipTokenizer.fromDir(d), Error, /vocab\.json is a character device/);
  });

  it('the size cap is checked while reading too (a file that lies about its size)', () => {
    expect(() => readSettingsTextSync('/dev/zero', (m) => new Error(m))).toThrow(/character device/);
    expect(MAX_SETTINGS_FILE_BYTES).toBe(64 * 2 ** 20);
  });
});

maybe('weights and archives that are FIFOs (item 9)', () => {
  it('inspect of a checkpoint whose model.safetensors is a FIFO', async () => {
    const d = tmp();
    await saveCheckpoint(path.join(d, 'ck'), { config: { kind: 'student' }, weights: new Map() });
    const w = path.join(d, 'ck', 'model.safetensors');
    fs.rmSync(w);
    fifo(w);
    await refusedQuickly(() => inspectCheckpoint(path.join(d, 'ck')), Error, /model\.safetensors: invalid safetensors file: is a FIFO \(named pipe\), not a regular file/);
    await refusedQuickly(() => readSafetensorsHeader(w), Error, /FIFO/);
    await refusedQuickly(() => checkpointHash(path.join(d, 'ck')), CheckpointError, /FIFO/);
  });

  it('zip, tar and MAT readers', async () => {
    const d = tmp();
    for (const n of ['a.pth', 'b.tar', 'c.mat']) fifo(path.join(d, n));
    await refusedQuickly(() => ZipArchive.open(path.join(d, 'a.pth')), Error, /a\.pth: invalid zip archive: is a FIFO/);
    await refusedQuickly(() => scanTar(path.join(d, 'b.tar'), { entry: () => false }), Error, /b\.tar is a FIFO/);
    await refusedQuickly(() => readMatFile(path.join(d, 'c.mat')), Error, /c\.mat is a FIFO/);
  });
});
