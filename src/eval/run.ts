/**
 * The `eval` service: zero-shot classification of one or more datasets with a student or teacher
 * checkpoint (docs/method.md §7).
 *
 * For each dataset: open the split (a seeded random subset with `limit`), resolve the candidate
 * class names (dataset names, or a user file: replace / expand) and the prompts (the dataset's
 * templates or a user file), build or fetch W, run every image through the image encoder
 * (BatchNorm in inference mode; students with a spike monitor for the firing rates), rank the
 * candidates by cosine similarity, compute the metrics, and write the result file and the plot.
 * Everything that can be checked without the model (files, flags, datasets, class names) is
 * checked before the weights are loaded; with `skipExisting` a dataset whose output file exists
 * is not evaluated at all.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { EXIT, UserError } from '../errors';
import { defaultCacheDir } from '../data/cache';
import { DataLoader } from '../data/loader';
import { openDataset } from '../data/registry';
import { permutation, rngOf } from '../data/rng';
import { classSubsetSplit, subsetSplit } from '../data/splits';
import type { StudentResize } from '../data/transforms';
import { DatasetError, DatasetSplit } from '../data/types';
import { SpikeMonitor } from '../snn/monitor';
import { buildClassMatrix, classMatrixCached, ZeroShotClassifier } from './classifier';
import {
  CandidateSet,
  ClassNamesSpec,
  defaultTemplates,
  hashJson,
  promptsPerClass,
  readClassNamesFile,
  readTemplatesFile,
  resolveCandidates,
  TemplateSpec,
} from './label-files';
import { computeMetrics } from './metrics';
import { checkEncoderCheckpoint, type Encoder, loadEncoder } from '../encoders/encoder';
import { plotFormat, writeConfusionPlot } from './plot';
import { buildResult, EvalResultJson, EvalRun, expandOutputTemplate, FiringRate, OUTPUT_PLACEHOLDERS, unknownPlaceholders, writeResultFile } from './results';
import { whyNotWritable } from '../io/writable';

export interface EvalOptions {
  checkpoint: string;
  datasets: string[];
  dataDir?: string;
  /** Split to evaluate (default 'test'). */
  split?: string;
  /** Seed of the --limit subset, the carved validation split and the synthetic shapes (default 0). */
  seed?: number;
  templatesFile?: string;
  classNamesFile?: string;
  /**
   * Evaluate among these classes only: their images, and a classifier of their names (e.g. the
   * classes held out of training: the standard zero-shot protocol). Default: every class.
   */
  classes?: string[];
  /** Allow more class names than classes: the extra ones are distractors. */
  expand?: boolean;
  renormalize?: boolean;
  /** Result file; may contain the placeholders of OUTPUT_PLACEHOLDERS ({dataset}, {model}, {pretrained}, ...). */
  output?: string;
  skipExisting?: boolean;
  /** Confusion-matrix picture (.svg or .png); may contain the same placeholders. */
  plot?: string;
  /** Evaluate a seeded random subset of this many images. */
  limit?: number;
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /** How a student sees images (default 'reference'). */
  studentResize?: StudentResize;
  /** Measure the image encoder's firing rates (students; default true). */
  firingRates?: boolean;
  /** Cache W on disk (default true). */
  classifierCache?: boolean;
  /** Cache root (default SPIKECLIP_CACHE, else ~/.cache/spikeclip). */
  cacheDir?: string;
  backend?: { name: string; threads: number; simd: boolean };
  provenance?: Record<string, unknown>;
  onProgress?: (text: string) => void;
  onNote?: (line: string) => void;
  onWarning?: (message: string) => void;
}

interface Planned {
  dataset: string;
  output?: string;
  plot?: string;
}

interface Prepared extends Planned {
  split: DatasetSplit;
  splitSize: number;
  candidates: CandidateSet;
  templates: TemplateSpec;
  templatesSource: string;
  prompts: string[][];
}

function usage(message: string, fix: string): UserError {
  return new UserError(message, { fix });
}

