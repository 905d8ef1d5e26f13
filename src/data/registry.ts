/**
 * One entry point to every dataset: `openDataset(name, {dataDir, split, seed, valFraction})`.
 *
 * Names: `cifar10`, `cifar100`, `flowers102`, `pets`, `folder:DIR`, `captions:FILE` (or
 * `captions:DIR`), plus whatever is added with {@link registerDataset} (the built-in synthetic
 * `shapes` set registers itself there).
 *
 * Splits. Each dataset serves its official splits (CIFAR: train, test; Flowers-102: train, val,
 * test, trainval; Pets: trainval, test; flat folders and captioned sets: trainval; split folders:
 * the ones present). Where a dataset has no official `val`, a validation split is carved from its
 * official `train` (or, lacking that, `trainval`): stratified by class, `valFraction` of each class
 * (default {@link DEFAULT_VAL_FRACTION} = 10%), chosen by a generator seeded with `seed` (default 0,
 * independent of the training seed unless the caller passes it). Then:
 * - `val`      = the carved samples;
 * - `train`    = the rest of the carved-from split;
 * - `trainval` = the whole carved-from split (for CIFAR: the official 50,000 training images).
 * With `valFraction: 0` nothing is carved: `train` is the whole split and `val` does not exist.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CIFAR_LAYOUT, CifarName, locateCifar, openCifar } from './cifar';
import { openCaptions, captionSource } from './captions';
import { FLOWERS102_FILES, locateFlowers102, openFlowers102 } from './flowers102';
import { imageFolderLayout, openImageFolder } from './imagefolder';
import { PETS_FILES, locatePets, openPets } from './pets';
import { DEFAULT_VAL_FRACTION, FingerprintedSplit, carveValidation, labelsOf, subsetSplit } from './splits';
import { DatasetError, DatasetSplit } from './types';

export { DEFAULT_VAL_FRACTION } from './splits';

export interface OpenDatasetOptions {
  /** Where the archives/folders are (default {@link defaultDataDir}). Ignored by folder:/captions:. */
  dataDir?: string;
  split: string;
  /** Seed of the carved validation split (default 0). */
  seed?: number;
  /** Fraction of each class carved out as validation where there is no official val (default 0.1). */
  valFraction?: number;
  /** Where decompressed copies of .tar.gz image archives go (default: beside the archive). */
  cacheDir?: string;
}

/** What an opener is given. */
export interface DatasetContext {
  /** The full name as typed (`folder:/data/x`). */
  name: string;
  /** The part after `name:` for parameterised datasets, else undefined. */
  arg?: string;
  dataDir: string;
  seed: number;
  valFraction: number;
  cacheDir?: string;
}

/** A file or folder a dataset looks for, for `data info`. */
export interface DatasetFileStatus {
  path: string;
  found: boolean;
  /** What it is (`CIFAR-10 binary archive`, ...). */
  role: string;
}

/**
 * How a dataset is opened. Register new ones with {@link registerDataset}; the registry adds the
 * carved validation split (unless `carveValidation` is false) and all split-name checking.
 */
export interface DatasetOpener {
  /** How the name is written in help and error messages: `cifar10`, `folder:DIR`. */
  usage: string;
  /** One line for `data info` and listings. */
  title: string;
  /** The name takes an argument after a colon (`folder:DIR`). */
  takesArgument?: boolean;
  /** The splits the data itself provides. */
  officialSplits(ctx: DatasetContext): string[] | Promise<string[]>;
  /** Opens one of the official splits. */
  open(split: string, ctx: DatasetContext): Promise<DatasetSplit>;
  /** Carve `val` from `train`/`trainval` when there is no official val (default true). */
  carveValidation?: boolean;
  /** Files looked for and whether they were found (for `data info`). */
  files?(ctx: DatasetContext): DatasetFileStatus[];
}

const openers = new Map<string, DatasetOpener>();

/**
 * Adds (or replaces) a dataset under `name` (lower case; without the `:ARG` part for datasets that
 * take an argument). This is the extension point for datasets defined elsewhere, e.g. the synthetic
 * `shapes` set: `registerDataset('shapes', { usage: 'shapes', title: ..., officialSplits, open })`.
 */
