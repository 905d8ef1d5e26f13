/**
 * Can a file be written at this path? Checked before a long job, so an unwritable --output is
 * found in a second, not after the whole evaluation ran. Returns why not, or undefined.
 */
import * as fs from 'fs';
import * as path from 'path';

export function whyNotWritable(file: string): string | undefined {
  const target = path.resolve(file);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) return `${file} is a directory`;
  // The nearest folder that exists: the file is written there (or in folders created there).
  let dir = path.dirname(target);
  for (;;) {
    let d: fs.Stats | undefined;
    try {
      d = fs.statSync(dir);
    } catch {
      d = undefined;
    }
    if (d !== undefined) {
      if (!d.isDirectory()) return `${dir} is not a folder`;
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) return `no folder of ${file} exists`;
    dir = up;
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    return `the folder ${dir} is not writable`;
  }
  if (st !== undefined) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch {
      // replaced by a rename, which needs only the folder; still, a read-only file is a sign
      return `${file} is read-only`;
    }
  }
  return undefined;
}
