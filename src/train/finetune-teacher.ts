/**
 * `finetune --target teacher`: fine-tunes the teacher's image tower on the task (CE against the
 * class matrix W that the teacher's own frozen text tower builds, logits exp(s) * cos), as the
 * reference does before distilling (docs/method.md §6). Same loop, run folder, resume and Ctrl-C
 * handling as every other run; the checkpoints are teacher checkpoints in the layout
 * `pretrain --target teacher` writes (src/teacher/save.ts), so `finetune --teacher`, `pretrain
 * --teacher`, `eval`, `embed` and `inspect` take them.
 */
import { defaultCacheDir } from '../data/cache';
import { DataLoader } from '../data/loader';
import { teacherView } from '../data/transforms';
import { teacherEncoder } from '../encoders/encoder';
import { buildClassMatrix } from '../eval/classifier';
import { loadCheckpoint } from '../io/checkpoint';
import type { TensorData } from '../snn/module';
import { toTensorData } from '../student/checkpoint';
import { loadTeacherCheckpoint, type LoadedTeacher } from '../teacher/checkpoint';
import { saveTeacherCheckpoint } from '../teacher/save';
import { TrainError, trainUsage } from './errors';
import type { FinetuneOptions, FinetuneResult, PreparedFinetune } from './finetune';
import { initialLoopState, runLoop, type LoopOptions, type LoopState } from './loop';
import { finetuneLoopOptions } from './run-options';
import { Adam } from './optimizer';
import { restoreTrainingState, trainingInfo } from './resume';
import { RunDir } from './run-dir';
import { identicalClassVectors } from './student-setup';
import { TeacherCeTask } from './tasks/teacher-ce';

export type FinetuneTarget = 'student' | 'teacher';

/** The flags `--target teacher` cannot take (no TF.js); one-line usage errors with the fix. */
export function checkTeacherTarget(o: FinetuneOptions): void {
  if (o.teacher === undefined) throw trainUsage('--target teacher fine-tunes a teacher, and no --teacher was given', 'give --teacher CKPT (a teacher checkpoint), or leave out --target teacher');
  if (o.checkpoint !== undefined) throw trainUsage('--target teacher trains the teacher; --checkpoint names a student', 'leave out --checkpoint, or leave out --target teacher to fine-tune the student');
  if (o.preset !== undefined) throw trainUsage('--target teacher trains the given teacher; --preset sizes a fresh student', 'leave out --preset');
  if (o.loss !== undefined && o.loss !== 'ce') throw trainUsage(`--target teacher trains with CE against the teacher's class matrix; --loss ${o.loss} does not apply`, 'leave out --loss (or give --loss ce)');
  if (o.boundaryAngle !== undefined) throw trainUsage('--boundary-angle gates the student\'s dual loss; --target teacher trains with CE only', 'leave out --boundary-angle');
}

