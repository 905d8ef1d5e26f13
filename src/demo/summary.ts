/**
 * The summary of a `spikeclip demo` run: accuracy per model, the zero-shot result on the held-out
 * colour-shape combinations against chance, energy against the ANN twin, wall time per stage,
 * where every file is, and the commands that do the same on CIFAR-10 with a real CLIP teacher.
 */
import type { EvalResultJson } from '../eval/results';
import { formatDuration } from '../io/duration';
import type { DemoDataset, DemoStage } from './plan';

export interface HeldOutAccuracy {
  /** The held-out class names (never in train or val). */
  classes: string[];
  /**
   * 'held-out': the held-out images classified among the held-out names only (the standard
   * zero-shot protocol); 'all': ranked among every class name, seen ones included (generalised
   * zero-shot, much harder: training pulls images towards the seen names).
   */
  among: 'held-out' | 'all';
  /** How many names the images were ranked among. */
  candidates: number;
  images: number;
  correct: number;
  /** correct / images over the held-out classes' test images. */
  accuracy: number | null;
  /** 1 / candidates: a uniform guess. */
  chance: number;
  /** accuracy - chance. */
  gapToChance: number | null;
  /**
   * Among all names only: the expected accuracy of a model that gets the colour right and guesses
   * the shape (1 / shapes). Colour alone can reach it, so only a score above it shows shape.
   */
  colourOnly?: number;
}

export interface ModelAccuracy {
  model: 'teacher' | 'student-aligned' | 'student-finetuned';
  checkpoint: string;
  /** top-1 on the evaluated test images (every class). */
  top1: number;
  top5: number | null;
  /** top-1 on the test images of the classes seen in training. */
  seenTop1: number | null;
  /** Zero-shot: the held-out images among the held-out names (result file `heldOutResult`). */
  heldOut: HeldOutAccuracy;
  /** Generalised zero-shot: the held-out images among all names. */
  heldOutAmongAll: HeldOutAccuracy;
  /** Harmonic mean of seenTop1 and heldOutAmongAll.accuracy (the usual generalised zero-shot summary). */
  harmonicMean: number | null;
  meanFiringRate: number | null;
  images: number;
  result: string;
  heldOutResult: string;
}

export interface StageRecord {
  stage: DemoStage;
  /** ran, or skipped (the teacher with --teacher). */
  status: 'ran' | 'skipped';
  seconds: number;
  folder?: string;
  checkpoint?: string;
  /** The stage's own numbers (loss, validation metric, epochs, steps). */
  metrics: Record<string, unknown>;
  note?: string;
}

export interface DemoEnergy {
  report: string;
  chart: string;
  text: string;
  /** Image encoder: energy per image of the spiking student and of its ANN twin, in millijoules. */
  imageMj: number;
  annImageMj: number;
  /** ANN / SNN (how many times less the student spends per image); null when it spends nothing. */
  ratio: number | null;
  /** Effective firing rate of the image encoder's AC layers. */
  meanFiringRate: number | null;
  images: number;
}

export interface DemoSummary {
  out: string;
  dataset: DemoDataset;
  quick: boolean;
  seed: number;
  teacher: { source: 'trained' | 'given'; checkpoint: string };
  stages: StageRecord[];
  accuracy: ModelAccuracy[];
  /** The fine-tuned student's zero-shot result among the held-out names: the headline number. */
  zeroShot: HeldOutAccuracy;
  /** The fine-tuned student's held-out result among all names. */
  zeroShotAmongAll: HeldOutAccuracy;
  energy: DemoEnergy;
  files: Record<string, string>;
  totalSeconds: number;
  /** The same pipeline on CIFAR-10 with a converted CLIP teacher. */
  nextSteps: string[];
}

/**
 * Held-out accuracy from an eval result's per-class rows: of an evaluation among every class
 * (among 'all') or of one among the held-out classes alone (`eval --classes`, among 'held-out').
 */
export function heldOutAccuracy(r: EvalResultJson, heldOut: readonly string[]): HeldOutAccuracy {
  const held = new Set(heldOut);
  let images = 0;
  let correct = 0;
  for (const row of r.per_class_accuracy) {
    if (!held.has(row.name)) continue;
    images += row.images;
    correct += row.correct;
  }
  const chance = 1 / r.num_candidates;
  const accuracy = images > 0 ? correct / images : null;
  const among = r.num_candidates === heldOut.length && r.classnames.names.every((n) => held.has(n)) ? 'held-out' : 'all';
  return { classes: [...heldOut], among, candidates: r.num_candidates, images, correct, accuracy, chance, gapToChance: accuracy === null ? null : accuracy - chance };
}

/** top-1 over the classes that are not held out. */
export function seenAccuracy(r: EvalResultJson, heldOut: readonly string[]): number | null {
  const held = new Set(heldOut);
  let images = 0;
  let correct = 0;
  for (const row of r.per_class_accuracy) {
    if (held.has(row.name)) continue;
    images += row.images;
    correct += row.correct;
  }
  return images > 0 ? correct / images : null;
}

/**
 * One model's numbers from its two evaluations: `all` among every class, `held` among the
 * held-out classes alone.
 */
