/**
 * The two kinds of checkpoint eval works with, behind one interface: a student (the spiking
 * image and text encoders; 32x32 student view; texts tokenized with the checkpoint's tokenizer/
 * files to the text encoder's context length, padded with the end token) and a CLIP teacher
 * (Hugging Face CLIP from `convert teacher`; its own preprocessing — Pillow-exact resize to 224 and
 * centre crop for CLIP, as `embed` does; 77-token texts).
 * Both run with BatchNorm (students) in inference mode.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { EXIT, UserError } from '../cli/errors';
import type { ClipPreprocessConfig } from '../data/clip-preprocess';
import { CLIP_MEAN, CLIP_STD, StudentResize, studentView, ViewSpec } from '../data/transforms';
import { CheckpointError, checkpointHash, loadCheckpoint, readCheckpointConfig } from '../io/checkpoint';
import type { SpikeMonitor } from '../snn/monitor';
import { ClipTokenizer } from '../text/tokenizer';

/** How images reach the model. */
export type ImageInput =
  /** Through the data loader: a geometric view, then (x/255 - mean) / std. */
  | { kind: 'view'; view: ViewSpec; mean: readonly number[]; std: readonly number[] }
  /** A teacher: its checkpoint's CLIP preprocessing (preprocessor_config.json), image by image. */
  | { kind: 'clip'; preprocess: ClipPreprocessConfig; size: number };

export interface EvalModel {
  kind: 'student' | 'teacher';
  /** The checkpoint directory (absolute). */
  dir: string;
  /** sha256 of model.safetensors. */
  hash: string;
  /** Embedding width. */
  dim: number;
  imageSize: number;
  contextLength: number;
  /** Time steps of the image encoder (students); undefined for the teacher. */
  timeSteps?: number;
  /** One line: what the model is. */
  description: string;
  image: ImageInput;
  /** sha256 over the tokenizer files (part of the class-matrix cache key). */
  tokenizerHash: string;
  /** Texts -> text features [n, dim] (not normalised). Call inside tf.tidy. */
  encodeTexts(texts: string[]): tf.Tensor2D;
  /** Preprocessed images NHWC -> image features [B, dim] (not normalised); students report spikes to `monitor`. Call inside tf.tidy. */
  encodeImages(images: tf.Tensor4D, monitor?: SpikeMonitor): tf.Tensor2D;
  dispose(): void;
}

export interface LoadEvalModelOptions {
  /** How a student sees images (default 'reference', as the reference code). */
  studentResize?: StudentResize;
}

function hashFiles(files: ReadonlyMap<string, Uint8Array>, names: readonly string[]): string {
  const h = createHash('sha256');
  for (const n of names) {
    const f = files.get(n);
    h.update(`${n}\0${f?.length ?? -1}\0`);
    if (f) h.update(f);
  }
  return h.digest('hex');
}

/** Error for a student checkpoint without tokenizer files: names the fix. */
export function missingTokenizerError(dir: string): UserError {
  return new UserError(`${dir} has no tokenizer/ folder (vocab.json and merges.txt), so its text encoder cannot build the zero-shot classifier`, {
    code: 'E_TOKENIZER',
    exitCode: EXIT.badInput,
    fix: `copy vocab.json and merges.txt from the teacher checkpoint's tokenizer/ folder into ${path.join(dir, 'tokenizer')} (the student uses CLIP's tokenizer)`,
  });
}

