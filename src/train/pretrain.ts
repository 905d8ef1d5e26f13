/**
 * The `pretrain` service: alignment pre-training of the spiking text and/or image encoder against a
 * frozen CLIP teacher, or contrastive training from scratch (docs/method.md §6; docs/training.md).
 *
 * `preparePretrain` checks everything that needs no TF.js (flags, the run folder, the teacher's and
 * the init checkpoint's configs, the datasets and the corpus), so a mistake costs one quick line
 * and nothing is written; `executePretrain` then loads the models and runs the loop.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { defaultCacheDir } from '../data/cache';
import { DataLoader } from '../data/loader';
import { openDataset } from '../data/registry';
import { concatSplits, type FingerprintedSplit } from '../data/splits';
import { permutation, rngOf } from '../data/rng';
import type { DatasetSplit } from '../data/types';
import { type Encoder, loadEncoder, studentEncoder } from '../encoders/encoder';
import { defaultTemplates } from '../eval/label-files';
import { checkpointHash, readCheckpointConfig } from '../io/checkpoint';
import { PRESET_NAMES, type SpikeClipConfig } from '../models/config';
import type { ClipConfig } from '../models/clip-config';
import { CLIP_PRESET_NAMES } from '../models/clip-presets';
import { SpikeClip } from '../models/spikeclip';
import { checkStudentCheckpoint, loadStudentCheckpoint, saveStudentCheckpoint } from '../student/checkpoint';
import { CLASSES_BY_DATASET } from '../text/classnames';
import { TrainError, trainUsage } from './errors';
import { teacherImageFeatures } from './feature-cache';
import { initialLoopState, runLoop, type LoopOptions, type LoopResult, type LoopState, type TrainTask } from './loop';
import { Adam } from './optimizer';
import { checkRunOptions, type TrainRunOptions } from './run-options';
import { restoreTrainingState, trainingInfo } from './resume';
import { checkResumeParams, resolveResume, RunDir, RUN_FILES, type RunParamsFile } from './run-dir';
import { checkStudentFitsTeacher, readTeacherConfig, copyTeacherEmbeddings, firingTextInit, studentConfigFor } from './student-setup';
import { ImageAlignTask } from './tasks/align-image';
import { TextAlignTask, type TextCorpus } from './tasks/align-text';
import { ContrastiveTask, type ContrastiveModel } from './tasks/contrastive';
import { fillTemplate } from '../text/templates';
import type { TensorData } from '../snn/module';

export const PRETRAIN_PARTS = ['text', 'image', 'both', 'clip'] as const;
export type PretrainPart = (typeof PRETRAIN_PARTS)[number];

/** The reference recipe per part (docs/method.md §6); `clip` is ours (no reference). */
export const PRETRAIN_DEFAULTS: Readonly<Record<'text' | 'image' | 'clip', { epochs: number; batchSize: number; lr: number; lrMin: number; tMax?: number; patience?: number }>> = {
  text: { epochs: 2000, batchSize: 1024, lr: 5e-3, lrMin: 5e-4, tMax: 2000, patience: 20 },
  image: { epochs: 50, batchSize: 196, lr: 5e-3, lrMin: 5e-4 },
  clip: { epochs: 20, batchSize: 128, lr: 1e-3, lrMin: 1e-5 },
};

export interface PretrainOptions extends TrainRunOptions {
  part: PretrainPart;
  /** For --part clip: train the spiking student (default) or a small ANN CLIP teacher. */
  target?: 'student' | 'teacher';
  teacher?: string;
  init?: string;
  preset?: string;
  datasets: string[];
  /** A file of prompts, one per line (text part). */
  prompts?: string;
  dataDir?: string;
  /** Text part: fraction of the prompts held out for validation (default 0: the reference trains on all). */
  valFraction?: number;
  /** --part clip: the text tower's learning rate as a fraction of --lr (default 1; 0 freezes it at its initialisation). */
  textLrScale?: number;
}