export function modelAccuracy(model: ModelAccuracy['model'], all: EvalResultJson, held: EvalResultJson, heldOut: readonly string[], files: { result: string; heldOutResult: string }, shapes?: number): ModelAccuracy {
  const seenTop1 = seenAccuracy(all, heldOut);
  const amongAll: HeldOutAccuracy = { ...heldOutAccuracy(all, heldOut), ...(shapes !== undefined ? { colourOnly: 1 / shapes } : {}) };
  const u = amongAll.accuracy;
  return {
    model,
    checkpoint: all.checkpoint.path,
    top1: all.metrics.acc1,
    top5: all.metrics.acc5 ?? null,
    seenTop1,
    heldOut: heldOutAccuracy(held, heldOut),
    heldOutAmongAll: amongAll,
    harmonicMean: seenTop1 === null || u === null ? null : seenTop1 + u > 0 ? (2 * seenTop1 * u) / (seenTop1 + u) : 0,
    meanFiringRate: all.mean_firing_rate,
    images: all.num_images,
    ...files,
  };
}

/** The commands that run the same pipeline on CIFAR-10 with a real CLIP teacher. */
export function cifar10Commands(): string[] {
  return [
    'spikeclip convert teacher --from ~/models/clip-vit-base-patch16 --out ckpt/clip-b16',
    'spikeclip data download --dataset cifar10 --data-dir ~/data',
    'spikeclip pretrain --part text --teacher ckpt/clip-b16 --dataset cifar10 --dataset cifar100 --out runs/c10-text',
    'spikeclip pretrain --part image --teacher ckpt/clip-b16 --checkpoint runs/c10-text/checkpoints/latest --dataset cifar10 --data-dir ~/data --out runs/c10-image',
    'spikeclip finetune --checkpoint runs/c10-image/checkpoints/best --teacher ckpt/clip-b16 --dataset cifar10 --data-dir ~/data --out runs/c10-ft',
    'spikeclip eval --checkpoint runs/c10-ft/checkpoints/best --dataset cifar10 --data-dir ~/data',
    'spikeclip energy report --checkpoint runs/c10-ft/checkpoints/best --dataset cifar10 --data-dir ~/data --plot runs/c10-ft/energy.svg',
  ];
}

const pct = (v: number | null | undefined): string => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : 'n/a');
const pts = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} points`);

const LABELS: Record<ModelAccuracy['model'], string> = {
  teacher: 'ANN CLIP teacher',
  'student-aligned': 'spiking student, aligned',
  'student-finetuned': 'spiking student, fine-tuned',
};

/** The human summary (stdout). */
export function formatDemoSummary(s: DemoSummary): string {
  const lines: string[] = [];
  lines.push(`spikeclip demo on ${s.dataset}${s.quick ? ' (--quick)' : ''}: done in ${formatDuration(s.totalSeconds)}, run folder ${s.out}`);
  lines.push('');
  lines.push('stages:');
  for (const st of s.stages) {
    const m = Object.entries(st.metrics)
      .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
      .map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v)}`)
      .join(', ');
    lines.push(`  ${st.stage.padEnd(12)} ${st.status === 'skipped' ? 'skipped'.padStart(7) : formatDuration(st.seconds).padStart(7)}  ${st.note ?? m}`);
  }
  lines.push('');
  const z = s.zeroShot;
  const g = s.zeroShotAmongAll;
  lines.push(`accuracy on the ${s.dataset} test split (${s.accuracy[0]?.images ?? 0} images; ${z.classes.length} of the ${g.candidates} classes held out of training):`);
  const head = ['model', 'top-1', 'seen', `held-out/${z.candidates}`, `held-out/${g.candidates}`, 'H', 'firing rate'];
  lines.push(`  ${head[0].padEnd(28)} ${head.slice(1, 6).map((h) => h.padStart(11)).join(' ')}  ${head[6]}`);
  for (const a of s.accuracy) {
    const cells = [a.top1, a.seenTop1, a.heldOut.accuracy, a.heldOutAmongAll.accuracy, a.harmonicMean].map((v) => pct(v).padStart(11));
    lines.push(`  ${LABELS[a.model].padEnd(28)} ${cells.join(' ')}  ${a.meanFiringRate === null ? '-' : a.meanFiringRate.toFixed(3)}`);
  }
  lines.push(`zero-shot on the held-out combinations (${z.classes.join(', ')}), never seen in training:`);
  lines.push(`  among their ${z.candidates} names: ${pct(z.accuracy)} vs chance ${pct(z.chance)} (${pts(z.gapToChance)}), ${z.correct}/${z.images} images`);
  lines.push(`  among all ${g.candidates} names:  ${pct(g.accuracy)} vs chance ${pct(g.chance)} (${pts(g.gapToChance)})${g.colourOnly !== undefined ? ` and ${pct(g.colourOnly)} for the right colour with a guessed shape` : ''}, ${g.correct}/${g.images} images`);
  lines.push('  (each held-out combination has a colour of its own, so colour alone can answer among their names; among all names only a score above the right-colour-guessed-shape line shows shape; H: harmonic mean of seen and held-out-among-all)');
  lines.push('');
  const e = s.energy;
  lines.push(
    `energy per image (image encoder, ${e.images} test images): ${e.imageMj.toPrecision(3)} mJ spiking vs ${e.annImageMj.toPrecision(3)} mJ for the ANN twin` +
      `${e.ratio === null ? '' : ` (${e.ratio.toFixed(1)}x less)`}, mean firing rate ${e.meanFiringRate === null ? 'n/a' : e.meanFiringRate.toFixed(3)}`,
  );
  lines.push('');
  lines.push('files:');
  const keyWidth = Math.max(...Object.keys(s.files).map((k) => k.length));
  for (const [k, v] of Object.entries(s.files)) lines.push(`  ${k.padEnd(keyWidth)}  ${v}`);
  lines.push('');
  lines.push('the same on CIFAR-10 with a real CLIP teacher (docs/demo.md):');
  for (const c of s.nextSteps) lines.push(`  ${c}`);
  return lines.join('\n');
}