/** Loads the teacher (or the run's own checkpoint when resuming), builds W with its text tower, and trains its image tower. */
export async function executeTeacherFinetune(p: PreparedFinetune): Promise<FinetuneResult> {
  const o = p.o;
  const opt = p.options;
  let run: RunDir | undefined;
  const early: string[] = [];
  const log = (line: string): void => {
    if (run) run.log(line);
    else early.push(line);
    o.onLog?.(line);
  };
  const cacheDir = o.cacheDir === undefined ? defaultCacheDir() : o.cacheDir;
  o.onStatus?.('loading the teacher');
  const from = p.resumeDir ?? (o.teacher as string);
  let t: LoadedTeacher;
  try {
    t = await loadTeacherCheckpoint(from);
  } catch (e) {
    if (p.resumeDir !== undefined && e instanceof Error && !(e instanceof TrainError)) {
      throw new TrainError(`--resume: ${from} is not a teacher checkpoint (${e.message.split('\n')[0]})`, 'E_RESUME', 'resume a finetune --target teacher run with --target teacher, or leave out --target teacher');
    }
    throw e;
  }
  const teacher = t.teacher;
  const closers: Array<() => Promise<void> | void> = [];
  try {
    let resume: { tensors?: Map<string, TensorData>; info?: Record<string, unknown> } = {};
    if (p.resumeDir !== undefined) {
      const ck = await loadCheckpoint(p.resumeDir, { weights: false, trainingState: true, tokenizer: false });
      resume = { tensors: ck.trainingState ? toTensorData(ck.trainingState.tensors) : undefined, info: ck.trainingState?.info };
    }
    // W from the teacher's own (frozen) text tower, exactly as eval builds it for a teacher
    o.onStatus?.('class matrix');
    const enc = teacherEncoder(t, ''); // not disposed here: it owns the teacher, disposed below
    const W = buildClassMatrix({ prompts: p.prompts, encodeTexts: (texts) => enc.encodeTexts(texts), renormalize: opt.renormalize as boolean });
    const same = identicalClassVectors(W.weights, W.numClasses, W.dim);
    if (same.length === 1 && same[0].length === W.numClasses) {
      throw new TrainError(`the teacher's class matrix has the same vector for all ${W.numClasses} classes`, 'E_CLASS_MATRIX', 'give class names (--classnames) or templates (--templates) that the teacher tells apart');
    }
    if (same.length > 0) {
      o.onWarning?.(`the teacher's class matrix has ${same.length} group(s) of identical class vectors: ${same.slice(0, 3).map((g) => g.map((c) => `"${p.candidates.names[c]}"`).join(' = ')).join('; ')}${same.length > 3 ? '; ...' : ''}`);
    }
    log(`class matrix: ${W.numClasses} classes x ${p.prompts[0].length} prompts each, from the teacher's text tower`);
    const S = t.config.vision.imageSize;
    const loaderOpts = { view: teacherView(S), mean: t.preprocess.mean, std: t.preprocess.std, cacheDir: cacheDir === false ? undefined : cacheDir, cache: cacheDir === false ? false : ('auto' as const), workers: o.workers, onWarning: o.onWarning };
    const trainLoader = await DataLoader.open(p.train, { ...loaderOpts, batchSize: Math.ceil((opt.batchSize as number) / (opt.gradAccum as number)), shuffle: true, seed: opt.seed as number, augment: opt.augment as boolean });
    closers.push(() => trainLoader.close());
    const valLoader = await DataLoader.open(p.select, { ...loaderOpts, batchSize: 64, shuffle: false });
    closers.push(() => valLoader.close());
    const task = new TeacherCeTask(teacher, W, { loader: trainLoader }, { loader: valLoader });
    closers.push(() => task.dispose());
    const optimizer = new Adam(task.params, { lr: opt.lr as number });
    closers.push(() => optimizer.dispose());
    run = RunDir.open(o.out, { command: 'finetune', options: opt, provenance: o.provenance ?? {} }, { resuming: p.resuming });
    for (const line of early) run.log(line);
    let state: LoopState = initialLoopState();
    if (p.resumeDir !== undefined) state = restoreTrainingState(optimizer, resume.tensors, resume.info, p.resumeDir);
    const tokenizerFiles = t.tokenizerFiles;
    const source = t.checkpointConfig.source;
    log(`${task.name} on ${p.train.dataset} (${p.train.size} images at ${S}x${S}, ${W.numClasses} classes, ${task.params.reduce((n, [, v]) => n + v.size, 0)} parameters, logit scale ${task.scale.toFixed(2)}); best by top-1 on ${p.select.split} (${p.select.size} images)`);
    const save: LoopOptions['save'] = async (dir, st) => {
      await saveTeacherCheckpoint(dir, teacher, {
        tokenizerFiles,
        preprocessorConfig: (t.checkpointConfig.preprocessor_config as Record<string, unknown> | undefined) ?? undefined,
        provenance: o.provenance ?? {},
        ...(source !== undefined && source !== null && typeof source === 'object' ? { source: source as Record<string, unknown> } : {}),
        extra: {
          stage: 'finetune-teacher',
          dataset: p.train.dataset,
          classNames: p.candidates.names,
          loss: 'ce',
          selectOn: opt.selectOn,
          initFrom: opt.teacher,
        },
        trainingState: { tensors: optimizer.stateTensors(), info: trainingInfo(st, optimizer, { seed: opt.seed }) },
      });
    };
    const r = await runLoop(task, optimizer, run, state, finetuneLoopOptions(opt, o, save));
    return {
      out: run.root,
      dataset: p.train.dataset,
      loss: 'ce',
      gate: false,
      selectOn: opt.selectOn as 'val' | 'test',
      classes: W.numClasses,
      stopped: r.stopped,
      epochs: r.state.epoch,
      steps: r.state.step,
      lastEpoch: r.lastEpoch,
      checkpoint: r.latest,
      best: r.best ? run.checkpointPath(r.best.checkpoint) : undefined,
      bestMetric: r.best,
      target: 'teacher',
    };
  } finally {
    for (const c of closers.reverse()) await c();
    teacher.dispose();
  }
}
