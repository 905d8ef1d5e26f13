/**
 * Crash-safe writes.
 *
 * `writeFileAtomic` writes a file to a uniquely named temporary sibling, fsyncs it and
 * renames it over the destination, so readers see either the old or the new content,
 * never a torn write. `writeDirAtomic` does the same for a whole directory (a checkpoint):
 * the new directory is built next to the old one and swapped in only once it is complete.
 *
 * Interrupted writes leave nothing behind: every temporary path in flight is registered, and a
 * SIGINT/SIGTERM handler (installed only while something is in flight) removes them before the
 * process ends with the signal. What a harder death (kill -9, power loss) leaves, the next write
 * into the same place removes: `.NAME.tmp-<pid>-*` of processes that no longer run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

/** A sibling path `.<base>.<tag>-<pid>-<random>` in the same directory as `target`. */
export function siblingTempPath(target: string, tag = 'tmp'): string {
  const dir = path.dirname(path.resolve(target));
  const base = path.basename(path.resolve(target));
  return path.join(dir, `.${base}.${tag}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

// ---------------------------------------------------------------------------------------------
// Temporary paths in flight, removed on SIGINT/SIGTERM

/** Cleanup actions by temporary path; each must be synchronous and must not throw. */
const inFlight = new Map<string, () => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
let handlersInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  cleanUpInFlight();
  uninstallHandlers();
  // No other handler: end as the signal would have (exit status 128 + n).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** Runs and forgets every registered cleanup (what a signal handler does). */
export function cleanUpInFlight(): void {
  for (const [p, cleanup] of [...inFlight]) {
    inFlight.delete(p);
    try {
      cleanup();
    } catch {
      /* best effort: the process is going away */
    }
  }
}

/**
 * Registers a temporary path to remove (recursively) if the process is interrupted before
 * {@link untrackTemp}; `cleanup` replaces the default removal (e.g. to put a backup back).
 */
export function trackTemp(p: string, cleanup?: () => void): void {
  inFlight.set(p, cleanup ?? (() => fs.rmSync(p, { recursive: true, force: true })));
  installHandlers();
}

export function untrackTemp(p: string): void {
  inFlight.delete(p);
  if (inFlight.size === 0) uninstallHandlers();
}

/** Paths currently registered (for tests). */
export function tempsInFlight(): string[] {
  return [...inFlight.keys()];
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary siblings of `target` (`.NAME.tmp-<pid>-<hex>`, and `.NAME.old-<pid>-<hex>`
 * when NAME itself exists) that processes which no longer run left behind. Returns what it removed.
 * Never throws: a leftover that cannot be removed is left as it is.
 */
export function removeStaleTemps(target: string): string[] {
  const abs = path.resolve(target);
  const dir = path.dirname(abs);
  const base = path.basename(abs);
  const re = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-(\\d+)-[0-9a-f]+$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  let targetExists: boolean | undefined;
  for (const n of names) {
    const m = re.exec(n);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    // An `old` copy is the previous content of a swap that was cut short: keep it unless NAME is there.
    if (m[1] === 'old') {
      targetExists ??= fs.existsSync(abs);
      if (!targetExists) continue;
    }
    try {
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      removed.push(path.join(dir, n));
    } catch {
      /* leave it */
    }
  }
  return removed;
}

function reportStale(removed: string[]): void {
  for (const r of removed) process.emitWarning(`removed ${r}, left by an interrupted spikeclip process`);
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

async function fsyncDirBestEffort(dir: string): Promise<void> {
  // Makes the rename itself durable on POSIX; directories cannot be opened this way on
  // Windows, so failures are ignored (the rename already happened).
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    /* best effort */
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function fsyncDirBestEffortSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* ignore */
      }
    }
  }
}

/**
 * Atomically replace (or create) the file at `filePath` with `data`.
 * The parent directory must exist. On any error the temporary file is removed and the
 * original file, if any, is left untouched.
 */
export async function writeFileAtomic(filePath: string, data: Uint8Array | string): Promise<void> {
  const target = path.resolve(filePath);
  reportStale(removeStaleTemps(target));
  const tmp = siblingTempPath(target);
  const bytes = toBytes(data);
  let handle: fs.promises.FileHandle | undefined;
  trackTemp(tmp);
  try {
    handle = await fs.promises.open(tmp, 'wx', 0o644);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, target);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  } finally {
    untrackTemp(tmp);
  }
  await fsyncDirBestEffort(path.dirname(target));
}

/** Synchronous variant of {@link writeFileAtomic}. */
export function writeFileAtomicSync(filePath: string, data: Uint8Array | string): void {
  const target = path.resolve(filePath);
  reportStale(removeStaleTemps(target));
  const tmp = siblingTempPath(target);
  const bytes = toBytes(data);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* ignore */
      }
    }
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* ignore */
    }
    throw err;
  }
  fsyncDirBestEffortSync(path.dirname(target));
}

/** fsync every regular file and directory below `root` (so the swapped-in tree is durable). */
async function syncTree(root: string): Promise<void> {
  const entries = await fs.promises.readdir(root, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) {
      await syncTree(p);
    } else if (e.isFile()) {
      const h = await fs.promises.open(p, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  await fsyncDirBestEffort(root);
}

async function lstatOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Build a directory atomically: `fill` receives an empty temporary directory next to
 * `finalDir` and writes the complete content into it. Only when `fill` resolves is the
 * temporary directory swapped in: an existing `finalDir` is renamed to a backup name, the
 * new directory renamed into place, then the backup removed.
 *
 * If `fill` (or anything before the swap) fails, `finalDir` is untouched and the temporary
 * directory is removed. Parent directories of `finalDir` are created as needed.
 *
 * Note: between the two renames there is a short window where `finalDir` does not exist; a
 * process killed exactly there leaves the old content in `.<base>.old-<pid>-<random>`.
 */
export async function writeDirAtomic<T>(
  finalDir: string,
  fill: (tmpDir: string) => Promise<T>,
): Promise<T> {
  const target = path.resolve(finalDir);
  const parent = path.dirname(target);
  await fs.promises.mkdir(parent, { recursive: true });

  const existing = await lstatOrUndefined(target);
  if (existing !== undefined && !existing.isDirectory()) {
    throw new Error(`refusing to replace ${finalDir}: it exists and is not a directory`);
  }

  reportStale(removeStaleTemps(target));
  const tmp = siblingTempPath(target, 'tmp');
  trackTemp(tmp);
  try {
    return await swapInDir(target, finalDir, parent, tmp, fill);
  } finally {
    untrackTemp(tmp);
  }
}

async function swapInDir<T>(target: string, finalDir: string, parent: string, tmp: string, fill: (tmpDir: string) => Promise<T>): Promise<T> {
  await fs.promises.mkdir(tmp);
  let result: T;
  try {
    result = await fill(tmp);
    await syncTree(tmp);
  } catch (err) {
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }

  // Swap. Re-check: the target may have appeared or vanished while fill ran.
  const nowExisting = await lstatOrUndefined(target);
  let backup: string | undefined;
  try {
    if (nowExisting !== undefined) {
      if (!nowExisting.isDirectory()) {
        throw new Error(`refusing to replace ${finalDir}: it exists and is not a directory`);
      }
      const b = siblingTempPath(target, 'old');
      backup = b;
      // Interrupted between the two renames: put the old directory back.
      trackTemp(b, () => {
        if (!fs.existsSync(target)) fs.renameSync(b, target);
        else fs.rmSync(b, { recursive: true, force: true });
      });
      await fs.promises.rename(target, b);
    }
    await fs.promises.rename(tmp, target);
  } catch (err) {
    if (backup !== undefined) {
      // Put the old directory back if it is no longer in place.
      if ((await lstatOrUndefined(target).catch(() => undefined)) === undefined) {
        await fs.promises.rename(backup, target).catch(() => undefined);
      }
      untrackTemp(backup);
    }
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDirBestEffort(parent);
  if (backup !== undefined) {
    await fs.promises.rm(backup, { recursive: true, force: true }).catch(() => undefined);
    untrackTemp(backup);
  }
  return result;
}