export function registerDataset(name: string, opener: DatasetOpener): void {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new Error(`dataset name ${JSON.stringify(name)} must be lower-case letters, digits, - or _`);
  openers.set(name, opener);
}

/**
 * Built-in datasets defined in modules of their own (which import this one), registered on first
 * use: whichever modules a command happened to load before, `shapes` is always known.
 */
const LAZY_BUILT_INS: Record<string, () => void> = {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  shapes: () => require('./shapes-dataset'),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  'shapes-simple': () => require('./shapes-dataset'),
};

function ensureBuiltIns(): void {
  for (const [name, load] of Object.entries(LAZY_BUILT_INS)) if (!openers.has(name)) load();
}

/** The registered dataset names as they are written (`cifar10`, ..., `folder:DIR`). */
export function knownDatasets(): string[] {
  ensureBuiltIns();
  return [...openers.values()].map((o) => o.usage);
}

/** `SPIKECLIP_DATA_DIR`, else `~/.cache/spikeclip/data`. */
export function defaultDataDir(): string {
  const env = process.env.SPIKECLIP_DATA_DIR;
  return env && env.trim() !== '' ? path.resolve(env) : path.join(os.homedir(), '.cache', 'spikeclip', 'data');
}

function resolve(name: string, opts: Omit<OpenDatasetOptions, 'split'>): { opener: DatasetOpener; ctx: DatasetContext } {
  const colon = name.indexOf(':');
  // Windows drive letters never appear in the base name, so the first colon separates.
  const base = (colon >= 0 ? name.slice(0, colon) : name).trim().toLowerCase();
  const arg = colon >= 0 ? name.slice(colon + 1) : undefined;
  if (!openers.has(base)) ensureBuiltIns();
  const opener = openers.get(base);
  if (!opener) throw new DatasetError(`unknown dataset ${JSON.stringify(name)}; known datasets: ${knownDatasets().join(', ')}`);
  if (opener.takesArgument && (arg === undefined || arg.trim() === '')) throw new DatasetError(`dataset ${base} needs an argument: ${opener.usage}`);
  if (!opener.takesArgument && arg !== undefined) throw new DatasetError(`dataset ${base} takes no argument (got ${JSON.stringify(name)}); known datasets: ${knownDatasets().join(', ')}`);
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  if (!(valFraction >= 0 && valFraction < 1)) throw new DatasetError(`the validation fraction must be in [0, 1), got ${valFraction}`);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new DatasetError(`the split seed must be an integer, got ${seed}`);
  return { opener, ctx: { name: colon >= 0 ? `${base}:${arg}` : base, arg, dataDir: path.resolve(opts.dataDir ?? defaultDataDir()), seed, valFraction, cacheDir: opts.cacheDir } };
}

/**
 * The split names a dataset accepts and how they are made: `source` is the official split that
 * `train`/`val`/`trainval` derive from when there is no official val (null: nothing derived).
 */