/** Checks the flags and fills the output/plot templates per dataset. */
function plan(o: EvalOptions): Planned[] {
  if (o.datasets.length === 0) throw usage('no dataset to evaluate', 'give --dataset NAME (cifar10, cifar100, flowers102, pets, shapes or folder:DIR); repeat it for several');
  const dup = o.datasets.find((d, i) => o.datasets.indexOf(d) !== i);
  if (dup !== undefined) throw usage(`--dataset ${dup} is given twice`, 'name each dataset once');
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1)) throw usage(`--limit must be a positive integer, got ${o.limit}`, 'give --limit N with N >= 1');
  if (o.skipExisting && o.output === undefined) throw usage('--skip-existing needs --output', 'give --output FILE (e.g. "results/{dataset}_{checkpoint}.json")');
  if (o.plot !== undefined) plotFormat(o.plot);
  if (o.classes !== undefined) {
    if (o.classes.length === 0) throw usage('--classes names no class', 'give --classes "NAME,NAME,..." (class names as `spikeclip data info` lists them)');
    if (o.classNamesFile !== undefined) throw usage('--classes and --class-names do not go together', 'evaluate a subset with --classes, or rename classes with --class-names, not both');
  }
  const split = o.split ?? 'test';
  const many = o.datasets.length > 1;
  for (const [flag, tpl] of [['--output', o.output], ['--plot', o.plot]] as const) {
    const unknown = tpl === undefined ? [] : unknownPlaceholders(tpl);
    if (unknown.length > 0) {
      throw usage(`${flag} ${tpl} has an unknown placeholder {${unknown[0]}}`, `use only ${OUTPUT_PLACEHOLDERS.map((n) => `{${n}}`).join(', ')}`);
    }
    if (tpl !== undefined && many && !tpl.includes('{dataset}')) {
      throw usage(`${flag} ${tpl} would be overwritten by each of the ${o.datasets.length} datasets`, `put {dataset} in the file name, e.g. "results/{dataset}_{checkpoint}${flag === '--plot' ? '.svg' : '.json'}"`);
    }
  }
  const planned = o.datasets.map((dataset) => {
    const vars = { dataset, checkpoint: o.checkpoint, split };
    return {
      dataset,
      output: o.output === undefined ? undefined : expandOutputTemplate(o.output, vars),
      plot: o.plot === undefined ? undefined : expandOutputTemplate(o.plot, vars),
    };
  });
  const outs = planned.map((p) => p.output && path.resolve(p.output)).filter((x): x is string => x !== undefined);
  if (new Set(outs).size !== outs.length) throw usage(`--output ${o.output} gives the same file for two datasets`, 'make the file names differ, e.g. with {dataset}');
  return planned;
}

/** A seeded random subset of `limit` samples (in index order), or the split itself. */
function limited(split: DatasetSplit, limit: number | undefined, seed: number): DatasetSplit {
  if (limit === undefined || limit >= split.size) return split;
  const perm = permutation(split.size, rngOf(seed, 'eval-limit'));
  const idx = Array.from(perm.subarray(0, limit)).sort((a, b) => a - b);
  return subsetSplit(split, idx, split.split);
}

async function prepare(o: EvalOptions, p: Planned, classSpec: ClassNamesSpec | undefined, templateFile: TemplateSpec | undefined): Promise<Prepared> {
  const split = o.split ?? 'test';
  const seed = o.seed ?? 0;
  const opened = await openDataset(p.dataset, { dataDir: o.dataDir, split, seed });
  const full = o.classes !== undefined ? classSubsetSplit(opened, o.classes) : opened;
  if (full.size === 0) throw new DatasetError(`${p.dataset} (${split}) has no images`);
  if (full.classNames.length === 0) throw new DatasetError(`${p.dataset} has no class names, so it cannot be classified zero-shot (is it a captioned set?)`);
  const candidates = resolveCandidates(full.classNames, classSpec, { expand: o.expand, source: o.classNamesFile, dataset: p.dataset });
  const templates = templateFile ?? { kind: 'list' as const, templates: [...defaultTemplates(p.dataset)] };
  const templatesSource = o.templatesFile !== undefined ? path.resolve(o.templatesFile) : `default:${p.dataset.split(':')[0]}`;
  const prompts = promptsPerClass(candidates.names, templates, o.templatesFile ?? 'templates');
  // render/load the pixels once (the synthetic set renders here), then take the subset
  await full.prepare?.();
  return { ...p, split: limited(full, o.limit, seed), splitSize: full.size, candidates, templates, templatesSource, prompts };
}

interface Ranked {
  labels: Int32Array;
  topk: Int32Array;
  k: number;
  zeroEmbeddings: number;
  skipped: number;
  seconds: number;
}

