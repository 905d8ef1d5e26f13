/**
 * Result files: LAION-AI/CLIP_benchmark's zero-shot classification JSON
 * (`{dataset, model, pretrained, task, metrics: {acc1, acc5, mean_per_class_recall}, language}`)
 * plus the fields that make a number traceable (checkpoint hash, model kind, T, backend, seed,
 * split, images, templates and class-name hashes), per-class accuracy, the confusion matrix and the
 * image encoder's firing rate per layer. Output paths may be templated with CLIP_benchmark's
 * placeholders and ours (OUTPUT_PLACEHOLDERS). Files are written atomically.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../io/atomic';
import type { ClassificationMetrics } from './metrics';

export const EVAL_TASK = 'zeroshot_classification';

export interface FiringRate {
  layer: string;
  /** Non-zero input elements / input elements, over all time steps and images. */
  rate: number;
  input_elements: number;
  non_zero: number;
}

export interface ClassResultRow {
  index: number;
  name: string;
  images: number;
  correct: number;
  /** null for a class without images in the evaluated set. */
  accuracy: number | null;
}

/** One evaluation (one dataset) as written to a result file. */
export interface EvalResultJson {
  // --- CLIP_benchmark
  dataset: string;
  /** The checkpoint directory's name. */
  model: string;
  /** The checkpoint directory (absolute). */
  pretrained: string;
  task: typeof EVAL_TASK;
  metrics: { acc1: number; acc5?: number; mean_per_class_recall: number };
  language: 'en';
  // --- spikeclip
  checkpoint: { path: string; hash: string; kind: 'student' | 'teacher' };
  model_kind: 'student' | 'teacher';
  /** The image encoder's time steps (students); null for the teacher. */
  time_steps: number | null;
  /** Side of the images the model saw; the student resize mode for students. */
  image_size: number;
  student_resize?: string;
  backend: { name: string; threads: number; simd: boolean } | null;
  seed: number;
  split: string;
  num_images: number;
  /** Images of the split before --limit. */
  split_size: number;
  /** --limit: a seeded random subset of this many images (null: the whole split). */
  limit: number | null;
  /** Undecodable images skipped. */
  skipped_images: number;
  /** Images whose embedding was all zeros (no spike reached the readout). */
  zero_embeddings: number;
  num_classes: number;
  num_candidates: number;
  templates: { source: string; kind: 'list' | 'per-class'; count: number; hash: string };
  classnames: {
    source: string;
    mode: 'dataset' | 'replace' | 'expand';
    hash: string;
    names: string[];
    replaced: { index: number; from: string; to: string }[];
    distractors: string[];
  };
  renormalize: boolean;
  /** Classes with at least one image (the ones mean_per_class_recall averages over). */
  classes_with_images: number;
  per_class_accuracy: ClassResultRow[];
  /** rows: the true classes; columns: every candidate (classes, then distractors). */
  confusion_matrix: { rows: string[]; columns: string[]; counts: number[][] };
  /** Firing rate of the input of every spiking (accumulate) layer of the image encoder; null for the teacher. */
  firing_rates: FiringRate[] | null;
  /** Mean over those layers (unweighted). */
  mean_firing_rate: number | null;
  classifier: { cached: boolean; cache_file: string | null };
  seconds: number;
  images_per_second: number;
  provenance?: Record<string, unknown>;
}

export interface BuildResultInput {
  dataset: string;
  checkpoint: { path: string; hash: string; kind: 'student' | 'teacher' };
  timeSteps?: number;
  imageSize: number;
  studentResize?: string;
  backend?: { name: string; threads: number; simd: boolean };
  seed: number;
  split: string;
  splitSize: number;
  limit?: number;
  skippedImages: number;
  zeroEmbeddings: number;
  metrics: ClassificationMetrics;
  candidateNames: string[];
  templates: EvalResultJson['templates'];
  classnames: Omit<EvalResultJson['classnames'], 'names'>;
  renormalize: boolean;
  firingRates?: FiringRate[];
  classifier: { cached: boolean; file?: string };
  seconds: number;
  provenance?: Record<string, unknown>;
}