async function splitPlan(opener: DatasetOpener, ctx: DatasetContext): Promise<{ official: string[]; source: string | null; splits: string[] }> {
  const official = [...(await opener.officialSplits(ctx))];
  let source: string | null = null;
  if (opener.carveValidation !== false && !official.includes('val')) {
    source = official.includes('train') ? 'train' : official.includes('trainval') ? 'trainval' : null;
  }
  const names = new Set(official);
  if (source) {
    names.add('train');
    names.add('trainval');
    if (ctx.valFraction > 0) names.add('val');
  }
  const order = ['train', 'val', 'test', 'trainval'];
  const rank = (x: string) => (order.includes(x) ? order.indexOf(x) : order.length);
  const splits = [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return { official, source, splits };
}

function renamed(split: FingerprintedSplit, name: string): FingerprintedSplit {
  if (split.split === name) return split;
  return subsetSplit(split, Array.from({ length: split.size }, (_, i) => i), name);
}

type SplitPlan = Awaited<ReturnType<typeof splitPlan>>;

/** Opens `split` by the plan; official splits are opened through `cache` (one open per split). */
async function openByPlan(opener: DatasetOpener, ctx: DatasetContext, plan: SplitPlan, split: string, cache: Map<string, Promise<DatasetSplit>>): Promise<DatasetSplit> {
  const official = (s: string) => {
    let p = cache.get(s);
    if (!p) cache.set(s, (p = opener.open(s, ctx)));
    return p;
  };
  if (!plan.splits.includes(split)) {
    const why = split === 'val' && ctx.valFraction === 0 && plan.source ? ' (nothing is carved with a validation fraction of 0)' : '';
    throw new DatasetError(`${ctx.name} has no split ${JSON.stringify(split)}${why}; valid splits: ${plan.splits.join(', ')}`);
  }
  const src = plan.source;
  const carving = src !== null && ctx.valFraction > 0;
  if (plan.official.includes(split) && !(carving && split === 'train')) return official(split);
  // Derived: trainval = the whole source; train = source minus val (or the whole source); val = carved.
  const whole = (await official(src as string)) as FingerprintedSplit;
  if (split === 'trainval' || !carving) return renamed(whole, split);
  const carved = carveValidation(labelsOf(whole), ctx.valFraction, ctx.seed);
  const out = subsetSplit(whole, split === 'val' ? carved.val : carved.train, split);
  if (out.fingerprint !== undefined) out.fingerprint += `|carve:${ctx.valFraction}:${ctx.seed}`;
  return out;
}

/** Opens a split of a dataset by name (see the module comment for names and splits). */
export async function openDataset(name: string, opts: OpenDatasetOptions): Promise<DatasetSplit> {
  const { opener, ctx } = resolve(name, opts);
  return openByPlan(opener, ctx, await splitPlan(opener, ctx), opts.split, new Map());
}

export interface SplitInfo {
  name: string;
  size: number;
  /** Samples per class (index = label); empty for unlabelled sets. */
  classCounts: number[];
  /** `official`, or how the split was derived. */
  origin: string;
}

export interface DatasetInfo {
  dataset: string;
  title: string;
  classNames: string[];
  numClasses: number;
  splits: SplitInfo[];
  files: DatasetFileStatus[];
  seed: number;
  valFraction: number;
}

/**
 * Split sizes, per-class counts, class names and the files found, for `data info`. Opens every
 * official split once (reads CIFAR's batches; decompresses image archives to their cache on first
 * use) and derives the carved ones from it.
 */
export async function datasetInfo(name: string, opts: Omit<OpenDatasetOptions, 'split'> = {}): Promise<DatasetInfo> {
  const { opener, ctx } = resolve(name, opts);
  const files = opener.files ? opener.files(ctx) : [];
  const plan = await splitPlan(opener, ctx);
  const splits: SplitInfo[] = [];
  let classNames: string[] = [];
  const cache = new Map<string, Promise<DatasetSplit>>();
  for (const s of plan.splits) {
    const split = await openByPlan(opener, ctx, plan, s, cache);
    classNames = split.classNames;
    const counts = new Array<number>(split.classNames.length).fill(0);
    for (let i = 0; i < split.size; i++) {
      const l = split.sample(i).label;
      if (l >= 0 && l < counts.length) counts[l]++;
    }
    const pct = `${Math.round(ctx.valFraction * 1000) / 10}%`;
    let origin = 'official';
    if (plan.source && !(plan.official.includes(s) && !(s === 'train' && ctx.valFraction > 0))) {
      if (s === 'val') origin = `carved from ${plan.source}: ${pct} of each class, seed ${ctx.seed}`;
      else if (s === 'train' && ctx.valFraction > 0) origin = `${plan.source} minus val`;
      else origin = `all of ${plan.source}`;
    }
    splits.push({ name: s, size: split.size, classCounts: counts, origin });
  }
  return { dataset: ctx.name, title: opener.title, classNames, numClasses: classNames.length, splits, files, seed: ctx.seed, valFraction: ctx.valFraction };
}

// ---------------------------------------------------------------------------------------------
// Built-in datasets

function exists(p: string): boolean {
  return fs.existsSync(p);
}

/**
 * The expected files of a dataset under its located root (or under dataDir when it cannot be
 * located), each with whether it is there.
 */
function expectedFiles(dataDir: string, locate: (dir: string) => { root: string }, entries: Array<[file: string, role: string]>): DatasetFileStatus[] {
  let root = dataDir;
  try {
    root = locate(dataDir).root;
  } catch {
    // report against dataDir
  }
  return entries.map(([file, role]) => {
    const p = path.join(root, file);
    return { path: p, role, found: exists(p) };
  });
}

function cifarOpener(name: CifarName): DatasetOpener {
  const layout = CIFAR_LAYOUT[name];
  return {
    usage: name,
    title: `${layout.title} (${layout.numClasses} classes, 32x32; official train 50,000 / test 10,000)`,
    officialSplits: () => ['train', 'test'],
    open: (split, ctx) => openCifar(name, { dataDir: ctx.dataDir, split: split as 'train' | 'test' }),
    files(ctx) {
      const out: DatasetFileStatus[] = [];
      for (const format of ['binary', 'python'] as const) {
        const f = layout[format];
        out.push({ path: path.join(ctx.dataDir, f.folder), found: exists(path.join(ctx.dataDir, f.folder)), role: `${format} version, extracted` });
        out.push({ path: path.join(ctx.dataDir, f.archive), found: exists(path.join(ctx.dataDir, f.archive)), role: `${format} version, archive` });
      }
      try {
        const used = locateCifar(name, ctx.dataDir);
        for (const o of out) if (o.path === used.path) o.role += ' (used)';
      } catch {
        // none found: every entry says found: false
      }
      return out;
    },
  };
}

registerDataset('cifar10', cifarOpener('cifar10'));
registerDataset('cifar100', cifarOpener('cifar100'));

registerDataset('flowers102', {
  usage: 'flowers102',
  title: 'Oxford Flowers-102 (102 classes; official train 1,020 / val 1,020 / test 6,149)',
  officialSplits: () => ['train', 'val', 'test', 'trainval'],
  open: (split, ctx) => openFlowers102({ dataDir: ctx.dataDir, split, cacheDir: ctx.cacheDir }),
  files: (ctx) =>
    expectedFiles(ctx.dataDir, locateFlowers102, [
      [FLOWERS102_FILES.images, 'images archive'],
      [FLOWERS102_FILES.imageFolder, 'images, extracted'],
      [FLOWERS102_FILES.labels, 'labels'],
      [FLOWERS102_FILES.setid, 'split ids'],
    ]),
});

registerDataset('pets', {
  usage: 'pets',
  title: 'Oxford-IIIT Pet (37 classes; official trainval 3,680 / test 3,669)',
  officialSplits: () => ['trainval', 'test'],
  open: (split, ctx) => openPets({ dataDir: ctx.dataDir, split, cacheDir: ctx.cacheDir }),
  files: (ctx) =>
    expectedFiles(ctx.dataDir, locatePets, [
      [PETS_FILES.images, 'images archive'],
      [PETS_FILES.imageFolder, 'images, extracted'],
      [PETS_FILES.annotations, 'annotations archive'],
      [PETS_FILES.annotationFolder, 'annotations, extracted'],
    ]),
});

registerDataset('folder', {
  usage: 'folder:DIR',
  title: 'an image folder DIR/<class>/*.jpg|png|webp (or DIR/train|val|test/<class>/...)',
  takesArgument: true,
  officialSplits: (ctx) => imageFolderLayout(ctx.arg as string).splits,
  open: (split, ctx) => openImageFolder(ctx.arg as string, split, ctx.name),
  files: (ctx) => [{ path: path.resolve(ctx.arg as string), role: 'image folder', found: exists(path.resolve(ctx.arg as string)) }],
});

registerDataset('captions', {
  usage: 'captions:FILE',
  title: 'captioned images: a CSV "image,caption" (paths relative to it) or a folder of images with .txt captions',
  takesArgument: true,
  officialSplits: () => ['trainval'],
  open: (split, ctx) => openCaptions(ctx.arg as string, split, ctx.name),
  files(ctx) {
    try {
      const src = captionSource(ctx.arg as string);
      return [{ path: src.path, role: src.kind === 'csv' ? 'caption CSV' : 'images with .txt captions', found: true }];
    } catch {
      return [{ path: path.resolve(ctx.arg as string), role: 'caption CSV or folder', found: false }];
    }
  },
});
