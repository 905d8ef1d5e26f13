/**
 * The `finetune` service: dual-loss fine-tuning of the spiking image encoder on a labelled dataset
 * (docs/method.md §6; docs/training.md), on the same loop, run folder, resume and Ctrl-C
 * handling as `pretrain`.
 *
 * `prepareFinetune` checks flags, files, checkpoints, the dataset and its class names (no TF.js);
 * `executeFinetune` builds W with the frozen text encoder (exactly as `eval` does), caches the
 * teacher's features and class distribution, and trains.
 */
import * as path from 'path';
import * as tf from '../tf';
import { defaultCacheDir } from '../data/cache';
import { DataLoader } from '../data/loader';
import { openDataset } from '../data/registry';
import type { StudentResize } from '../data/transforms';
import type { DatasetSplit } from '../data/types';
import { type Encoder, loadEncoder, studentEncoder } from '../encoders/encoder';
import { buildClassMatrix, type ClassMatrix } from '../eval/classifier';
import { defaultTemplates, promptsPerClass, readClassNamesFile, readTemplatesFile, resolveCandidates, type CandidateSet, type TemplateSpec } from '../eval/label-files';
import { readCheckpointConfig } from '../io/checkpoint';
import { getPreset, PRESET_NAMES, type SpikeClipConfig } from '../models/config';
import { clipTokenizerFiles, trainClipBpe } from '../text/bpe-train';
import type { ClipConfig } from '../models/clip-config';
import { SpikeClip } from '../models/spikeclip';
import type { TensorData } from '../snn/module';
import { checkStudentCheckpoint, loadStudentCheckpoint, saveStudentCheckpoint } from '../student/checkpoint';
import { hasTokenizerFiles } from '../text/tokenizer-files';
import { TrainError, trainUsage } from './errors';
import { teacherImageFeatures } from './feature-cache';
import { type KlReduction, teacherDistribution } from './losses';
import { initialLoopState, runLoop, type LoopOptions, type LoopResult, type LoopState } from './loop';
import { Adam } from './optimizer';
import { checkPositive, checkRunOptions, finetuneLoopOptions, type TrainRunOptions } from './run-options';
import { restoreTrainingState, trainingInfo } from './resume';
import { checkResumeParams, resolveResume, RunDir } from './run-dir';
import { checkStudentFitsTeacher, readTeacherConfig, firingTextInit, identicalClassVectors, studentConfigFor } from './student-setup';
import { DualLossTask, type FinetuneLoss } from './tasks/dual-loss';
import { checkTeacherTarget, executeTeacherFinetune, type FinetuneTarget } from './finetune-teacher';

/** The reference recipe (docs/method.md §6). */
export const FINETUNE_DEFAULTS = Object.freeze({ epochs: 200, batchSize: 196, lr: 5e-4, lrMin: 1e-5, klWeight: 1, klReduction: 'sum' as KlReduction, temperature: 1 });

export interface FinetuneOptions extends TrainRunOptions {
  checkpoint?: string;
  teacher?: string;
  preset?: string;
  dataset: string;
  dataDir?: string;
  loss?: FinetuneLoss;
  klWeight?: number;
  klReduction?: KlReduction;
  temperature?: number;
  boundaryAngle?: number;
  classNamesFile?: string;
  templatesFile?: string;
  renormalize?: boolean;
  augment?: boolean;
  /** Share of train carved as validation where the dataset has no val split (default 0.1). */
  valFraction?: number;
  selectOn?: 'val' | 'test';
  /** 'teacher': fine-tune the teacher's image tower instead (./finetune-teacher.ts). Default 'student'. */
  target?: FinetuneTarget;
}

export interface PreparedFinetune {
  o: FinetuneOptions;
  root: string;
  resuming: boolean;
  resumeDir?: string;
  options: Record<string, unknown>;
  loss: FinetuneLoss;
  studentConfig?: SpikeClipConfig;
  teacherConfig?: ClipConfig;
  train: DatasetSplit;
  select: DatasetSplit;
  candidates: CandidateSet;
  prompts: string[][];
}

