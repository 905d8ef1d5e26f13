/**
 * Oxford-IIIT Pet (Parkhi et al. 2012) from the official files:
 * - `images.tar.gz` holding `images/<Breed_name>_<n>.jpg` (or the extracted `images/` folder);
 * - `annotations.tar.gz` holding `annotations/list.txt`, `trainval.txt` (3,680 lines) and
 *   `test.txt` (3,669) (or the extracted `annotations/` folder). Lines are
 *   `Abyssinian_100 1 1 1`: image name, CLASS-ID 1..37, SPECIES (1 cat, 2 dog), BREED ID; lines
 *   starting with `#` are comments.
 * The files may sit in `--data-dir` or in its `oxford-iiit-pet/` subfolder (torchvision's layout).
 *
 * Splits: the official `trainval` and `test` (`train`/`val` are carved from trainval by the
 * registry). Class names are CLIP's 37 pet names; every class is matched BY NAME: the breed name is
 * the image name without its trailing `_<n>` (`american_pit_bull_terrier_12` ->
 * `american pit bull terrier`), compared case-insensitively with CLIP's spelling. A label is the
 * index of that name in CLIP's list, so a class-id order different from CLIP's cannot mislabel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TarError, readTarMembers } from '../io/tar';
import { PETS_CLASSES } from '../text/classnames';
import { FingerprintedSplit } from './splits';
import { DatasetError, ImageSource, Sample } from './types';
import { ImageLocation, openImageFiles, pathExists } from './image-files';

export const PETS_FILES = Object.freeze({
  images: 'images.tar.gz',
  imageFolder: 'images',
  annotations: 'annotations.tar.gz',
  annotationFolder: 'annotations',
});

export const PETS_SPLITS = ['trainval', 'test'] as const;
export type PetsSplit = (typeof PETS_SPLITS)[number];

export interface PetsOptions {
  dataDir: string;
  split: string;
  /** Where the decompressed copy of images.tar.gz goes (default: beside it, see TarArchive). */
  cacheDir?: string;
}

export interface PetsLocation {
  root: string;
  images: ImageLocation;
  annotations: ImageLocation;
}


function find(root: string, folder: string, archive: string): ImageLocation | null {
  if (pathExists(path.join(root, folder), true)) return { kind: 'folder', path: path.join(root, folder) };
  if (pathExists(path.join(root, archive), false)) return { kind: 'archive', path: path.join(root, archive) };
  return null;
}

/** Finds the images and annotations (in `dataDir` or `dataDir/oxford-iiit-pet`). */
export function locatePets(dataDir: string): PetsLocation {
  const dir = path.resolve(dataDir);
  const roots = [dir, path.join(dir, 'oxford-iiit-pet'), path.join(dir, 'pets')];
  const found = roots.map((root) => ({ root, images: find(root, PETS_FILES.imageFolder, PETS_FILES.images), annotations: find(root, PETS_FILES.annotationFolder, PETS_FILES.annotations) }));
  const best = found.find((f) => f.images && f.annotations) ?? found.find((f) => f.images || f.annotations) ?? found[0];
  if (!best.images || !best.annotations) {
    const missing = [!best.images ? `${PETS_FILES.images} (or its extracted images/ folder)` : '', !best.annotations ? `${PETS_FILES.annotations} (or its extracted annotations/ folder)` : ''].filter(Boolean);
    throw new DatasetError(
      `Oxford-IIIT Pet is incomplete in ${best.root}: missing ${missing.join(', ')} ` +
        `(fix: spikeclip data download --dataset pets --data-dir ${dataDir}, or put images.tar.gz and annotations.tar.gz in one folder)`,
    );
  }
  return { root: best.root, images: best.images, annotations: best.annotations };
}

/** Lower case, spaces for underscores, single spaces: how breed names are compared. */
export function petKey(name: string): string {
  return name.replace(/_/g, ' ').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The breed part of an image name: `Abyssinian_100` -> `Abyssinian`. */
export function breedOf(imageName: string): string {
  const cut = imageName.lastIndexOf('_');
  return cut > 0 ? imageName.slice(0, cut) : imageName;
}

export interface PetsLine {
  image: string;
  classId: number;
  species: number;
  breedId: number;
  line: number;
}

/** Parses list.txt / trainval.txt / test.txt (comments and blank lines skipped). */
export function parsePetsList(text: string, file: string): PetsLine[] {
  const out: PetsLine[] = [];
  text.split(/\r?\n/).forEach((raw, k) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    const nums = f.slice(1).map(Number);
    if (f.length !== 4 || !nums.every((n) => Number.isInteger(n))) {
      throw new DatasetError(`${file}:${k + 1}: expected "IMAGE CLASS-ID SPECIES BREED-ID", got ${JSON.stringify(line)}`);
    }
    const [classId, species, breedId] = nums;
    if (classId < 1 || classId > PETS_CLASSES.length) throw new DatasetError(`${file}:${k + 1}: class id ${classId} is outside 1..${PETS_CLASSES.length}`);
    if (species !== 1 && species !== 2) throw new DatasetError(`${file}:${k + 1}: species ${species} is neither 1 (cat) nor 2 (dog)`);
    out.push({ image: f[0], classId, species, breedId, line: k + 1 });
  });
  return out;
}