export function buildResult(i: BuildResultInput): EvalResultJson {
  const m = i.metrics;
  // CLIP_benchmark's key order: acc1, acc5, mean_per_class_recall (acc5 absent below 5 candidates)
  const metrics: EvalResultJson['metrics'] =
    m.acc5 !== undefined ? { acc1: m.acc1, acc5: m.acc5, mean_per_class_recall: m.meanPerClassRecall } : { acc1: m.acc1, mean_per_class_recall: m.meanPerClassRecall };
  const rates = i.firingRates ?? null;
  const out: EvalResultJson = {
    dataset: i.dataset,
    model: path.basename(i.checkpoint.path),
    pretrained: i.checkpoint.path,
    task: EVAL_TASK,
    metrics,
    language: 'en',
    checkpoint: i.checkpoint,
    model_kind: i.checkpoint.kind,
    time_steps: i.timeSteps ?? null,
    image_size: i.imageSize,
    ...(i.studentResize !== undefined ? { student_resize: i.studentResize } : {}),
    backend: i.backend ?? null,
    seed: i.seed,
    split: i.split,
    num_images: m.numImages,
    split_size: i.splitSize,
    limit: i.limit ?? null,
    skipped_images: i.skippedImages,
    zero_embeddings: i.zeroEmbeddings,
    num_classes: m.numClasses,
    num_candidates: m.numCandidates,
    templates: i.templates,
    classnames: { ...i.classnames, names: i.candidateNames },
    renormalize: i.renormalize,
    classes_with_images: m.classesWithImages,
    per_class_accuracy: m.perClass.map((c) => ({ index: c.index, name: c.name, images: c.support, correct: c.correct, accuracy: c.accuracy })),
    confusion_matrix: { rows: i.candidateNames.slice(0, m.numClasses), columns: i.candidateNames, counts: m.confusion },
    firing_rates: rates,
    mean_firing_rate: rates && rates.length > 0 ? rates.reduce((s, r) => s + r.rate, 0) / rates.length : null,
    classifier: { cached: i.classifier.cached, cache_file: i.classifier.file ?? null },
    seconds: i.seconds,
    images_per_second: i.seconds > 0 ? m.numImages / i.seconds : 0,
  };
  if (i.provenance) out.provenance = i.provenance;
  return out;
}

/** A dataset name as a file-name part: `cifar10`, `folder:/data/pets` -> `folder-pets`. */
export function datasetSlug(dataset: string): string {
  const colon = dataset.indexOf(':');
  const raw = colon < 0 ? dataset : `${dataset.slice(0, colon)}-${path.basename(path.resolve(dataset.slice(colon + 1)))}`;
  return raw.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/**
 * The placeholders of `--output` and `--plot`: CLIP_benchmark's (`{dataset}`, `{model}`,
 * `{pretrained}`, `{pretrained_full_path}`, `{task}`, `{language}`) and ours (`{checkpoint}`,
 * `{split}`). For a checkpoint directory, `{model}`, `{pretrained}` and `{checkpoint}` are its
 * name; `{pretrained_full_path}` is its absolute path with `/` as `_`, as CLIP_benchmark does.
 */
export const OUTPUT_PLACEHOLDERS = ['dataset', 'model', 'pretrained', 'pretrained_full_path', 'task', 'language', 'checkpoint', 'split'] as const;

/** Placeholders in `template` that are not in OUTPUT_PLACEHOLDERS (a typo would otherwise stay in the file name). */
export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(OUTPUT_PLACEHOLDERS);
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]).filter((n) => !known.has(n));
}