export interface FinetuneResult {
  out: string;
  dataset: string;
  loss: FinetuneLoss;
  gate: boolean;
  selectOn: 'val' | 'test';
  classes: number;
  stopped: LoopResult['stopped'];
  epochs: number;
  steps: number;
  lastEpoch?: Record<string, unknown>;
  checkpoint?: string;
  best?: string;
  bestMetric?: LoopState['best'];
  /** Set by --target teacher. */
  target?: 'teacher';
}

/** Everything that needs no TF.js: flags, the run folder, checkpoints, the dataset and its classes. */
export async function prepareFinetune(o: FinetuneOptions): Promise<PreparedFinetune> {
  checkRunOptions(o);
  checkPositive('temperature', o.temperature, false);
  checkPositive('boundary-angle', o.boundaryAngle, false);
  if (o.klWeight !== undefined && !(o.klWeight >= 0 && Number.isFinite(o.klWeight))) throw trainUsage(`--kl-weight must be a number >= 0, got ${o.klWeight}`, 'give e.g. --kl-weight 1');
  if (o.boundaryAngle !== undefined && o.boundaryAngle > 180) throw trainUsage(`--boundary-angle is in degrees (0, 180], got ${o.boundaryAngle}`, 'give e.g. --boundary-angle 90');
  const onTeacher = o.target === 'teacher';
  if (onTeacher) checkTeacherTarget(o);
  const loss: FinetuneLoss = o.loss ?? (o.teacher !== undefined && !onTeacher ? 'dual' : 'ce');
  if ((loss === 'dual' || loss === 'kl' || o.boundaryAngle !== undefined) && o.teacher === undefined) {
    throw trainUsage(`--loss ${loss}${o.boundaryAngle !== undefined ? ' with --boundary-angle' : ''} needs the teacher's class distribution, and no --teacher was given`, 'give --teacher CKPT, or train with --loss ce');
  }
  if (o.boundaryAngle !== undefined && loss !== 'dual') throw trainUsage('--boundary-angle gates the dual loss', 'use it with --loss dual (the default with a teacher)');
  if (o.checkpoint === undefined && o.resume === undefined && o.preset !== undefined && !PRESET_NAMES.includes(o.preset)) throw trainUsage(`--preset ${o.preset} is not a student preset`, `choose one of ${PRESET_NAMES.join(', ')}`);
  const resuming = o.resume !== undefined;
  const { root } = RunDir.check(o.out, { resuming });

  let teacherConfig: ClipConfig | undefined;
  if (o.teacher !== undefined) teacherConfig = await readTeacherConfig(o.teacher);
  let resumeDir: string | undefined;
  let studentConfig: SpikeClipConfig | undefined;
  const from = resuming ? (resumeDir = await resolveResume(o.resume as string, o.out)) : o.checkpoint;
  if (from !== undefined && !onTeacher) {
    const cc = await readCheckpointConfig(from);
    if (cc.kind !== 'student') throw new TrainError(`${from} is a ${String(cc.kind)} checkpoint; finetune trains a student`, 'E_CHECKPOINT', 'give --checkpoint a student checkpoint (from pretrain or convert import)');
    studentConfig = await checkStudentCheckpoint(from);
    const fresh = (cc.fresh as { part?: string } | null | undefined)?.part;
    if (fresh === 'text') {
      throw new TrainError(`${from} has no trained text encoder (only the image encoder was imported; the text encoder is freshly initialised), so it cannot provide the class matrix`, 'E_CHECKPOINT', 'pretrain the text encoder first (spikeclip pretrain --part text --checkpoint ...), or import a checkpoint with both encoders');
    }
    const { loadCheckpoint } = await import('../io/checkpoint');
    if (!hasTokenizerFiles((await loadCheckpoint(from, { weights: false })).tokenizerFiles)) {
      throw new TrainError(`${from} has no tokenizer/ folder, so its text encoder cannot build the class matrix`, 'E_TOKENIZER', `copy vocab.json and merges.txt from the teacher's tokenizer/ into ${path.join(from, 'tokenizer')}`);
    }
    if (teacherConfig) checkStudentFitsTeacher(studentConfig, teacherConfig, from, o.teacher as string);
  }

  // the dataset, its classes and the split that selects `best`
  await import('../data/shapes-dataset');
  const seed = o.seed ?? 0;
  const valFraction = o.valFraction ?? 0.1;
  const train = await openDataset(o.dataset, { dataDir: o.dataDir, split: 'train', seed, valFraction });
  if (train.size === 0) throw new TrainError(`--dataset ${o.dataset} has no training images`, 'E_DATA', 'check --data-dir and the dataset folder');
  const K = train.classNames.length;
  if (K < 2) throw new TrainError(`--dataset ${o.dataset} has ${K} class${K === 1 ? '' : 'es'}; classification needs at least 2`, 'E_DATA', 'give a labelled dataset with two or more classes');
  const selectOn = o.selectOn ?? 'val';
  const select = await openDataset(o.dataset, { dataDir: o.dataDir, split: selectOn, seed, valFraction });
  const classSpec = o.classNamesFile !== undefined ? readClassNamesFile(o.classNamesFile) : undefined;
  const candidates = resolveCandidates(train.classNames, classSpec, { source: o.classNamesFile, dataset: o.dataset });
  const templates: TemplateSpec = o.templatesFile !== undefined ? readTemplatesFile(o.templatesFile) : { kind: 'list', templates: [...defaultTemplates(o.dataset)] };
  const prompts = promptsPerClass(candidates.names, templates, o.templatesFile ?? 'templates');

  const d = FINETUNE_DEFAULTS;
  const epochs = o.epochs ?? d.epochs;
  const options: Record<string, unknown> = {
    checkpoint: o.checkpoint !== undefined ? path.resolve(o.checkpoint) : null,
    teacher: o.teacher !== undefined ? path.resolve(o.teacher) : null,
    ...(onTeacher ? { target: 'teacher' } : {}),
    preset: o.checkpoint === undefined && !onTeacher ? o.preset ?? 'spikeclip-b' : null,
    dataset: o.dataset,
    dataDir: o.dataDir !== undefined ? path.resolve(o.dataDir) : null,
    loss,
    klWeight: o.klWeight ?? d.klWeight,
    klReduction: o.klReduction ?? d.klReduction,
    temperature: o.temperature ?? d.temperature,
    boundaryAngle: o.boundaryAngle ?? null,
    classnames: o.classNamesFile !== undefined ? path.resolve(o.classNamesFile) : null,
    templates: o.templatesFile !== undefined ? path.resolve(o.templatesFile) : null,
    renormalize: o.renormalize ?? false,
    augment: o.augment ?? false,
    valFraction,
    selectOn,
    epochs,
    batchSize: o.batchSize ?? d.batchSize,
    lr: o.lr ?? d.lr,
    lrMin: o.lrMin ?? d.lrMin,
    tMax: o.tMax ?? epochs,
    gradAccum: o.gradAccum ?? 1,
    warmupSteps: o.warmupSteps ?? 0,
    patience: o.patience ?? null,
    seed,
    studentResize: o.studentResize ?? 'reference',
    maxSteps: o.maxSteps ?? null,
    saveEvery: o.saveEvery ?? 1,
    saveEverySteps: o.saveEverySteps ?? 0,
    evalEvery: o.evalEvery ?? 1,
    logEvery: o.logEvery ?? 10,
    keep: o.keep ?? 3,
  };
  if (resuming) {
    checkResumeParams(root, o.out, 'finetune', options, o.force ?? false, ['checkpoint']);
  }
  return { o, root, resuming, resumeDir, options, loss, studentConfig, teacherConfig, train, select, candidates, prompts };
}