const CLIP_INDEX = new Map(PETS_CLASSES.map((n, i) => [petKey(n), i]));

/** Reads the annotation files of a split (and list.txt when present). */
async function readAnnotations(loc: PetsLocation, split: PetsSplit): Promise<{ lines: PetsLine[]; file: string; list: PetsLine[] }> {
  const wanted = [`${split}.txt`, 'list.txt'];
  const texts = new Map<string, { text: string; label: string }>();
  if (loc.annotations.kind === 'folder') {
    for (const n of wanted) {
      const p = path.join(loc.annotations.path, n);
      if (pathExists(p, false)) texts.set(n, { text: fs.readFileSync(p, 'utf8'), label: p });
    }
  } else {
    let members: Map<string, Buffer>;
    try {
      members = await readTarMembers(loc.annotations.path, wanted.map((n) => `annotations/${n}`));
    } catch (e) {
      if (e instanceof TarError) throw new DatasetError(e.message);
      throw e;
    }
    for (const n of wanted) {
      const b = members.get(`annotations/${n}`);
      if (b) texts.set(n, { text: b.toString('utf8'), label: `${loc.annotations.path}:annotations/${n}` });
    }
  }
  const main = texts.get(`${split}.txt`);
  if (!main) {
    const where = loc.annotations.kind === 'folder' ? path.join(loc.annotations.path, `${split}.txt`) : `${loc.annotations.path} member annotations/${split}.txt`;
    throw new DatasetError(`${where} is missing (the annotations are incomplete: re-download annotations.tar.gz)`);
  }
  const list = texts.get('list.txt');
  return { lines: parsePetsList(main.text, main.label), file: main.label, list: list ? parsePetsList(list.text, list.label) : [] };
}

/**
 * Maps every dataset class id to CLIP's class index by breed name, checking that each id always
 * names the same breed and that the breed is one of CLIP's 37.
 */
export function mapClassIds(lines: Array<PetsLine & { file: string }>): Map<number, number> {
  const seen = new Map<number, { key: string; where: string }>();
  const out = new Map<number, number>();
  for (const l of lines) {
    const key = petKey(breedOf(l.image));
    const where = `${l.file}:${l.line}`;
    const prev = seen.get(l.classId);
    if (prev && prev.key !== key) {
      throw new DatasetError(`${where}: class id ${l.classId} is "${key}" here but "${prev.key}" at ${prev.where}`);
    }
    if (!prev) {
      const idx = CLIP_INDEX.get(key);
      if (idx === undefined) throw new DatasetError(`${where}: breed "${breedOf(l.image)}" is not one of the 37 Oxford-IIIT Pet classes`);
      seen.set(l.classId, { key, where });
      out.set(l.classId, idx);
    }
  }
  return out;
}

function stamp(p: string): string {
  const st = fs.statSync(p);
  return `${st.size}:${Math.floor(st.mtimeMs)}`;
}

/** Opens an official Oxford-IIIT Pet split: `trainval` or `test`. */
export async function openPets(opts: PetsOptions): Promise<FingerprintedSplit> {
  if (!(PETS_SPLITS as readonly string[]).includes(opts.split)) {
    throw new DatasetError(`Oxford-IIIT Pet has the official splits ${PETS_SPLITS.join(', ')}, not ${JSON.stringify(opts.split)}`);
  }
  const split = opts.split as PetsSplit;
  const loc = locatePets(opts.dataDir);
  const { lines, file, list } = await readAnnotations(loc, split);
  const mapping = mapClassIds([...list.map((l) => ({ ...l, file: 'list.txt' })), ...lines.map((l) => ({ ...l, file }))]);
  const labels = Int32Array.from(lines.map((l) => mapping.get(l.classId) as number));
  const names = lines.map((l) => `${l.image}.jpg`);
  const read = await openImageFiles(loc.images, names, { memberDir: 'images', split, archiveName: PETS_FILES.images, cacheDir: opts.cacheDir });
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= names.length) throw new RangeError(`pets/${split}: sample index ${i} is out of range [0, ${names.length})`);
  };
  return {
    dataset: 'pets',
    split,
    classNames: [...PETS_CLASSES],
    size: names.length,
    files: [loc.annotations.path, loc.images.path],
    fingerprint: `pets:${split}:${loc.annotations.path}:${loc.annotations.kind === 'archive' ? stamp(loc.annotations.path) : stamp(path.join(loc.annotations.path, `${split}.txt`))}:${loc.images.path}:${loc.images.kind === 'archive' ? stamp(loc.images.path) : 'folder'}`,
    sample(i: number): Sample {
      check(i);
      return { index: i, label: labels[i], id: names[i] };
    },
    source(i: number): ImageSource {
      check(i);
      return read(i);
    },
  };
}
