/**
 * The summary of a `spikeclip demo` run: accuracy per model, the zero-shot result on the held-out
 * colour-shape combinations against chance, energy against the ANN twin, wall time per stage,
 * where every file is, and the commands that do the same on CIFAR-10 with a real CLIP teacher.
 */
import type { EvalResultJson } from '../eval/results';
import { formatDuration } from '../io/duration';
import type { DemoStage } from './plan';

export interface HeldOutAccuracy {
  /** The held-out class names (never in train or val). */
  classes: string[];
  images: number;
  correct: number;
  /** correct / images over the held-out classes' test images (ranked among every candidate). */
  accuracy: number | null;
  /** 1 / candidates: a uniform guess among all classes. */
  chance: number;
  /** accuracy - chance. */
  gapToChance: number | null;
}

export interface ModelAccuracy {
  model: 'teacher' | 'student-aligned' | 'student-finetuned';
  checkpoint: string;
  /** top-1 on the evaluated test images (every class). */
  top1: number;
  top5: number | null;
  /** top-1 on the test images of the classes seen in training. */
  seenTop1: number | null;
  heldOut: HeldOutAccuracy;
  meanFiringRate: number | null;
  images: number;
  result: string;
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
  dataset: 'shapes';
  quick: boolean;
  seed: number;
  teacher: { source: 'trained' | 'given'; checkpoint: string };
  stages: StageRecord[];
  accuracy: ModelAccuracy[];
  /** The fine-tuned student's held-out (zero-shot) result: the headline number. */
  zeroShot: HeldOutAccuracy;
  energy: DemoEnergy;
  files: Record<string, string>;
  totalSeconds: number;
  /** The same pipeline on CIFAR-10 with a converted CLIP teacher. */
  nextSteps: string[];
}

/** Held-out accuracy from an eval result's per-class rows. */
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
  return { classes: [...heldOut], images, correct, accuracy, chance, gapToChance: accuracy === null ? null : accuracy - chance };
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

export function modelAccuracy(model: ModelAccuracy['model'], r: EvalResultJson, heldOut: readonly string[], resultFile: string): ModelAccuracy {
  return {
    model,
    checkpoint: r.checkpoint.path,
    top1: r.metrics.acc1,
    top5: r.metrics.acc5 ?? null,
    seenTop1: seenAccuracy(r, heldOut),
    heldOut: heldOutAccuracy(r, heldOut),
    meanFiringRate: r.mean_firing_rate,
    images: r.num_images,
    result: resultFile,
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
  lines.push(`spikeclip demo on shapes${s.quick ? ' (--quick)' : ''}: done in ${formatDuration(s.totalSeconds)}, run folder ${s.out}`);
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
  lines.push(`accuracy on the shapes test split (${s.accuracy[0]?.images ?? 0} images, ${s.zeroShot.classes.length} of the classes held out of training; chance ${pct(s.zeroShot.chance)}):`);
  lines.push(`  ${'model'.padEnd(28)} ${'top-1'.padStart(7)} ${'seen'.padStart(7)} ${'held-out'.padStart(9)}  firing rate`);
  for (const a of s.accuracy) {
    lines.push(`  ${LABELS[a.model].padEnd(28)} ${pct(a.top1).padStart(7)} ${pct(a.seenTop1).padStart(7)} ${pct(a.heldOut.accuracy).padStart(9)}  ${a.meanFiringRate === null ? '-' : a.meanFiringRate.toFixed(3)}`);
  }
  const z = s.zeroShot;
  lines.push(`zero-shot on the held-out combinations (${z.classes.join(', ')}): ${pct(z.accuracy)} vs chance ${pct(z.chance)} (${pts(z.gapToChance)}), ${z.correct}/${z.images} images`);
  lines.push('');
  const e = s.energy;
  lines.push(
    `energy per image (image encoder, ${e.images} test images): ${e.imageMj.toPrecision(3)} mJ spiking vs ${e.annImageMj.toPrecision(3)} mJ for the ANN twin` +
      `${e.ratio === null ? '' : ` (${e.ratio.toFixed(1)}x less)`}, mean firing rate ${e.meanFiringRate === null ? 'n/a' : e.meanFiringRate.toFixed(3)}`,
  );
  lines.push('');
  lines.push('files:');
  for (const [k, v] of Object.entries(s.files)) lines.push(`  ${k.padEnd(18)} ${v}`);
  lines.push('');
  lines.push('the same on CIFAR-10 with a real CLIP teacher (docs/demo.md):');
  for (const c of s.nextSteps) lines.push(`  ${c}`);
  return lines.join('\n');
}