/** Loads the student and teacher, builds W and the teacher's distribution, and trains. */
export async function executeFinetune(p: PreparedFinetune): Promise<FinetuneResult> {
  if (p.options.target === 'teacher') return executeTeacherFinetune(p);
  const o = p.o;
  const opt = p.options;
  // the run folder is made once the models and W are ready (a degenerate W writes nothing)
  let run: RunDir | undefined;
  const early: string[] = [];
  const log = (line: string): void => {
    if (run) run.log(line);
    else early.push(line);
    o.onLog?.(line);
  };
  const cacheDir = o.cacheDir === undefined ? defaultCacheDir() : o.cacheDir;
  o.onStatus?.('loading the models');
  const teacher: Encoder | undefined = o.teacher !== undefined ? await loadEncoder(o.teacher, { purpose: 'finetune' }) : undefined;
  let model: SpikeClip | undefined;
  const closers: Array<() => Promise<void> | void> = [];
  try {
    const from = p.resumeDir ?? o.checkpoint;
    let tokenizerFiles: ReadonlyMap<string, Uint8Array> | undefined;
    let resume: { tensors?: Map<string, TensorData>; info?: Record<string, unknown> } = {};
    if (from !== undefined) {
      const s = await loadStudentCheckpoint(from, { trainingState: p.resumeDir !== undefined });
      model = s.model;
      tokenizerFiles = s.tokenizerFiles;
      resume = { tensors: s.trainingState?.tensors, info: s.trainingState?.info };
    } else {
      // a fresh student: its random text encoder acts as a fixed class-vector head (the from-scratch
      // baseline). It takes the teacher's tokenizer and sizes; without a teacher, a byte-level BPE
      // learnt from the class prompts (nothing to download).
      tokenizerFiles = teacher?.tokenizerFiles;
      let vocabSize: number | undefined;
      if (!tokenizerFiles) {
        const bpe = trainClipBpe(p.prompts.flat());
        tokenizerFiles = clipTokenizerFiles(bpe, { contextLength: getPreset(opt.preset as string).text.contextLength });
        vocabSize = bpe.vocabSize;
        log(`tokenizer: byte-level BPE with ${bpe.merges.length} merges (${bpe.vocabSize} tokens) learnt from the ${p.prompts.flat().length} class prompts`);
      }
      model = new SpikeClip(studentConfigFor(opt.preset as string, p.teacherConfig, vocabSize), { seed: opt.seed as number });
      firingTextInit(model, opt.seed as number);
    }
    const student = studentEncoder(model, { tokenizerFiles, studentResize: opt.studentResize as StudentResize });
    // W, exactly as eval builds it (frozen text encoder)
    o.onStatus?.('class matrix');
    const W: ClassMatrix = buildClassMatrix({ prompts: p.prompts, encodeTexts: (texts) => student.encodeTexts(texts), renormalize: opt.renormalize as boolean });
    const same = identicalClassVectors(W.weights, W.numClasses, W.dim);
    if (same.length === 1 && same[0].length === W.numClasses) {
      throw new TrainError(
        `the class matrix has the same vector for "${p.candidates.names[same[0][0]]}" and "${p.candidates.names[same[0][1]]}" (all ${W.numClasses} classes): the text encoder does not tell these prompts apart (an untrained spiking text encoder does not fire, so every prompt gets the same embedding)`,
        'E_CLASS_MATRIX',
        'pretrain the text encoder first (spikeclip pretrain --part text), or start from a checkpoint whose text encoder was trained',
      );
    }
    if (same.length > 0) {
      const shown = same.slice(0, 3).map((g) => g.map((c) => `"${p.candidates.names[c]}"`).join(' = ')).join('; ');
      const classes = same.reduce((n, g) => n + g.length, 0);
      o.onWarning?.(`the class matrix has ${same.length} group(s) of identical class vectors (${classes} of ${W.numClasses} classes): ${shown}${same.length > 3 ? '; ...' : ''}; the text encoder does not tell these prompts apart, so neither can the fine-tuned model`);
    }
    log(`class matrix: ${W.numClasses} classes x ${p.prompts[0].length} prompts each, from the ${from !== undefined ? 'checkpoint\'s' : 'fresh'} text encoder`);
    // the teacher's distribution over W, once per training sample
    let teacherP: Float32Array | undefined;
    if (teacher && p.loss !== 'ce') {
      const f = await teacherImageFeatures({ teacher, split: p.train, cacheDir, onProgress: (d, t) => o.onStatus?.(`teacher image features: ${d}/${t}`), onWarning: o.onWarning });
      log(`teacher image features of ${p.train.dataset} ${p.train.split}: ${f.count} images, ${f.hit ? 'from the cache' : 'computed'}${f.file ? ` (${f.file})` : ''}`);
      const C = W.numClasses;
      teacherP = new Float32Array(f.count * C);
      const Wt = tf.tensor2d(W.weights, [C, W.dim]);
      for (let s = 0; s < f.count; s += 512) {
        const m = Math.min(512, f.count - s);
        const probs = tf.tidy(() => teacherDistribution(tf.tensor2d(f.features.subarray(s * W.dim, (s + m) * W.dim), [m, W.dim]), Wt, opt.temperature as number));
        teacherP.set(probs.dataSync() as Float32Array, s * C);
        probs.dispose();
      }
      Wt.dispose();
      // an undecodable image has no teacher feature: its row is NaN and the loader skips the image anyway
    }
    const view = student.image;
    if (view.kind !== 'view') throw new Error('a student encoder has a view input');
    const loaderOpts = { view: view.view, mean: view.mean, std: view.std, cacheDir: cacheDir === false ? undefined : cacheDir, cache: cacheDir === false ? false : ('auto' as const), workers: o.workers, onWarning: o.onWarning };
    const trainLoader = await DataLoader.open(p.train, { ...loaderOpts, batchSize: Math.ceil((opt.batchSize as number) / (opt.gradAccum as number)), shuffle: true, seed: opt.seed as number, augment: opt.augment as boolean });
    closers.push(() => trainLoader.close());
    const valLoader = await DataLoader.open(p.select, { ...loaderOpts, batchSize: 64, shuffle: false });
    closers.push(() => valLoader.close());
    const task = new DualLossTask(model, W, { loader: trainLoader, teacherP }, { loader: valLoader }, {
      loss: p.loss,
      klWeight: opt.klWeight as number,
      klReduction: opt.klReduction as KlReduction,
      temperature: opt.temperature as number,
      boundaryAngle: o.boundaryAngle,
    });
    closers.push(() => task.dispose());
    if (o.boundaryAngle !== undefined) task.enableGate();
    const optimizer = new Adam(task.params, { lr: opt.lr as number });
    closers.push(() => optimizer.dispose());
    run = RunDir.open(o.out, { command: 'finetune', options: opt, provenance: o.provenance ?? {} }, { resuming: p.resuming });
    for (const line of early) run.log(line);
    let state: LoopState = initialLoopState();
    if (p.resumeDir !== undefined) state = restoreTrainingState(optimizer, resume.tensors, resume.info, p.resumeDir);
    const studentModel = model;
    const save: LoopOptions['save'] = async (dir, st) => {
      await saveStudentCheckpoint(dir, studentModel, {
        provenance: o.provenance,
        extra: {
          stage: 'finetune',
          dataset: p.train.dataset,
          classNames: p.candidates.names,
          loss: p.loss,
          teacher: opt.teacher,
          selectOn: opt.selectOn,
          ...(from !== undefined && p.resumeDir === undefined ? { initFrom: path.resolve(from) } : {}),
        },
        tokenizerFiles,
        trainingState: { tensors: optimizer.stateTensors(), info: trainingInfo(st, optimizer, { seed: opt.seed }) },
      });
    };
    log(`${task.name} on ${p.train.dataset} (${p.train.size} images, ${W.numClasses} classes); best by top-1 on ${p.select.split} (${p.select.size} images)${opt.selectOn === 'test' ? ' — the test split, as the reference (recorded in params.json)' : ''}`);
    const r = await runLoop(task, optimizer, run, state, finetuneLoopOptions(opt, o, save));
    return {
      out: run.root,
      dataset: p.train.dataset,
      loss: p.loss,
      gate: o.boundaryAngle !== undefined,
      selectOn: opt.selectOn as 'val' | 'test',
      classes: W.numClasses,
      stopped: r.stopped,
      epochs: r.state.epoch,
      steps: r.state.step,
      lastEpoch: r.lastEpoch,
      checkpoint: r.latest,
      best: r.best ? run.checkpointPath(r.best.checkpoint) : undefined,
      bestMetric: r.best,
    };
  } finally {
    for (const c of closers.reverse()) await c();
    model?.dispose();
    teacher?.dispose();
  }
}