/** One phase of a run: the part it trains and its resolved recipe. */
interface Phase {
  part: 'text' | 'image' | 'clip';
  /** Sub-folder of the run (both: text/ and image/), or '' for the run folder itself. */
  sub: string;
  epochs: number;
  batchSize: number;
  lr: number;
  lrMin: number;
  tMax: number;
  patience?: number;
}

export interface PreparedPretrain {
  o: PretrainOptions;
  root: string;
  resuming: boolean;
  /** The checkpoint a resumed run continues from, and the phase it belongs to. */
  resumeDir?: string;
  startPhase: number;
  phases: Phase[];
  /** The resolved options recorded in params.json. */
  options: Record<string, unknown>;
  teacherConfig?: ClipConfig;
  /** The student's architecture when it is known before loading (init or resume). */
  initConfig?: SpikeClipConfig;
  prompts?: string[];
  imageDatasets: string[];
}

export interface PretrainResult {
  out: string;
  part: PretrainPart;
  target: 'student' | 'teacher';
  phases: { part: string; folder: string; stopped: LoopResult['stopped']; epochs: number; steps: number; lastEpoch?: Record<string, unknown>; latest?: string; best?: LoopState['best'] }[];
  /** The checkpoint to use next (the last phase's latest). */
  checkpoint?: string;
  best?: string;
  stopped: LoopResult['stopped'];
}