/** Runs the images of `split` through the model and ranks the candidates. */
async function rankImages(o: EvalOptions, model: Encoder, split: DatasetSplit, clf: ZeroShotClassifier, monitor: SpikeMonitor | undefined, label: string): Promise<Ranked> {
  const bs = o.batchSize ?? 32;
  const labels: number[] = [];
  const topks: Int32Array[] = [];
  let zero = 0;
  let done = 0;
  const t0 = process.hrtime.bigint();
  const step = (pixels: Float32Array, shape: [number, number, number, number], ys: ArrayLike<number>): void => {
    const feats = tf.tidy(() => model.encodeImages(tf.tensor4d(pixels, shape), { monitor }));
    try {
      const pred = clf.classify(feats);
      topks.push(pred.topk);
      zero += pred.zeroEmbeddings;
    } finally {
      feats.dispose();
    }
    for (let i = 0; i < ys.length; i++) labels.push(ys[i]);
    done += ys.length;
    o.onProgress?.(`${label}: ${done}/${split.size} images`);
  };
  let skipped = 0;
  if (model.image.kind === 'view') {
    const loader = await DataLoader.open(split, {
      view: model.image.view,
      mean: model.image.mean,
      std: model.image.std,
      batchSize: bs,
      shuffle: false,
      // a --limit subset is not worth a cache file of its own
      cache: o.limit !== undefined ? false : 'auto',
      cacheDir: o.cacheDir,
      onWarning: o.onWarning,
    });
    try {
      for await (const b of loader.epoch(0)) step(b.images, b.shape, b.labels);
      skipped = loader.stats.skipped;
    } finally {
      await loader.close();
    }
  } else {
    // the teacher's CLIP preprocessing, image by image (an undecodable image is skipped and counted, as the loader does)
    const S = model.image.size;
    const per = S * S * 3;
    let warned = 0;
    for (let s = 0; s < split.size; s += bs) {
      const pixels = new Float32Array(Math.min(bs, split.size - s) * per);
      const ys: number[] = [];
      for (let i = s; i < Math.min(split.size, s + bs); i++) {
        try {
          pixels.set(await model.preprocessImages([split.source(i)]), ys.length * per);
        } catch (e) {
          if ((e as { corrupt?: boolean }).corrupt !== true) throw e;
          skipped++;
          if (warned++ < 20) o.onWarning?.(`skipping undecodable image ${split.sample(i).id}: ${(e as Error).message}`);
          continue;
        }
        ys.push(split.sample(i).label);
      }
      if (ys.length > 0) step(pixels.subarray(0, ys.length * per), [ys.length, S, S, 3], ys);
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const k = clf.k;
  const topk = new Int32Array(labels.length * k);
  let off = 0;
  for (const t of topks) {
    topk.set(t, off);
    off += t.length;
  }
  return { labels: Int32Array.from(labels), topk, k, zeroEmbeddings: zero, skipped, seconds };
}

function firingRates(monitor: SpikeMonitor): FiringRate[] {
  return monitor
    .observations()
    .filter((r) => r.kind === 'ac')
    .map((r) => ({ layer: r.layer, rate: r.inputElements > 0 ? r.nonZero / r.inputElements : 0, input_elements: r.inputElements, non_zero: r.nonZero }));
}

async function evaluateOne(o: EvalOptions, model: Encoder, p: Prepared): Promise<EvalResultJson> {
  const label = `${p.dataset} ${p.split.split}`;
  const templatesHash = hashJson(p.templates.kind === 'list' ? p.templates.templates : p.templates.prompts);
  const classNamesHash = hashJson(p.candidates.names);
  const renormalize = o.renormalize ?? false;
  const nPrompts = p.prompts.reduce((s, x) => s + x.length, 0);
  const W = await classMatrixCached({
    cacheDir: o.classifierCache === false ? undefined : o.cacheDir ?? defaultCacheDir(),
    key: { checkpointHash: model.hash, tokenizerHash: model.tokenizerHash, templatesHash, classNamesHash, renormalize, contextLength: model.contextLength },
    expect: { numClasses: p.candidates.names.length },
    build: () =>
      buildClassMatrix({
        prompts: p.prompts,
        encodeTexts: (texts) => model.encodeTexts(texts),
        renormalize,
        onProgress: (d, t) => o.onProgress?.(`${label}: class matrix, ${d}/${t} prompts`),
      }),
    onWarning: o.onWarning,
  });
  o.onNote?.(
    `${label}: ${p.split.size} images${p.split.size < p.splitSize ? ` (seeded random subset of ${p.splitSize})` : ''}, ${p.candidates.names.length} candidates, ${nPrompts} prompts, class matrix ${W.hit ? 'from the cache' : 'built'}`,
  );
  const clf = new ZeroShotClassifier(W.matrix);
  const monitor = model.kind === 'student' && o.firingRates !== false ? new SpikeMonitor() : undefined;
  let ranked: Ranked;
  try {
    ranked = await rankImages(o, model, p.split, clf, monitor, label);
  } finally {
    clf.dispose();
  }
  const metrics = computeMetrics({ labels: ranked.labels, topk: ranked.topk, k: ranked.k }, p.candidates.numClasses, p.candidates.names.length, p.candidates.names);
  return buildResult({
    dataset: p.split.dataset,
    checkpoint: { path: model.dir ?? path.resolve(o.checkpoint), hash: model.hash, kind: model.kind },
    timeSteps: model.timeSteps,
    imageSize: model.imageSize,
    studentResize: model.kind === 'student' ? o.studentResize ?? 'reference' : undefined,
    backend: o.backend,
    seed: o.seed ?? 0,
    split: p.split.split,
    splitSize: p.splitSize,
    limit: p.split.size < p.splitSize ? o.limit : undefined,
    skippedImages: ranked.skipped,
    zeroEmbeddings: ranked.zeroEmbeddings,
    metrics,
    candidateNames: p.candidates.names,
    templates: {
      source: p.templatesSource,
      kind: p.templates.kind,
      count: p.templates.kind === 'list' ? p.templates.templates.length : nPrompts,
      hash: templatesHash,
    },
    classnames: {
      source: p.candidates.source === 'dataset' ? 'dataset' : path.resolve(p.candidates.source),
      mode: p.candidates.mode,
      hash: classNamesHash,
      replaced: p.candidates.replaced,
      distractors: p.candidates.distractors,
    },
    renormalize,
    firingRates: monitor ? firingRates(monitor) : undefined,
    classifier: { cached: W.hit, file: W.file },
    seconds: ranked.seconds,
    provenance: o.provenance,
  });
}

/** What {@link prepareEval} checked and opened: the datasets to evaluate and the ones skipped. */
export interface PreparedEval {
  options: EvalOptions;
  datasets: Prepared[];
  skipped: { dataset: string; output: string }[];
}

/**
 * Everything that needs no model and no TF.js backend: flags, output templates, class-name and
 * template files, --skip-existing, opening the datasets and resolving their candidates and
 * prompts. A command calls it before starting the backend, so a mistake is one quick line.
 */
export async function prepareEval(o: EvalOptions): Promise<PreparedEval> {
  const planned = plan(o);
  const templateFile = o.templatesFile !== undefined ? readTemplatesFile(o.templatesFile) : undefined;
  const classSpec = o.classNamesFile !== undefined ? readClassNamesFile(o.classNamesFile) : undefined;
  const skipped: PreparedEval['skipped'] = [];
  const todo: Planned[] = [];
  for (const p of planned) {
    if (o.skipExisting && p.output !== undefined && fs.existsSync(p.output)) skipped.push({ dataset: p.dataset, output: p.output });
    else todo.push(p);
  }
  // Before any work: an unwritable --output or --plot would otherwise be found after the whole evaluation.
  for (const p of todo) {
    for (const [flag, file] of [['--output', p.output], ['--plot', p.plot]] as const) {
      const why = file === undefined ? undefined : whyNotWritable(file);
      if (why !== undefined) throw new UserError(`${flag} ${file} cannot be written: ${why}`, { code: 'E_OUTPUT', exitCode: EXIT.badInput, fix: `choose a writable ${flag} path` });
    }
  }
  const datasets: Prepared[] = [];
  if (todo.length > 0) {
    await checkEncoderCheckpoint(o.checkpoint, { requireTokenizer: true, purpose: 'eval' });
    // the built-in synthetic set registers itself on import
    await import('../data/shapes-dataset');
    for (const p of todo) {
      o.onProgress?.(`opening ${p.dataset} (${o.split ?? 'test'})`);
      datasets.push(await prepare(o, p, classSpec, templateFile));
    }
  }
  return { options: o, datasets, skipped };
}

/** Loads the model and evaluates the prepared datasets; `extra` adds what is known only now (backend, provenance). */
export async function executeEval(prep: PreparedEval, extra: Pick<EvalOptions, 'backend' | 'provenance'> = {}): Promise<EvalRun> {
  const o: EvalOptions = { ...prep.options, ...extra };
  const run: EvalRun = { results: [], files: [], skipped: [...prep.skipped] };
  for (const s of prep.skipped) o.onNote?.(`${s.dataset}: skipped, ${s.output} exists (--skip-existing)`);
  if (prep.datasets.length === 0) return run;
  o.onProgress?.(`loading ${o.checkpoint}`);
  const model = await loadEncoder(o.checkpoint, { requireTokenizer: true, purpose: 'eval', studentResize: o.studentResize });
  try {
    o.onNote?.(`model: ${model.description}`);
    for (const p of prep.datasets) {
      const result = await evaluateOne(o, model, p);
      if (p.output !== undefined) await writeResultFile(p.output, result);
      if (p.plot !== undefined) await writeConfusionPlot(p.plot, result);
      run.results.push(result);
      run.files.push({ dataset: result.dataset, ...(p.output !== undefined ? { output: p.output } : {}), ...(p.plot !== undefined ? { plot: p.plot } : {}) });
    }
  } finally {
    model.dispose();
  }
  return run;
}

/** Evaluates every dataset of `o` (see the module comment): {@link prepareEval}, then {@link executeEval}. */
export async function runEval(o: EvalOptions): Promise<EvalRun> {
  return executeEval(await prepareEval(o));
}
