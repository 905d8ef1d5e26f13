/**
 * The `demo` service: the whole SpikeCLIP pipeline on a built-in shapes set (shapes-simple by
 * default, or shapes), each stage a real
 * call of the service its command uses, into one run folder (docs/demo.md):
 *
 *   1. teacher      pretrain --part clip --target teacher --preset clip-tiny (skipped with --teacher)
 *   2. align-text   pretrain --part text  (spikeclip-tiny sized to the teacher)
 *   3. align-image  pretrain --part image --checkpoint <align-text>
 *   4. finetune     finetune (CE + KL against the teacher) on the shapes classes
 *   5. eval         eval of the teacher, the aligned and the fine-tuned student on the test split:
 *                   among all classes (seen and held-out accuracy from the per-class rows), then
 *                   `--classes` the held-out combinations (the standard zero-shot protocol)
 *   6. energy       energy report of the fine-tuned student on test images, with its SVG chart
 *
 * `prepareDemo` checks the run folder and a given teacher (nothing is written); `executeDemo`
 * runs the stages in order, each stage's own prepare step checking its inputs just before it runs.
 */
import * as fs from 'fs';
import { EXIT, UserError } from '../errors';
import * as path from 'path';
import { writeEnergyChart } from '../energy/chart';
import { energyConstants } from '../energy/model';
import { renderEnergyText } from '../energy/render';
import { runEnergyReport } from '../energy/report';
import { executeEval, prepareEval } from '../eval/run';
import type { EvalResultJson } from '../eval/results';
import { readCheckpointConfig } from '../io/checkpoint';
import { writeFileAtomic } from '../io/atomic';
import { shapesLayout } from '../data/shapes';
import type { ProgressInfo } from '../train/loop';
import { executeFinetune, prepareFinetune, type FinetuneResult } from '../train/finetune';
import { executePretrain, preparePretrain, type PretrainResult } from '../train/pretrain';
import { TrainError } from '../train/errors';
import { DEMO_BUDGET, DEMO_QUICK_BUDGET, defaultDemoOut, demoLayout, DEMO_DATASETS, type DemoBudget, type DemoDataset, type DemoLayout, type DemoStage, type TrainBudget } from './plan';
import { cifar10Commands, modelAccuracy, type DemoSummary, type ModelAccuracy, type StageRecord } from './summary';

export class DemoError extends UserError {
  constructor(message: string, code: string, fix: string) {
    super(message, { code, fix, exitCode: EXIT.usage });
    this.name = 'DemoError';
  }
}

export interface DemoOptions {
  /** Run folder (default runs/demo-<date>, or -2, -3, ... when that one is taken). */
  out?: string;
  /** A teacher checkpoint to use instead of training one (stage 1 is skipped). */
  teacher?: string;
  /** The smaller budget (tests). */
  quick?: boolean;
  /** Which built-in set (default shapes-simple). */
  dataset?: DemoDataset;
  seed?: number;
  /** Overrides of the budget (tests, experiments). */
  budget?: Partial<DemoBudget>;
  /** Cache root (teacher features, class matrices); default SPIKECLIP_CACHE or ~/.cache/spikeclip. */
  cacheDir?: string;
  backend?: { name: string; threads: number; simd: boolean };
  /** Provenance recorded in every stage's params.json. */
  provenance?: Record<string, unknown>;
  commandLine?: string[];
  stopRequested?: () => boolean;
  /** A stage starts (its number, the count, what it does). */
  onStage?: (stage: DemoStage, index: number, count: number, what: string) => void;
  onProgress?: (p: ProgressInfo) => void;
  onStatus?: (text: string) => void;
  onLog?: (line: string) => void;
  onWarning?: (message: string) => void;
}

export interface PreparedDemo {
  o: DemoOptions;
  layout: DemoLayout;
  budget: DemoBudget;
  /** Absolute path of a given teacher. */
  teacher?: string;
}

/** The demo stopped on Ctrl-C in `stage`; what finished is in the run folder. */
export interface DemoInterrupted {
  stopped: 'interrupted';
  stage: DemoStage;
  out: string;
}

function nonEmptyDir(dir: string): boolean {
  return fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0);
}