/** The prompts of the text corpus: templates x class names of each dataset, then the --prompts file. */
export async function textCorpus(o: Pick<PretrainOptions, 'datasets' | 'prompts' | 'dataDir' | 'seed'>): Promise<string[]> {
  const out: string[] = [];
  for (const d of o.datasets) {
    const base = d.split(':')[0].toLowerCase();
    let names = CLASSES_BY_DATASET[base] as readonly string[] | undefined;
    if (!names) {
      const split = await openDataset(d, { dataDir: o.dataDir, split: 'train', seed: o.seed ?? 0 });
      names = split.classNames;
    }
    if (names.length === 0) throw new TrainError(`--dataset ${d} has no class names to make prompts from`, 'E_CORPUS', 'give a labelled dataset, or --prompts FILE with one prompt per line');
    for (const t of defaultTemplates(d)) for (const c of names) out.push(fillTemplate(t, c));
  }
  if (o.prompts !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(o.prompts, 'utf8');
    } catch (e) {
      throw new TrainError(`--prompts ${o.prompts}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'E_CORPUS', 'give a text file with one prompt per line');
    }
    for (const line of text.split(/\r?\n/)) if (line.trim() !== '') out.push(line.trim());
  }
  // the same prompt twice would weigh twice: keep the first
  return [...new Set(out)];
}

function phasesOf(o: PretrainOptions): Phase[] {
  const parts: Phase['part'][] = o.part === 'both' ? ['text', 'image'] : [o.part];
  return parts.map((part) => {
    const d = PRETRAIN_DEFAULTS[part];
    const epochs = o.epochs ?? d.epochs;
    return {
      part,
      sub: o.part === 'both' ? part : '',
      epochs,
      batchSize: o.batchSize ?? d.batchSize,
      lr: o.lr ?? d.lr,
      lrMin: o.lrMin ?? d.lrMin,
      tMax: o.tMax ?? d.tMax ?? epochs,
      patience: o.patience ?? d.patience,
    };
  });
}

/** All checks that need no TF.js: flags, files, run folder, teacher and init configs, datasets. */
export async function preparePretrain(o: PretrainOptions): Promise<PreparedPretrain> {
  if (!PRETRAIN_PARTS.includes(o.part)) throw trainUsage(`--part ${String(o.part)} is not one of ${PRETRAIN_PARTS.join(', ')}`, 'choose --part text, image, both or clip');
  const target = o.target ?? 'student';
  if (target === 'teacher' && o.part !== 'clip') throw trainUsage('--target teacher goes with --part clip', 'train a teacher with --part clip --target teacher; alignment parts always train the student');
  checkRunOptions(o);
  if (o.textLrScale !== undefined) {
    if (o.part !== 'clip') throw trainUsage('--text-lr-scale goes with --part clip', 'drop --text-lr-scale (alignment parts train one encoder at a time)');
    if (!(o.textLrScale >= 0) || !Number.isFinite(o.textLrScale)) throw trainUsage(`--text-lr-scale must be a number >= 0, got ${o.textLrScale}`, 'give e.g. --text-lr-scale 0.1 (0 freezes the text tower)');
  }
  if (o.valFraction !== undefined && !(o.valFraction >= 0 && o.valFraction < 1)) throw trainUsage(`--val-fraction must be in [0, 1), got ${o.valFraction}`, 'give e.g. --val-fraction 0.1');
  if (o.init !== undefined && o.resume !== undefined) throw trainUsage('--checkpoint and --resume do not go together', 'use --resume to continue a run, --checkpoint to start a new one from a checkpoint');
  const preset = o.preset ?? (target === 'teacher' ? 'clip-tiny' : 'spikeclip-b');
  if (target === 'student' && !PRESET_NAMES.includes(preset)) throw trainUsage(`--preset ${preset} is not a student preset`, `choose one of ${PRESET_NAMES.join(', ')}`);
  if (target === 'teacher' && !CLIP_PRESET_NAMES.includes(preset)) throw trainUsage(`--preset ${preset} is not a CLIP teacher preset`, `choose one of ${CLIP_PRESET_NAMES.join(', ')}`);
  const needsTeacher = o.part !== 'clip';
  if (needsTeacher && o.teacher === undefined) {
    throw trainUsage(`--part ${o.part} distils from a teacher, and no --teacher was given`, 'give --teacher CKPT (from `spikeclip convert teacher`, or one trained with `spikeclip pretrain --part clip --target teacher`)');
  }
  if (target === 'teacher' && o.teacher !== undefined) throw trainUsage('--teacher is not used when training a teacher', 'drop --teacher');
  const resuming = o.resume !== undefined;
  const { root } = RunDir.check(o.out, { resuming });
  const phases = phasesOf(o);
  const imageDatasets = o.part === 'text' ? [] : o.datasets;
  if (o.part !== 'text' && imageDatasets.length === 0) throw trainUsage(`--part ${o.part} needs images and no --dataset was given`, 'give --dataset NAME (shapes, cifar10, folder:DIR, captions:FILE.csv, ...); repeat it for several');
  if (o.part === 'text' && o.datasets.length === 0 && o.prompts === undefined) throw trainUsage('--part text needs a corpus and neither --dataset nor --prompts was given', 'give --dataset NAME (its templates x class names) and/or --prompts FILE');

  // the teacher's config and tokenizer (no weights yet)
  let teacherConfig: ClipConfig | undefined;
  if (o.teacher !== undefined) teacherConfig = await readTeacherConfig(o.teacher);
  let initConfig: SpikeClipConfig | undefined;
  const initDir = o.init;
  if (initDir !== undefined) {
    const cc = await readCheckpointConfig(initDir);
    if (cc.kind !== 'student') throw new TrainError(`--checkpoint ${initDir} is a ${String(cc.kind)} checkpoint; pretrain starts from a student checkpoint`, 'E_INIT', 'give a student checkpoint, or leave --checkpoint out for a fresh --preset');
    initConfig = await checkStudentCheckpoint(initDir);
    if (teacherConfig) checkStudentFitsTeacher(initConfig, teacherConfig, `--checkpoint ${initDir}`, o.teacher as string);
  }
  // the corpus and the image sources open now, so that a missing file stops us before any work
  let prompts: string[] | undefined;
  if (o.part === 'text' || o.part === 'both') {
    prompts = await textCorpus(o);
    if (prompts.length === 0) throw new TrainError('the text corpus is empty', 'E_CORPUS', 'give --dataset NAME or a --prompts FILE with at least one prompt');
  }
  await import('../data/shapes-dataset');
  for (const d of imageDatasets) {
    const s = await openDataset(d, { dataDir: o.dataDir, split: 'train', seed: o.seed ?? 0 });
    if (s.size === 0) throw new TrainError(`--dataset ${d} has no training images`, 'E_DATA', 'check --data-dir and the dataset folder');
  }
  const options: Record<string, unknown> = {
    part: o.part,
    target,
    teacher: o.teacher !== undefined ? path.resolve(o.teacher) : null,
    init: o.init !== undefined ? path.resolve(o.init) : null,
    preset: o.init !== undefined ? null : preset,
    datasets: o.datasets,
    prompts: o.prompts !== undefined ? path.resolve(o.prompts) : null,
    dataDir: o.dataDir !== undefined ? path.resolve(o.dataDir) : null,
    phases: phases.map((p) => ({ part: p.part, epochs: p.epochs, batchSize: p.batchSize, lr: p.lr, lrMin: p.lrMin, tMax: p.tMax, patience: p.patience ?? null })),
    epochs: o.epochs ?? null,
    gradAccum: o.gradAccum ?? 1,
    warmupSteps: o.warmupSteps ?? 0,
    valFraction: o.valFraction ?? 0,
    textLrScale: o.textLrScale ?? 1,
    seed: o.seed ?? 0,
    studentResize: o.studentResize ?? 'reference',
    maxSteps: o.maxSteps ?? null,
    saveEvery: o.saveEvery ?? 1,
    saveEverySteps: o.saveEverySteps ?? 0,
    evalEvery: o.evalEvery ?? 1,
    logEvery: o.logEvery ?? 10,
    keep: o.keep ?? 3,
    patience: o.patience ?? null,
  };
  if (resuming) {
    checkResumeParams(root, o.out, 'pretrain', options, o.force ?? false, ['phases', 'epochs']);
  }
  // where a resumed run continues: `both` resumes its image phase once that has a checkpoint
  let resumeDir: string | undefined;
  let startPhase = 0;
  if (resuming) {
    if (o.part === 'both' && o.resume === 'latest') {
      startPhase = fs.existsSync(path.join(root, 'image', RUN_FILES.checkpoints, RUN_FILES.latest)) ? 1 : 0;
      resumeDir = await resolveResume('latest', path.join(root, phases[startPhase].sub));
    } else resumeDir = await resolveResume(o.resume as string, o.out);
    if (target === 'student') {
      const cfg = await checkStudentCheckpoint(resumeDir);
      if (teacherConfig) checkStudentFitsTeacher(cfg, teacherConfig, `--resume ${o.resume}`, o.teacher as string);
    }
  }
  return { o, root, resuming, resumeDir, startPhase, phases, options, teacherConfig, initConfig, prompts, imageDatasets };
}

/** Opens the train (and validation) split of every image source, joined. */
async function imageSplits(p: PreparedPretrain): Promise<{ train: DatasetSplit; val?: DatasetSplit }> {
  const o = p.o;
  const train: FingerprintedSplit[] = [];
  const val: FingerprintedSplit[] = [];
  for (const d of p.imageDatasets) {
    const t = (await openDataset(d, { dataDir: o.dataDir, split: 'train', seed: o.seed ?? 0 })) as FingerprintedSplit;
    await t.prepare?.();
    train.push(t);
    try {
      const v = (await openDataset(d, { dataDir: o.dataDir, split: 'val', seed: o.seed ?? 0 })) as FingerprintedSplit;
      await v.prepare?.();
      if (v.size > 0) val.push(v);
    } catch {
      o.onWarning?.(`${d}: no validation split; validation uses the other sources only`);
    }
  }
  return { train: train.length === 1 ? train[0] : concatSplits(train, 'train'), val: val.length === 0 ? undefined : val.length === 1 ? val[0] : concatSplits(val, 'val') };
}

interface StudentState {
  model: SpikeClip;
  tokenizerFiles?: ReadonlyMap<string, Uint8Array>;
  /** Training state of the checkpoint resumed from. */
  resumeTensors?: Map<string, TensorData>;
  resumeInfo?: Record<string, unknown>;
}

async function loadStudent(p: PreparedPretrain, teacher: Encoder | undefined, teacherModel: Parameters<typeof copyTeacherEmbeddings>[1] | undefined, resumeDir: string | undefined): Promise<StudentState> {
  const o = p.o;
  if (resumeDir !== undefined || o.init !== undefined) {
    const s = await loadStudentCheckpoint((resumeDir ?? o.init) as string, { trainingState: resumeDir !== undefined });
    return { model: s.model, tokenizerFiles: s.tokenizerFiles ?? teacher?.tokenizerFiles, resumeTensors: s.trainingState?.tensors, resumeInfo: s.trainingState?.info };
  }
  const model = new SpikeClip(studentConfigFor(p.options.preset as string, p.teacherConfig), { seed: o.seed ?? 0 });
  if (teacherModel) copyTeacherEmbeddings(model, teacherModel);
  // A fresh spiking text encoder with copied CLIP embeddings (std ~0.02) never reaches V_th: alignment
  // then only learns fc2's bias (1 - cos stays ~0.7). Make it fire, as finetune does for fresh students
  // (docs/training.md, "Fresh students and silent text encoders"; docs/method.md §4): on shapes with a clip-tiny teacher, 150 epochs reach
  // 1 - cos 0.0013 instead of 0.698.
  if (p.phases.some((ph) => ph.part === 'text')) firingTextInit(model, o.seed ?? 0);
  return { model, tokenizerFiles: teacher?.tokenizerFiles };
}

function loopOptions(p: PreparedPretrain, ph: Phase, run: RunDir, save: LoopOptions['save'], select: LoopOptions['select']): LoopOptions {
  const o = p.o;
  return {
    epochs: ph.epochs,
    maxSteps: o.maxSteps,
    lr: ph.lr,
    lrMin: ph.lrMin,
    tMax: ph.tMax,
    warmupSteps: o.warmupSteps ?? 0,
    gradAccum: o.gradAccum ?? 1,
    logEvery: o.logEvery ?? 10,
    saveEvery: o.saveEvery ?? 1,
    saveEverySteps: o.saveEverySteps ?? 0,
    evalEvery: o.evalEvery ?? 1,
    keep: o.keep ?? 3,
    patience: ph.part === 'text' ? ph.patience : o.patience,
    select,
    stopRequested: o.stopRequested ?? (() => false),
    save,
    onProgress: o.onProgress,
    onStatus: o.onStatus,
    onLog: o.onLog,
  };
}

/** Runs the prepared pre-training; returns where everything is. */
export async function executePretrain(p: PreparedPretrain): Promise<PretrainResult> {
  const o = p.o;
  const run = RunDir.open(o.out, { command: 'pretrain', options: p.options, provenance: o.provenance ?? {} }, { resuming: p.resuming });
  const target = (p.options.target as 'student' | 'teacher') ?? 'student';
  if (target === 'teacher') {
    const { executeTeacherPretrain } = await import('./pretrain-teacher');
    return executeTeacherPretrain(p, run);
  }
  o.onStatus?.(o.teacher !== undefined ? `loading the teacher ${o.teacher}` : 'preparing');
  const teacher = o.teacher !== undefined ? await loadEncoder(o.teacher, { purpose: 'pretrain' }) : undefined;
  let student: StudentState | undefined;
  const result: PretrainResult = { out: run.root, part: o.part, target, phases: [], stopped: 'epochs' };
  try {
    const { resumeDir, startPhase } = p;
    const teacherModel = teacher ? ((await import('../teacher/checkpoint')).loadTeacherCheckpoint) : undefined;
    let teacherForEmbeddings: Parameters<typeof copyTeacherEmbeddings>[1] | undefined;
    if (teacher && teacherModel && !p.resuming && o.init === undefined) {
      // the fresh student copies the teacher's token and position embeddings
      const t = await teacherModel(o.teacher as string);
      teacherForEmbeddings = t.teacher;
      student = await loadStudent(p, teacher, teacherForEmbeddings, undefined);
      t.teacher.dispose();
    } else student = await loadStudent(p, teacher, undefined, resumeDir);
    if (p.teacherConfig) checkStudentFitsTeacher(student.model.config, p.teacherConfig, 'the student', o.teacher as string);
    const enc = studentEncoder(student.model, { tokenizerFiles: student.tokenizerFiles, studentResize: o.studentResize });

    for (let i = startPhase; i < p.phases.length; i++) {
      const ph = p.phases[i];
      const phaseRun = ph.sub === '' ? run : RunDir.open(path.join(run.root, ph.sub), { command: 'pretrain', options: { ...p.options, phase: ph.part }, provenance: o.provenance ?? {} }, { resuming: p.resuming && i === startPhase });
      const stage = `pretrain-${ph.part}`;
      const log = (line: string): void => {
        phaseRun.log(line);
        o.onLog?.(line);
      };
      let task: TrainTask;
      let closers: Array<() => Promise<void>> = [];
      let select: LoopOptions['select'];
      if (ph.part === 'text') {
        const made = await makeTextTask(p, ph, student.model, enc, teacher as Encoder);
        task = made;
        select = p.o.valFraction ? { metric: 'val_cosine', mode: 'max' } : { metric: 'train_loss', mode: 'min' };
      } else if (ph.part === 'image') {
        const made = await makeImageTask(p, ph, student.model, enc, teacher as Encoder, log);
        task = made.task;
        closers = made.closers;
        select = { metric: 'val_cosine', mode: 'max' };
      } else {
        const made = await makeStudentClipTask(p, ph, student.model, enc);
        task = made.task;
        closers = made.closers;
        select = made.select;
      }
      const optimizer = new Adam(task.params, { lr: ph.lr }, task instanceof ContrastiveTask ? task.lrScales() : new Map());
      try {
        const resumeHere = p.resuming && i === startPhase ? student : undefined;
        const state = resumeHere ? restoreTrainingState(optimizer, resumeHere.resumeTensors, resumeHere.resumeInfo, resumeDir as string) : initialLoopState();
        if (resumeHere) task.loadStateTensors?.(resumeHere.resumeTensors ?? new Map());
        const studentRef = student;
        const save: LoopOptions['save'] = async (dir, st) => {
          const tensors = optimizer.stateTensors();
          for (const [k, v] of task.stateTensors?.() ?? new Map<string, TensorData>()) tensors.set(k, v);
          await saveStudentCheckpoint(dir, studentRef.model, {
            provenance: o.provenance,
            extra: { stage, preset: p.options.preset, teacher: p.options.teacher, data: ph.part === 'text' ? { corpus: (p.prompts ?? []).length } : { datasets: p.imageDatasets } },
            tokenizerFiles: studentRef.tokenizerFiles,
            trainingState: { tensors, info: trainingInfo(st, optimizer, { phase: ph.part, seed: o.seed ?? 0 }) },
          });
        };
        log(`${task.name}: ${task.batchesPerEpoch()} batches per epoch, ${task.params.length} trainable tensors (${task.params.reduce((n, [, v]) => n + v.size, 0)} values)`);
        const r = await runLoop(task, optimizer, phaseRun, state, loopOptions(p, ph, phaseRun, save, select));
        result.phases.push({ part: ph.part, folder: phaseRun.root, stopped: r.stopped, epochs: r.state.epoch, steps: r.state.step, lastEpoch: r.lastEpoch, latest: r.latest, best: r.best });
        result.stopped = r.stopped;
        result.checkpoint = r.latest;
        result.best = r.best ? phaseRun.checkpointPath(r.best.checkpoint) : undefined;
        if (ph.sub !== '' && r.latest) {
          // the run folder's own latest/best follow the phase's
          run.point('latest', path.relative(run.checkpoints, r.latest));
          if (r.best) run.point('best', path.relative(run.checkpoints, phaseRun.checkpointPath(r.best.checkpoint)));
        }
        if (r.stopped === 'interrupted') break;
      } finally {
        optimizer.dispose();
        for (const c of closers) await c();
      }
    }
  } finally {
    student?.model.dispose();
    teacher?.dispose();
  }
  return result;
}

/** The text corpus with teacher features and student ids; a seeded share held out when --val-fraction. */
async function makeTextTask(p: PreparedPretrain, ph: Phase, model: SpikeClip, student: Encoder, teacher: Encoder): Promise<TextAlignTask> {
  const o = p.o;
  const prompts = p.prompts as string[];
  const D = teacher.dim;
  const L = student.contextLength;
  const feats = new Float32Array(prompts.length * D);
  const bs = 256;
  for (let s = 0; s < prompts.length; s += bs) {
    const chunk = prompts.slice(s, s + bs);
    const f = tf.tidy(() => teacher.encodeTexts(chunk));
    feats.set(f.dataSync() as Float32Array, s * D);
    f.dispose();
    o.onStatus?.(`teacher text features: ${Math.min(prompts.length, s + bs)}/${prompts.length} prompts`);
  }
  const ids = student.tokenize(prompts);
  const frac = o.valFraction ?? 0;
  const nVal = frac > 0 ? Math.max(1, Math.round(prompts.length * frac)) : 0;
  if (nVal >= prompts.length) throw new TrainError(`--val-fraction ${frac} leaves no prompts to train on (${prompts.length} in the corpus)`, 'E_CORPUS', 'lower --val-fraction or add prompts');
  const order = nVal > 0 ? permutation(prompts.length, rngOf(o.seed ?? 0, 'text-val')) : Int32Array.from(prompts.keys());
  const pick = (idx: ArrayLike<number>): TextCorpus => {
    const c: TextCorpus = { prompts: [], ids: new Int32Array(idx.length * L), teacher: new Float32Array(idx.length * D) };
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k];
      c.prompts.push(prompts[i]);
      c.ids.set(ids.subarray(i * L, (i + 1) * L), k * L);
      c.teacher.set(feats.subarray(i * D, (i + 1) * D), k * D);
    }
    return c;
  };
  const valIdx = Array.from(order.subarray(0, nVal)).sort((a, b) => a - b);
  const trainIdx = Array.from(order.subarray(nVal)).sort((a, b) => a - b);
  return new TextAlignTask(model, pick(trainIdx), nVal > 0 ? pick(valIdx) : undefined, { batchSize: ph.batchSize, seed: o.seed ?? 0 });
}

function cacheRoot(o: PretrainOptions): string | false {
  return o.cacheDir === undefined ? defaultCacheDir() : o.cacheDir;
}

async function makeImageTask(p: PreparedPretrain, ph: Phase, model: SpikeClip, student: Encoder, teacher: Encoder, log: (line: string) => void): Promise<{ task: ImageAlignTask; closers: Array<() => Promise<void>> }> {
  const o = p.o;
  const { train, val } = await imageSplits(p);
  const cacheDir = cacheRoot(o);
  const features = async (split: DatasetSplit) => {
    const f = await teacherImageFeatures({
      teacher,
      split,
      cacheDir,
      onProgress: (d, t) => o.onStatus?.(`teacher image features (${split.split}): ${d}/${t}`),
      onWarning: o.onWarning,
    });
    log(`teacher image features of ${split.dataset} ${split.split}: ${f.count} images, ${f.hit ? 'from the cache' : 'computed'}${f.file ? ` (${f.file})` : ''}`);
    return f;
  };
  const view = student.image;
  if (view.kind !== 'view') throw new Error('a student encoder has a view input');
  const loaderOpts = { view: view.view, mean: view.mean, std: view.std, cacheDir: cacheDir === false ? undefined : cacheDir, cache: cacheDir === false ? false : ('auto' as const), workers: o.workers, onWarning: o.onWarning };
  const trainLoader = await DataLoader.open(train, { ...loaderOpts, batchSize: Math.ceil(ph.batchSize / (o.gradAccum ?? 1)), shuffle: true, seed: o.seed ?? 0 });
  const closers = [() => trainLoader.close()];
  const trainFeats = await features(train);
  let valData: { loader: DataLoader; features: Awaited<ReturnType<typeof features>> } | undefined;
  if (val) {
    const valLoader = await DataLoader.open(val, { ...loaderOpts, batchSize: 64, shuffle: false });
    closers.push(() => valLoader.close());
    valData = { loader: valLoader, features: await features(val) };
  }
  return { task: new ImageAlignTask(model, { loader: trainLoader, features: trainFeats }, valData), closers };
}

/** A learnable logit scale for a student trained contrastively (CLIP's init: ln(1/0.07)). */
class StudentClip implements ContrastiveModel {
  readonly logScale = tf.variable(tf.scalar(Math.log(1 / 0.07)), true, `logit_scale_${Math.random().toString(36).slice(2)}`);
  readonly params;
  readonly textParams: ReadonlySet<string>;
  readonly contextLength: number;
  constructor(
    private readonly model: SpikeClip,
    private readonly enc: Encoder,
  ) {
    this.params = [...model.namedParameters(), ['logit_scale', this.logScale] as [string, tf.Variable]];
    this.textParams = new Set(model.namedParameters().map(([n]) => n).filter((n) => n.startsWith('text.')));
    this.contextLength = enc.contextLength;
  }
  tokenize(texts: readonly string[]): Int32Array {
    return this.enc.tokenize(texts);
  }
  encodeImages(images: tf.Tensor4D, training: boolean, monitor?: import('../snn/monitor').SpikeMonitor): tf.Tensor2D {
    return this.model.encodeImage(images, { training, monitor });
  }
  encodeTokens(ids: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return this.model.encodeText(ids, { training });
  }
}

async function makeStudentClipTask(p: PreparedPretrain, ph: Phase, model: SpikeClip, enc: Encoder): Promise<{ task: ContrastiveTask; closers: Array<() => Promise<void>>; select: LoopOptions['select'] }> {
  const o = p.o;
  if (!enc.tokenizer) {
    throw new TrainError('--part clip trains the text encoder too, and the student has no tokenizer', 'E_TOKENIZER', 'start from --checkpoint CKPT with a tokenizer/ folder, or give --teacher CKPT whose tokenizer the fresh student takes');
  }
  const { train, val } = await imageSplits(p);
  const view = enc.image;
  if (view.kind !== 'view') throw new Error('a student encoder has a view input');
  const cacheDir = cacheRoot(o);
  const loaderOpts = { view: view.view, mean: view.mean, std: view.std, cacheDir: cacheDir === false ? undefined : cacheDir, cache: cacheDir === false ? false : ('auto' as const), workers: o.workers, onWarning: o.onWarning };
  const trainLoader = await DataLoader.open(train, { ...loaderOpts, batchSize: Math.ceil(ph.batchSize / (o.gradAccum ?? 1)), shuffle: true, seed: o.seed ?? 0 });
  const closers = [() => trainLoader.close()];
  let valPart: { loader: DataLoader; monitor: boolean } | undefined;
  if (val) {
    const valLoader = await DataLoader.open(val, { ...loaderOpts, batchSize: 64, shuffle: false });
    closers.push(() => valLoader.close());
    valPart = { loader: valLoader, monitor: true };
  }
  const cm = new StudentClip(model, enc);
  closers.push(async () => cm.logScale.dispose());
  const templates = defaultTemplates(p.imageDatasets[0]);
  const task = new ContrastiveTask(cm, { loader: trainLoader }, valPart, { seed: o.seed ?? 0, templates, textLrScale: o.textLrScale }, 'contrastive (student)');
  const labelled = train.classNames.length > 0 && train.sample(0).label >= 0;
  return { task, closers, select: labelled ? { metric: 'val_top1', mode: 'max' } : { metric: 'val_loss', mode: 'min' } };
}

export { imageSplits, cacheRoot, loopOptions, type Phase };