async function loadStudent(dir: string, hash: string, opts: LoadEvalModelOptions): Promise<EvalModel> {
  const { loadStudentCheckpoint } = await import('../train/student-checkpoint');
  const s = await loadStudentCheckpoint(dir);
  try {
    const files = s.tokenizerFiles;
    if (!files || !files.has('vocab.json') || !files.has('merges.txt')) throw missingTokenizerError(dir);
    const dec = new TextDecoder();
    const tokenizer = ClipTokenizer.fromHuggingFace(dec.decode(files.get('vocab.json')), dec.decode(files.get('merges.txt')), path.join(dir, 'tokenizer'));
    const txt = s.config.text;
    const img = s.config.image;
    if (tokenizer.vocabSize > txt.vocabSize) {
      throw new CheckpointError(dir, `${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but the text encoder's embedding has ${txt.vocabSize} rows (tokenizer/ and the weights do not belong together)`);
    }
    const L = txt.contextLength;
    const padId = tokenizer.endId;
    const model = s.model;
    return {
      kind: 'student',
      dir,
      hash,
      dim: img.outputDim,
      imageSize: img.imageSize,
      contextLength: L,
      timeSteps: img.timeSteps,
      description: `student (spiking; image T=${img.timeSteps}, D=${img.embedDim}, depth ${img.depth}; text T=${txt.timeSteps}, ${L} tokens; ${img.outputDim}-d embeddings)`,
      image: { kind: 'view', view: studentView({ size: img.imageSize, resize: opts.studentResize ?? 'reference' }), mean: CLIP_MEAN, std: CLIP_STD },
      tokenizerHash: hashFiles(files, ['vocab.json', 'merges.txt']),
      encodeTexts(texts) {
        const ids = tokenizer.encodeBatch(texts, L, { padId });
        return model.encodeText(tf.tensor2d(ids, [texts.length, L], 'int32'), { training: false });
      },
      encodeImages(images, monitor) {
        return model.encodeImage(images, { training: false, monitor });
      },
      dispose: () => model.dispose(),
    };
  } catch (e) {
    s.model.dispose();
    throw e;
  }
}

async function loadTeacher(dir: string, hash: string): Promise<EvalModel> {
  const { loadTeacherCheckpoint } = await import('../teacher/checkpoint');
  const t = await loadTeacherCheckpoint(dir);
  const S = t.config.vision.imageSize;
  const L = t.contextLength;
  const tok = t.tokenizer;
  const v = t.config.vision;
  // the tokenizer files themselves, for the cache key (config and tokenizer only: no weights)
  const files = (await loadCheckpoint(dir, { weights: false })).tokenizerFiles ?? new Map<string, Uint8Array>();
  return {
    kind: 'teacher',
    dir,
    hash,
    dim: t.config.projectionDim,
    imageSize: S,
    contextLength: L,
    description: `teacher (CLIP ViT: ${v.numLayers} layers, width ${v.hiddenSize}, patch ${v.patchSize}, ${S}x${S} input; ${L}-token texts; ${t.config.projectionDim}-d embeddings)`,
    // the checkpoint's own CLIP preprocessing (Pillow's resampling, as Hugging Face's processor), as `embed` uses
    image: { kind: 'clip', preprocess: t.preprocess, size: S },
    tokenizerHash: hashFiles(files, ['vocab.json', 'merges.txt']),
    encodeTexts(texts) {
      const ids = tok.encodeBatch(texts, L, { padId: tok.endId });
      return t.teacher.encodeText({ ids, batch: texts.length, length: L });
    },
    encodeImages(images) {
      return t.teacher.encodeImage(images);
    },
    dispose: () => t.teacher.dispose(),
  };
}

/**
 * The cheap checks (no weights read, no TF.js): a student or teacher checkpoint, and for a student
 * its tokenizer files. Returns the kind.
 */
export async function checkEvalCheckpoint(dir: string): Promise<'student' | 'teacher'> {
  const abs = path.resolve(dir);
  const cc = await readCheckpointConfig(abs);
  if (cc.kind !== 'student' && cc.kind !== 'teacher') {
    throw new CheckpointError(abs, `${abs} is a ${String(cc.kind)} checkpoint; eval works with student and teacher checkpoints`);
  }
  if (cc.kind === 'student') {
    const files = (await loadCheckpoint(abs, { weights: false })).tokenizerFiles;
    if (!files || !files.has('vocab.json') || !files.has('merges.txt')) throw missingTokenizerError(abs);
  }
  return cc.kind as 'student' | 'teacher';
}

/** Loads a student or teacher checkpoint for evaluation (any other kind is refused). */
export async function loadEvalModel(dir: string, opts: LoadEvalModelOptions = {}): Promise<EvalModel> {
  const abs = path.resolve(dir);
  const kind = await checkEvalCheckpoint(abs);
  const hash = await checkpointHash(abs);
  return kind === 'student' ? loadStudent(abs, hash, opts) : loadTeacher(abs, hash);
}
