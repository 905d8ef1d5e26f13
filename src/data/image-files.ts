/**
 * Images that live either in an extracted folder or inside the official tar(.gz) archive
 * (Flowers-102's `jpg/`, Pets' `images/`): one reader for both, with the missing-file check.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TarArchive, TarError } from '../io/tar';
import { DatasetError, type ImageSource } from './types';

/** Where a dataset's images are: an extracted folder or the archive itself. */
export interface ImageLocation {
  kind: 'folder' | 'archive';
  path: string;
}

/** True when `p` is an existing directory (`dir`) or regular file (`!dir`). */
export function pathExists(p: string, dir: boolean): boolean {
  try {
    const st = fs.statSync(p);
    return dir ? st.isDirectory() : st.isFile();
  } catch {
    return false;
  }
}

export interface ImageFilesOptions {
  /** Folder inside the archive that holds the images (`jpg`, `images`). */
  memberDir: string;
  /** The split, for error messages. */
  split: string;
  /** What to re-extract when an extracted folder lacks files (`102flowers.tgz`). */
  archiveName: string;
  /** Where an archive's uncompressed cache goes (see TarArchive). */
  cacheDir?: string;
}

/**
 * A reader of image `names[i]` from `loc`. Every name must be present (checked once, up front):
 * a missing file is a DatasetError naming a few of them.
 */
export async function openImageFiles(loc: ImageLocation, names: readonly string[], o: ImageFilesOptions): Promise<(i: number) => ImageSource> {
  if (loc.kind === 'folder') {
    const folder = loc.path;
    const absent = names.filter((n) => !pathExists(path.join(folder, n), false));
    if (absent.length > 0) throw new DatasetError(`${folder} lacks ${absent.length} image(s) of the ${o.split} split, e.g. ${absent.slice(0, 3).join(', ')} (re-extract ${o.archiveName})`);
    return (i) => ({ kind: 'file', path: path.join(folder, names[i]) });
  }
  let archive: TarArchive;
  try {
    archive = await TarArchive.open(loc.path, { cacheDir: o.cacheDir });
  } catch (e) {
    if (e instanceof TarError) throw new DatasetError(e.message);
    throw e;
  }
  const member = (n: string): string => `${o.memberDir}/${n}`;
  const absent = names.filter((n) => !archive.has(member(n)));
  if (absent.length > 0) throw new DatasetError(`${loc.path} lacks ${absent.length} image(s) of the ${o.split} split, e.g. ${absent.slice(0, 3).map(member).join(', ')}`);
  return (i) => ({ kind: 'bytes', bytes: archive.readSync(member(names[i])), name: names[i] });
}
