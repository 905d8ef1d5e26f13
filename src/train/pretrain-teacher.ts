/**
 * `pretrain --part clip --target teacher`: contrastive training from scratch of a small ANN CLIP
 * in the Hugging Face layout (presets clip-tiny, clip-small), written as a teacher checkpoint that
 * every other command accepts. Its tokenizer is a byte-level BPE in CLIP's layout, trained on the
 * source's captions (or its templates x class names), so nothing needs downloading.
 */
import { DataLoader } from '../data/loader';
import { teacherView, CLIP_MEAN, CLIP_STD } from '../data/transforms';
import type { DatasetSplit } from '../data/types';
import { defaultTemplates, fillPrompt } from '../eval/label-files';
import { loadCheckpoint } from '../io/checkpoint';
import { createTeacher } from '../models/clip-init';
import { CLIP_PRESET_NAMES, getClipPreset } from '../models/clip-presets';
import type { ClipTeacher } from '../models/clip-teacher';
import { toTensorData } from '../student/checkpoint';
import { loadTeacherCheckpoint } from '../teacher/checkpoint';
import { saveTeacherCheckpoint } from '../teacher/save';
import { clipTokenizerFiles, trainClipBpe } from '../text/bpe-train';
import type { ClipTokenizer } from '../text/tokenizer';
import { tokenizerFromFiles } from '../text/tokenizer-files';
import { trainUsage } from './errors';
import { initialLoopState, runLoop } from './loop';
import { Adam } from './optimizer';
import { cacheRoot, imageSplits, loopOptions, type PreparedPretrain, type PretrainResult } from './pretrain';
import { restoreTrainingState, trainingInfo } from './resume';
import type { RunDir } from './run-dir';
import { ContrastiveTask, type ContrastiveModel } from './tasks/contrastive';

/** Every text the teacher's tokenizer should know: the captions, else each class's prompts. */
export function captionCorpus(split: DatasetSplit, templates: readonly string[]): string[] {
  const out = new Set<string>();
  for (let i = 0; i < split.size; i++) {
    const c = split.sample(i).caption;
    if (c !== undefined && c !== '') out.add(c);
  }
  for (const name of split.classNames) for (const t of templates) out.add(fillPrompt(t, name));
  return [...out];
}

/** The teacher as the contrastive task sees it. */
function asContrastive(teacher: ClipTeacher, tokenizer: ClipTokenizer): ContrastiveModel {
  const L = teacher.config.text.maxPositions;
  return {
    params: teacher.namedParameters(),
    textParams: new Set(teacher.namedParameters().map(([n]) => n).filter((n) => n.startsWith('text_model.') || n === 'text_projection.weight')),
    logScale: teacher.logit_scale,
    contextLength: L,
    tokenize: (texts) => tokenizer.encodeBatch([...texts], L, { padId: tokenizer.endId }),
    encodeImages: (images) => teacher.encodeImage(images),
    encodeTokens: (ids) => teacher.encodeText(ids),
  };
}

