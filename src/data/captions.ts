/**
 * Captioned images for alignment pre-training on any image set, from either
 * - a CSV file with a header row naming the columns `image` and `caption` (any order, other
 *   columns ignored; RFC 4180: comma-separated, fields optionally in double quotes, `""` for a quote
 *   inside a quoted field, line breaks allowed inside quotes, CRLF or LF, a UTF-8 BOM tolerated).
 *   Image paths are relative to the CSV's folder (absolute paths are kept);
 * - or a folder: `DIR/captions.csv` if present, else every image in DIR (recursively, sorted) with
 *   a caption in the same-named `.txt` file beside it (`a/cat.jpg` + `a/cat.txt`).
 * Samples are unlabelled (label -1, no class names) and carry `caption`. The whole set is exposed as
 * the split `trainval`; the registry carves `train`/`val` from it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isImageFile, listImages } from './imagefolder';
import { FingerprintedSplit } from './splits';
import { DatasetError, ImageSource, Sample } from './types';
import { readSettingsTextSync } from '../io/bounded-read';

/** Parses RFC 4180 CSV text into rows of fields, with the 1-based line each row starts on. */
export function parseCsv(text: string, source: string): Array<{ fields: string[]; line: number }> {
  const rows: Array<{ fields: string[]; line: number }> = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let field = '';
  let fields: string[] = [];
  let rowLine = 1;
  let quoted = false;
  let fieldStarted = false;
  const n = text.length;
  const endField = () => {
    fields.push(field);
    field = '';
    fieldStarted = false;
  };
  const endRow = () => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ fields, line: rowLine });
    fields = [];
  };
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (i < n && next !== ',' && next !== '\n' && next !== '\r') {
          throw new DatasetError(`${source}:${line}: unexpected ${JSON.stringify(next)} after a closing quote (a quote inside a quoted field must be doubled: "")`);
        }
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (fieldStarted) throw new DatasetError(`${source}:${line}: a quote in the middle of an unquoted field (quote the whole field and double the quote: "")`);
      quoted = true;
      fieldStarted = true;
      i++;
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endRow();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      rowLine = line;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (quoted) throw new DatasetError(`${source}:${rowLine}: a quoted field is not closed before the end of the file`);
  if (field !== '' || fields.length > 0 || fieldStarted) endRow();
  return rows;
}

interface Captioned {
  path: string;
  caption: string;
  id: string;
}

function readCsv(file: string): Captioned[] {
  let text: string;
  try {
    text = readSettingsTextSync(file, (m) => new DatasetError(m), 1024 * 2 ** 20);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DatasetError(`caption file ${file} does not exist`);
    throw e;
  }
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new DatasetError(`${file} is empty (expected a header row "image,caption" and one row per image)`);
  const header = rows[0].fields.map((h) => h.trim().toLowerCase());
  const ci = header.indexOf('image');
  const cc = header.indexOf('caption');
  if (ci < 0 || cc < 0) {
    throw new DatasetError(`${file}:1: the header must name the columns "image" and "caption", found ${rows[0].fields.map((h) => JSON.stringify(h)).join(', ')}`);
  }
  const dir = path.dirname(path.resolve(file));
  const out: Captioned[] = [];
  const missing: string[] = [];
  for (const { fields, line } of rows.slice(1)) {
    if (fields.length !== header.length) throw new DatasetError(`${file}:${line}: ${fields.length} field(s), the header has ${header.length}`);
    const rel = fields[ci].trim();
    const caption = fields[cc].trim();
    if (rel === '') throw new DatasetError(`${file}:${line}: empty image path`);
    if (caption === '') throw new DatasetError(`${file}:${line}: empty caption for ${rel}`);
    const p = path.resolve(dir, rel);
    if (!fs.existsSync(p)) missing.push(`${rel} (line ${line})`);
    out.push({ path: p, caption, id: rel });
  }
  if (missing.length > 0) throw new DatasetError(`${file}: ${missing.length} image(s) not found, e.g. ${missing.slice(0, 3).join(', ')} (paths are relative to the CSV's folder)`);
  if (out.length === 0) throw new DatasetError(`${file} has a header but no rows`);
  return out;
}

function readSidecars(dir: string): Captioned[] {
  const images = listImages(dir);
  const out: Captioned[] = [];
  const missing: string[] = [];
  for (const p of images) {
    const txt = p.slice(0, p.length - path.extname(p).length) + '.txt';
    const id = path.relative(dir, p).split(path.sep).join('/');
    if (!fs.existsSync(txt)) {
      missing.push(id);
      continue;
    }
    const caption = fs.readFileSync(txt, 'utf8').trim();
    if (caption === '') throw new DatasetError(`${txt} is empty (one caption per image)`);
    out.push({ path: p, caption, id });
  }
  if (images.length === 0) throw new DatasetError(`${dir} holds no captions.csv and no ${'.jpg/.jpeg/.png/.webp'} images with .txt captions`);
  if (missing.length > 0) throw new DatasetError(`${dir}: ${missing.length} image(s) have no caption file, e.g. ${missing.slice(0, 3).map((m) => m.replace(/\.[^.]+$/, '.txt')).join(', ')}`);
  return out;
}

/** Where captions come from for a `captions:` argument. */
export function captionSource(target: string): { kind: 'csv' | 'sidecar'; path: string } {
  const p = path.resolve(target);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(p);
  } catch {
    throw new DatasetError(`caption source ${p} does not exist (fix: --dataset captions:FILE.csv or captions:DIR)`);
  }
  if (st.isDirectory()) {
    const csv = path.join(p, 'captions.csv');
    return fs.existsSync(csv) ? { kind: 'csv', path: csv } : { kind: 'sidecar', path: p };
  }
  if (isImageFile(p)) throw new DatasetError(`${p} is an image, not a caption CSV`);
  return { kind: 'csv', path: p };
}

/** Opens captioned images (`captions:FILE` / `captions:DIR`) as the split `trainval`. */
export async function openCaptions(target: string, split: string, datasetName = `captions:${target}`): Promise<FingerprintedSplit> {
  if (split !== 'trainval') throw new DatasetError(`captioned sets have one pool of images, the split "trainval" (train/val are carved from it), not ${JSON.stringify(split)}`);
  const src = captionSource(target);
  const items = src.kind === 'csv' ? readCsv(src.path) : readSidecars(src.path);
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= items.length) throw new RangeError(`${datasetName}/${split}: sample index ${i} is out of range [0, ${items.length})`);
  };
  return {
    dataset: datasetName,
    split,
    classNames: [],
    size: items.length,
    files: [src.path],
    sample(i: number): Sample {
      check(i);
      return { index: i, label: -1, caption: items[i].caption, id: items[i].id };
    },
    source(i: number): ImageSource {
      check(i);
      return { kind: 'file', path: items[i].path };
    },
  };
}
