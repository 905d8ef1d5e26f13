/**
 * Crash-safe writes.
 *
 * `writeFileAtomic` writes a file to a uniquely named temporary sibling, fsyncs it and
 * renames it over the destination, so readers see either the old or the new content,
 * never a torn write. `writeDirAtomic` does the same for a whole directory (a checkpoint):
 * the new directory is built next to the old one and swapped in only once it is complete.
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
  const tmp = siblingTempPath(target);
  const bytes = toBytes(data);
  let handle: fs.promises.FileHandle | undefined;
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
  }
  await fsyncDirBestEffort(path.dirname(target));
}

/** Synchronous variant of {@link writeFileAtomic}. */
export function writeFileAtomicSync(filePath: string, data: Uint8Array | string): void {
  const target = path.resolve(filePath);
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

  const tmp = siblingTempPath(target, 'tmp');
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
      backup = siblingTempPath(target, 'old');
      await fs.promises.rename(target, backup);
    }
    await fs.promises.rename(tmp, target);
  } catch (err) {
    if (backup !== undefined) {
      // Put the old directory back if it is no longer in place.
      if ((await lstatOrUndefined(target).catch(() => undefined)) === undefined) {
        await fs.promises.rename(backup, target).catch(() => undefined);
      }
    }
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDirBestEffort(parent);
  if (backup !== undefined) {
    await fs.promises.rm(backup, { recursive: true, force: true }).catch(() => undefined);
  }
  return result;
}