const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/** Fills the placeholders (OUTPUT_PLACEHOLDERS) of an output path. */
export function expandOutputTemplate(template: string, vars: { dataset: string; checkpoint: string; split: string }): string {
  const dir = path.resolve(vars.checkpoint);
  const name = fileSafe(path.basename(dir));
  const values: Record<(typeof OUTPUT_PLACEHOLDERS)[number], string> = {
    dataset: datasetSlug(vars.dataset),
    model: name,
    pretrained: name,
    pretrained_full_path: fileSafe(dir.replace(/[/\\]/g, '_')),
    task: EVAL_TASK,
    language: 'en',
    checkpoint: name,
    split: fileSafe(vars.split),
  };
  return template.replace(/\{([a-z_]+)\}/g, (m, key: string) => (key in values ? values[key as keyof typeof values] : m));
}

/** Writes a result file atomically (creating its folder). */
export async function writeResultFile(file: string, result: EvalResultJson): Promise<void> {
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(result, null, 2)}\n`);
}

function pct(x: number | undefined): string {
  return x === undefined ? '-' : (100 * x).toFixed(2);
}

/** What one `eval` call did: the results, the files written, the datasets skipped. */
export interface EvalRun {
  results: EvalResultJson[];
  /** Per result (same order): where it was written and plotted. */
  files: { dataset: string; output?: string; plot?: string }[];
  /** Datasets not evaluated because their --output file existed (--skip-existing). */
  skipped: { dataset: string; output: string }[];
}

/** The human summary: one row per dataset, then the notes that matter. */
export function formatResults(run: EvalRun): string {
  const { results, skipped } = run;
  const lines: string[] = [];
  if (results.length > 0) {
    const r0 = results[0];
    const t = r0.time_steps !== null ? `, T=${r0.time_steps}` : '';
    lines.push(`checkpoint: ${r0.model_kind} ${r0.checkpoint.path} (${r0.checkpoint.hash.slice(0, 12)}${t})`);
    const head = ['dataset', 'split', 'images', 'classes', 'acc1 %', 'acc5 %', 'mean recall %'];
    const rows = results.map((r) => [
      r.dataset,
      r.split,
      String(r.num_images),
      r.num_candidates > r.num_classes ? `${r.num_classes}+${r.num_candidates - r.num_classes}` : String(r.num_classes),
      pct(r.metrics.acc1),
      pct(r.metrics.acc5),
      pct(r.metrics.mean_per_class_recall),
    ]);
    const w = head.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j].length)));
    const fmt = (row: string[]): string => row.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ');
    lines.push('');
    lines.push(fmt(head));
    for (const row of rows) lines.push(fmt(row));
    results.forEach((r, k) => {
      const notes: string[] = [];
      if (r.mean_firing_rate !== null && r.firing_rates) notes.push(`mean firing rate ${r.mean_firing_rate.toFixed(4)} over ${r.firing_rates.length} spiking layers`);
      if (r.classnames.mode !== 'dataset') {
        const parts = [`class names from ${r.classnames.source}`];
        if (r.classnames.replaced.length > 0) parts.push(`${r.classnames.replaced.length} replaced`);
        if (r.classnames.distractors.length > 0) parts.push(`${r.classnames.distractors.length} distractors`);
        notes.push(parts.join(', '));
      }
      if (r.limit !== null) notes.push(`a seeded random ${r.num_images} of ${r.split_size} images`);
      if (r.zero_embeddings > 0) notes.push(`${r.zero_embeddings} image(s) had all-zero embeddings`);
      if (r.skipped_images > 0) notes.push(`${r.skipped_images} undecodable image(s) skipped`);
      const f = run.files[k];
      if (f?.output) notes.push(`written to ${f.output}`);
      if (f?.plot) notes.push(`confusion matrix in ${f.plot}`);
      if (notes.length > 0) lines.push(`  ${r.dataset}: ${notes.join('; ')}`);
    });
  }
  for (const s of skipped) lines.push(`skipped ${s.dataset}: ${s.output} exists (--skip-existing)`);
  return lines.join('\n');
}