export async function executeTeacherPretrain(p: PreparedPretrain, run: RunDir): Promise<PretrainResult> {
  const o = p.o;
  const ph = p.phases[0];
  const preset = p.options.preset as string;
  if (!CLIP_PRESET_NAMES.includes(preset)) throw trainUsage(`--preset ${preset} is not a CLIP teacher preset`, `choose one of ${CLIP_PRESET_NAMES.join(', ')}`);
  const log = (line: string): void => {
    run.log(line);
    o.onLog?.(line);
  };
  const { train, val } = await imageSplits(p);
  const templates = defaultTemplates(p.imageDatasets[0]);
  let teacher: ClipTeacher;
  let tokenizerFiles: Map<string, Uint8Array>;
  let resume: { tensors?: Map<string, import('../snn/module').TensorData>; info?: Record<string, unknown> } = {};
  if (p.resumeDir !== undefined) {
    const t = await loadTeacherCheckpoint(p.resumeDir);
    teacher = t.teacher;
    tokenizerFiles = t.tokenizerFiles;
    const ck = await loadCheckpoint(p.resumeDir, { weights: false, trainingState: true, tokenizer: false });
    resume = { tensors: ck.trainingState ? toTensorData(ck.trainingState.tensors) : undefined, info: ck.trainingState?.info };
  } else {
    o.onStatus?.('training the tokenizer');
    const corpus = captionCorpus(train, templates);
    const bpe = trainClipBpe(corpus);
    tokenizerFiles = clipTokenizerFiles(bpe, { contextLength: getClipPreset(preset).text.maxPositions });
    log(`tokenizer: byte-level BPE with ${bpe.merges.length} merges (${bpe.vocabSize} tokens) learnt from ${corpus.length} texts`);
    teacher = createTeacher(preset, { vocabSize: bpe.vocabSize, seed: o.seed ?? 0 });
  }
  const tokenizer = tokenizerFromFiles(tokenizerFiles, 'tokenizer');
  const S = teacher.config.vision.imageSize;
  const cacheDir = cacheRoot(o);
  const loaderOpts = { view: teacherView(S), mean: CLIP_MEAN, std: CLIP_STD, cacheDir: cacheDir === false ? undefined : cacheDir, cache: cacheDir === false ? false : ('auto' as const), workers: o.workers, onWarning: o.onWarning };
  const closers: Array<() => Promise<void> | void> = [];
  try {
    const trainLoader = await DataLoader.open(train, { ...loaderOpts, batchSize: Math.ceil(ph.batchSize / (o.gradAccum ?? 1)), shuffle: true, seed: o.seed ?? 0 });
    closers.push(() => trainLoader.close());
    let valPart: { loader: DataLoader; monitor: boolean } | undefined;
    if (val) {
      const valLoader = await DataLoader.open(val, { ...loaderOpts, batchSize: 64, shuffle: false });
      closers.push(() => valLoader.close());
      valPart = { loader: valLoader, monitor: false };
    }
    const cm = asContrastive(teacher, tokenizer);
    const task = new ContrastiveTask(cm, { loader: trainLoader }, valPart, { seed: o.seed ?? 0, templates, textLrScale: o.textLrScale }, `contrastive (teacher ${preset})`);
    const optimizer = new Adam(task.params, { lr: ph.lr }, task.lrScales());
    closers.push(() => optimizer.dispose());
    const state = p.resumeDir !== undefined ? restoreTrainingState(optimizer, resume.tensors, resume.info, p.resumeDir) : initialLoopState();
    const labelled = train.classNames.length > 0 && train.size > 0 && train.sample(0).label >= 0;
    log(`${task.name}: ${task.batchesPerEpoch()} batches per epoch, ${task.params.reduce((n, [, v]) => n + v.size, 0)} parameters`);
    const r = await runLoop(
      task,
      optimizer,
      run,
      state,
      loopOptions(
        p,
        ph,
        run,
        async (dir, st) => {
          await saveTeacherCheckpoint(dir, teacher, {
            tokenizerFiles,
            provenance: o.provenance ?? {},
            extra: { stage: 'pretrain-clip', preset, data: { datasets: p.imageDatasets } },
            trainingState: { tensors: optimizer.stateTensors(), info: trainingInfo(st, optimizer, { phase: 'clip', seed: o.seed ?? 0 }) },
          });
        },
        labelled ? { metric: 'val_top1', mode: 'max' } : { metric: 'val_loss', mode: 'min' },
      ),
    );
    return {
      out: run.root,
      part: 'clip',
      target: 'teacher',
      phases: [{ part: 'clip', folder: run.root, stopped: r.stopped, epochs: r.state.epoch, steps: r.state.step, lastEpoch: r.lastEpoch, latest: r.latest, best: r.best }],
      checkpoint: r.latest,
      best: r.best ? run.checkpointPath(r.best.checkpoint) : undefined,
      stopped: r.stopped,
    };
  } finally {
    for (const c of closers.reverse()) await c();
    teacher.dispose();
  }
}
