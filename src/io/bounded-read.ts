/**
 * Reading files a user named, safely: only regular files (after following links), so a FIFO
 * cannot hang a command and /dev/zero cannot fill the memory, and settings-sized files (JSON,
 * YAML, tokenizer files) only up to a size cap checked before they are read.
 *
 * The caller passes its own error class (a ConfigFileError, a CheckpointError, ...) so the
 * message reaches the user through the usual path (exit status 4).
 */
import * as fs from 'fs';

/** The largest JSON/YAML/text settings file read whole: configs, checkpoint config.json, vocab.json, merges.txt. */
export const MAX_SETTINGS_FILE_BYTES = 64 * 2 ** 20;

export type MakeError = (message: string) => Error;

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The refusal for something that is not a regular file (undefined when it is one). */
export function notRegularFileMessage(file: string, st: fs.Stats): string | undefined {
  if (st.isFile()) return undefined;
  return `${file} is ${kindOf(st)}, not a regular file (pass a regular file, or a link to one)`;
}

/** Stats `file` following links; throws `makeError` unless it is a regular file. ENOENT and others propagate. */
export function requireRegularFileSync(file: string, makeError: MakeError): fs.Stats {
  const st = fs.statSync(file);
  const msg = notRegularFileMessage(file, st);
  if (msg !== undefined) throw makeError(msg);
  return st;
}

/** Async {@link requireRegularFileSync}. */
export async function requireRegularFile(file: string, makeError: MakeError): Promise<fs.Stats> {
  const st = await fs.promises.stat(file);
  const msg = notRegularFileMessage(file, st);
  if (msg !== undefined) throw makeError(msg);
  return st;
}

function tooLarge(file: string, size: number, maxBytes: number): string {
  return `${file} is ${size > maxBytes ? size.toLocaleString('en-US') : `more than ${maxBytes.toLocaleString('en-US')}`} bytes, more than the ${maxBytes.toLocaleString('en-US')} allowed for a file of this kind (is it the right file?)`;
}

/** Reads a whole regular file of at most `maxBytes` (checked before reading, and while reading). */
export function readFileBoundedSync(file: string, maxBytes: number, makeError: MakeError): Buffer {
  const st = requireRegularFileSync(file, makeError);
  if (st.size > maxBytes) throw makeError(tooLarge(file, st.size, maxBytes));
  const fd = fs.openSync(file, 'r');
  try {
    // The file may grow after the stat: read at most maxBytes + 1 to notice.
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size, 64 * 1024)));
    let n = 0;
    for (;;) {
      if (n === buf.length) break;
      const r = fs.readSync(fd, buf, n, buf.length - n, n);
      if (r === 0) break;
      n += r;
    }
    if (n > maxBytes) throw makeError(tooLarge(file, n, maxBytes));
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Async {@link readFileBoundedSync}. */
export async function readFileBounded(file: string, maxBytes: number, makeError: MakeError): Promise<Buffer> {
  const st = await requireRegularFile(file, makeError);
  if (st.size > maxBytes) throw makeError(tooLarge(file, st.size, maxBytes));
  const h = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size, 64 * 1024)));
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await h.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw makeError(tooLarge(file, n, maxBytes));
    return buf.subarray(0, n);
  } finally {
    await h.close();
  }
}

/** A settings file (JSON, YAML, tokenizer text) as UTF-8, capped at {@link MAX_SETTINGS_FILE_BYTES}. */
export function readSettingsTextSync(file: string, makeError: MakeError, maxBytes = MAX_SETTINGS_FILE_BYTES): string {
  return readFileBoundedSync(file, maxBytes, makeError).toString('utf8');
}

/** Async {@link readSettingsTextSync}. */
export async function readSettingsText(file: string, makeError: MakeError, maxBytes = MAX_SETTINGS_FILE_BYTES): Promise<string> {
  return (await readFileBounded(file, maxBytes, makeError)).toString('utf8');
}