/** The default run folder, made unique with -2, -3, ... */
function freeDefaultOut(): string {
  const base = defaultDemoOut();
  if (!nonEmptyDir(base)) return base;
  for (let i = 2; ; i++) if (!nonEmptyDir(`${base}-${i}`)) return `${base}-${i}`;
}

export async function prepareDemo(o: DemoOptions): Promise<PreparedDemo> {
  const out = o.out ?? freeDefaultOut();
  if (o.out !== undefined && nonEmptyDir(out)) {
    throw new DemoError(`--out ${out} already exists and is not empty; nothing was overwritten`, 'E_OUT_EXISTS', 'give --out a new folder (or leave it out: runs/demo-<date> is used)');
  }
  let teacher: string | undefined;
  if (o.teacher !== undefined) {
    const cc = await readCheckpointConfig(o.teacher);
    if (cc.kind !== 'teacher') throw new DemoError(`--teacher ${o.teacher} is a ${String(cc.kind)} checkpoint, not a teacher`, 'E_TEACHER', 'give a teacher checkpoint (from `spikeclip convert teacher` or `spikeclip pretrain --part clip --target teacher`)');
    teacher = path.resolve(o.teacher);
  }
  const base = o.quick ? DEMO_QUICK_BUDGET : DEMO_BUDGET;
  return { o, layout: demoLayout(path.resolve(out)), budget: { ...base, ...o.budget }, teacher };
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

function trainOptions(b: TrainBudget) {
  return { epochs: b.epochs, batchSize: b.batchSize, lr: b.lr, lrMin: b.lrMin, warmupSteps: b.warmupSteps, maxSteps: b.maxSteps, tMax: b.epochs };
}

function lastMetrics(last: Record<string, unknown> | undefined, extra: Record<string, unknown>): Record<string, unknown> {
  const m: Record<string, unknown> = { ...extra };
  for (const [k, v] of Object.entries(last ?? {})) if (k === 'loss' || k.startsWith('val_')) m[k] = v;
  return m;
}

function pretrainCheckpoint(r: PretrainResult): string {
  const c = r.best ?? r.checkpoint;
  if (c === undefined) throw new TrainError(`pretrain in ${r.out} saved no checkpoint`, 'E_DEMO', 'rerun the demo with --debug and report it');
  return c;
}

export async function executeDemo(p: PreparedDemo): Promise<DemoSummary | DemoInterrupted> {
  const o = p.o;
  const L = p.layout;
  const b = p.budget;
  const seed = o.seed ?? 0;
  const dataset: DemoDataset = o.dataset ?? DEMO_DATASETS[0];
  fs.mkdirSync(L.root, { recursive: true });
  const t0 = now();
  const stages: StageRecord[] = [];
  const count = 6;
  let index = 0;
  const hooks = { stopRequested: o.stopRequested, onProgress: o.onProgress, onStatus: o.onStatus, onLog: o.onLog, onWarning: o.onWarning, provenance: o.provenance, seed };
  const cache = o.cacheDir !== undefined ? { cacheDir: o.cacheDir } : {};
  const begin = (stage: DemoStage, what: string): number => {
    index++;
    o.onStage?.(stage, index, count, what);
    return now();
  };

  // 1. the teacher
  let teacher = p.teacher;
  if (teacher !== undefined) {
    begin('teacher', `using the teacher ${teacher}`);
    stages.push({ stage: 'teacher', status: 'skipped', seconds: 0, checkpoint: teacher, metrics: {}, note: `--teacher ${teacher}` });
  } else {
    const s = begin('teacher', 'training a small ANN CLIP teacher (clip-tiny) contrastively on the shapes captions');
    const prep = await preparePretrain({ part: 'clip', target: 'teacher', preset: 'clip-tiny', datasets: [dataset], out: L.teacher, ...trainOptions(b.teacher), textLrScale: b.teacher.textLrScale, ...hooks, ...cache, keep: 1 });
    const r = await executePretrain(prep);
    if (r.stopped === 'interrupted') return { stopped: 'interrupted', stage: 'teacher', out: L.root };
    teacher = pretrainCheckpoint(r);
    const ph = r.phases[0];
    stages.push({ stage: 'teacher', status: 'ran', seconds: now() - s, folder: L.teacher, checkpoint: teacher, metrics: lastMetrics(ph?.lastEpoch, { epochs: ph?.epochs, steps: ph?.steps }) });
  }

  // 2. the spiking text encoder, aligned to the teacher's text tower
  {
    const s = begin('align-text', 'aligning the spiking text encoder (spikeclip-tiny) to the teacher');
    const prep = await preparePretrain({ part: 'text', teacher, preset: 'spikeclip-tiny', datasets: [dataset], out: L.alignText, ...trainOptions(b.text), ...hooks, ...cache, saveEvery: b.text.epochs, evalEvery: 0, logEvery: 0, keep: 1 });
    const r = await executePretrain(prep);
    if (r.stopped === 'interrupted') return { stopped: 'interrupted', stage: 'align-text', out: L.root };
    const ph = r.phases[0];
    stages.push({ stage: 'align-text', status: 'ran', seconds: now() - s, folder: L.alignText, checkpoint: pretrainCheckpoint(r), metrics: lastMetrics(ph?.lastEpoch, { epochs: ph?.epochs, steps: ph?.steps }) });
  }

  // 3. the spiking image encoder, from the aligned text encoder
  let aligned: string;
  {
    const s = begin('align-image', 'aligning the spiking image encoder to the teacher\'s image features');
    const init = stages[stages.length - 1].checkpoint as string;
    const prep = await preparePretrain({ part: 'image', teacher, init, datasets: [dataset], out: L.alignImage, ...trainOptions(b.image), ...hooks, ...cache, keep: 1 });
    const r = await executePretrain(prep);
    if (r.stopped === 'interrupted') return { stopped: 'interrupted', stage: 'align-image', out: L.root };
    aligned = pretrainCheckpoint(r);
    const ph = r.phases[0];
    stages.push({ stage: 'align-image', status: 'ran', seconds: now() - s, folder: L.alignImage, checkpoint: aligned, metrics: lastMetrics(ph?.lastEpoch, { epochs: ph?.epochs, steps: ph?.steps }) });
  }

  // 4. dual-loss fine-tuning on the shapes classes
  let finetuned: string;
  {
    const s = begin('finetune', 'dual-loss (CE + KL) fine-tuning of the spiking image encoder on the shapes classes');
    const prep = await prepareFinetune({ checkpoint: aligned, teacher, dataset, loss: 'dual', out: L.finetune, ...trainOptions(b.finetune), ...hooks, ...cache, keep: 1 });
    const r: FinetuneResult = await executeFinetune(prep);
    if (r.stopped === 'interrupted') return { stopped: 'interrupted', stage: 'finetune', out: L.root };
    const c = r.best ?? r.checkpoint;
    if (c === undefined) throw new TrainError(`finetune in ${r.out} saved no checkpoint`, 'E_DEMO', 'rerun the demo with --debug and report it');
    finetuned = c;
    stages.push({ stage: 'finetune', status: 'ran', seconds: now() - s, folder: L.finetune, checkpoint: finetuned, metrics: lastMetrics(r.lastEpoch, { epochs: r.epochs, steps: r.steps }) });
  }

  // 5. evaluation: teacher, aligned student, fine-tuned student; held-out classes from the split
  // both sets have the default layout: its held-out classes and its number of shapes
  const layout = shapesLayout();
  const heldOut = layout.heldOutLabels.map((l) => layout.classNames[l]);
  const shapeKinds = layout.kinds.length;
  const accuracy: ModelAccuracy[] = [];
  {
    const s = begin('eval', 'evaluating the teacher and the student before and after fine-tuning on the shapes test split');
    const runs: Array<[ModelAccuracy['model'], string]> = [
      ['teacher', teacher],
      ['student-aligned', aligned],
      ['student-finetuned', finetuned],
    ];
    fs.mkdirSync(L.eval, { recursive: true });
    const evaluate = async (checkpoint: string, output: string, plot: string, extra: { limit?: number; classes?: string[] }): Promise<EvalResultJson> => {
      const prep = await prepareEval({ checkpoint, datasets: [dataset], split: 'test', seed, output, plot, ...extra, ...cache, onProgress: o.onStatus, onNote: o.onLog, onWarning: o.onWarning });
      const run = await executeEval(prep, { backend: o.backend, provenance: o.provenance });
      const result: EvalResultJson | undefined = run.results[0];
      if (result === undefined) throw new TrainError(`eval of ${checkpoint} gave no result`, 'E_DEMO', 'rerun the demo with --debug and report it');
      return result;
    };
    for (const [model, checkpoint] of runs) {
      // among every class (the held-out ones included), then among the held-out classes alone
      const result = path.join(L.eval, `${model}.json`);
      const heldOutResult = path.join(L.eval, `${model}-held-out.json`);
      const all = await evaluate(checkpoint, result, path.join(L.eval, `${model}-confusion.svg`), { limit: b.evalLimit });
      const held = await evaluate(checkpoint, heldOutResult, path.join(L.eval, `${model}-held-out-confusion.svg`), { classes: heldOut });
      accuracy.push(modelAccuracy(model, all, held, heldOut, { result, heldOutResult }, shapeKinds));
    }
    const metrics: Record<string, unknown> = {};
    for (const a of accuracy) metrics[`${a.model} top1`] = a.top1;
    stages.push({ stage: 'eval', status: 'ran', seconds: now() - s, folder: L.eval, metrics });
  }

  // 6. energy of the fine-tuned student against its ANN twin
  const energyFiles = { report: path.join(L.energy, 'report.json'), chart: path.join(L.energy, 'chart.svg'), text: path.join(L.energy, 'report.txt') };
  let energy: DemoSummary['energy'];
  {
    const s = begin('energy', 'energy report of the fine-tuned student against its ANN twin');
    const report = await runEnergyReport({
      model: { kind: 'checkpoint', dir: finetuned },
      energy: energyConstants('fp32'),
      inputs: { kind: 'dataset', dataset, split: 'test', samples: b.energySamples, seed },
      backend: o.backend,
      commandLine: ['spikeclip', 'energy', 'report', '--checkpoint', finetuned, '--dataset', dataset, '--samples', String(b.energySamples), '--plot', energyFiles.chart],
      onNote: o.onLog,
      onProgress: (q) => o.onStatus?.(`${q.encoder} encoder: ${q.done}${q.total !== null ? `/${q.total}` : ''}`),
    });
    fs.mkdirSync(L.energy, { recursive: true });
    await writeFileAtomic(energyFiles.report, `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(energyFiles.text, `${renderEnergyText(report)}\n`);
    await writeEnergyChart(report, energyFiles.chart);
    const img = report.encoders.find((e) => e.encoder === 'image');
    if (img === undefined) throw new TrainError('the energy report has no image encoder', 'E_DEMO', 'rerun the demo with --debug and report it');
    energy = { ...energyFiles, imageMj: img.energyMj, annImageMj: img.ann.energyMj, ratio: img.ratio, meanFiringRate: img.meanFiringRate, images: report.inputs.images };
    stages.push({ stage: 'energy', status: 'ran', seconds: now() - s, folder: L.energy, metrics: { image_mJ: img.energyMj, ann_image_mJ: img.ann.energyMj, mean_firing_rate: img.meanFiringRate ?? 'n/a' } });
  }

  const files: Record<string, string> = {
    summary: L.summary,
    teacher: teacher,
    'aligned student': aligned,
    'fine-tuned student': finetuned,
  };
  for (const a of accuracy) {
    files[`eval ${a.model}`] = a.result;
    files[`eval ${a.model} held-out`] = a.heldOutResult;
  }
  files['energy report'] = energy.report;
  files['energy chart'] = energy.chart;
  files['energy text'] = energy.text;
  const fine = accuracy[accuracy.length - 1];
  const summary: DemoSummary = {
    out: L.root,
    dataset,
    quick: o.quick ?? false,
    seed,
    teacher: { source: p.teacher !== undefined ? 'given' : 'trained', checkpoint: teacher },
    stages,
    accuracy,
    zeroShot: fine.heldOut,
    zeroShotAmongAll: fine.heldOutAmongAll,
    energy,
    files,
    totalSeconds: now() - t0,
    nextSteps: cifar10Commands(),
  };
  await writeFileAtomic(L.summary, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
