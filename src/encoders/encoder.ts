/**
 * One "student or teacher" encoder interface, used by embed, eval and training alike.
 *
 * A student (the spiking image and text encoders) sees the 32x32 student view and tokenizes texts
 * with its checkpoint's tokenizer/ files to the text encoder's context length (20), padded with the
 * end token. A teacher (Hugging Face CLIP from `convert teacher`, or one trained by `pretrain --part
 * clip --target teacher`) sees its own CLIP preprocessing (Pillow-exact shortest side + centre
 * crop, 224 for CLIP) and 77-token texts. Preprocessing is part of the encoder: callers hand over
 * image sources (or loader batches of the encoder's view) and texts.
 *
 * Features are returned unnormalised; BatchNorm runs in inference mode unless `training` is asked.
 */
import * as path from 'path';
import * as tf from '../tf';
import { CheckpointError, checkpointHash, loadCheckpoint, readCheckpointConfig } from '../io/checkpoint';
import { type ClipPreprocessConfig, preprocessClipImages } from '../data/clip-preprocess';
import { CLIP_MEAN, CLIP_STD, type StudentResize, type ViewSpec, normaliseInto, normalisationTables, applyView, studentView } from '../data/transforms';
import type { ImageSource } from '../data/types';
import type { SpikeClip } from '../models/spikeclip';
import type { SpikeMonitor } from '../snn/monitor';
import type { LoadedTeacher } from '../teacher/checkpoint';
import type { ClipTokenizer } from '../text/tokenizer';
import { hasTokenizerFiles, tokenizerFilesHash, tokenizerFromFiles } from '../text/tokenizer-files';
import { EncoderError } from './errors';

/** How images reach an encoder. */
export type ImageInput =
  /** Through the data loader: a geometric view, then (x/255 - mean) / std. */
  | { kind: 'view'; view: ViewSpec; mean: readonly number[]; std: readonly number[] }
  /** A teacher: its checkpoint's CLIP preprocessing (preprocessor_config.json), image by image. */
  | { kind: 'clip'; preprocess: ClipPreprocessConfig; size: number };

export interface EncodeOptions {
  /** Training mode (BatchNorm batch statistics; gradients flow). Default false. */
  training?: boolean;
  /** Spike monitor for the image encoder's firing rates (students only). */
  monitor?: SpikeMonitor;
}

export interface Encoder {
  kind: 'student' | 'teacher';
  /** The checkpoint directory (absolute), when the encoder came from one. */
  dir?: string;
  /** sha256 of model.safetensors, when the encoder came from a checkpoint. */
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
  /** The tokenizer, when the checkpoint has one (a student may have none: images only). */
  tokenizer?: ClipTokenizer;
  tokenizerFiles?: ReadonlyMap<string, Uint8Array>;
  /** sha256 over the tokenizer files ('' without a tokenizer). */
  tokenizerHash: string;
  /** CLIP's learnt logit scale (log of the temperature's inverse), teachers only. */
  logitScale?: number;
  /** Texts -> token ids [n * contextLength] (start ... end, padded with the end token). */
  tokenize(texts: readonly string[]): Int32Array;
  /** Token ids int32 [n, contextLength] -> text features [n, dim]. Call inside tf.tidy. */
  encodeTokens(ids: tf.Tensor2D, opts?: EncodeOptions): tf.Tensor2D;
  /** Texts -> text features [n, dim]. Call inside tf.tidy. */
  encodeTexts(texts: readonly string[], opts?: EncodeOptions): tf.Tensor2D;
  /** Preprocessed images NHWC -> image features [B, dim]. Call inside tf.tidy. */
  encodeImages(images: tf.Tensor4D, opts?: EncodeOptions): tf.Tensor2D;
  /** The encoder's preprocessing of image sources: Float32 NHWC [n, S, S, 3]. */
  preprocessImages(sources: readonly ImageSource[]): Promise<Float32Array>;
  dispose(): void;
}

/** Error for a student checkpoint without tokenizer files: names the fix. */
export function missingTokenizerError(dir: string): EncoderError {
  return new EncoderError(
    `${dir} has no tokenizer/ folder (vocab.json and merges.txt), so its text encoder cannot encode texts`,
    'E_TOKENIZER',
    `copy vocab.json and merges.txt from the teacher checkpoint's tokenizer/ folder into ${path.join(dir, 'tokenizer')} (the student uses CLIP's tokenizer)`,
  );
}

/** Preprocessing of a view input: geometric view, then normalisation, image by image. */
async function preprocessView(input: Extract<ImageInput, { kind: 'view' }>, sources: readonly ImageSource[]): Promise<Float32Array> {
  const S = input.view.size;
  const per = S * S * 3;
  const out = new Float32Array(sources.length * per);
  const tables = normalisationTables(input.mean, input.std);
  for (let i = 0; i < sources.length; i++) normaliseInto(await applyView(sources[i], input.view), out, i * per, tables);
  return out;
}

export interface StudentEncoderOptions {
  dir?: string;
  hash?: string;
  tokenizerFiles?: ReadonlyMap<string, Uint8Array>;
  /** How the student sees images (default 'reference', as the reference code). */
  studentResize?: StudentResize;
}

/** An encoder over a live student model (the caller keeps ownership of `model` unless it calls dispose()). */
export function studentEncoder(model: SpikeClip, o: StudentEncoderOptions = {}): Encoder {
  const where = o.dir ?? 'student';
  const tokenizer = hasTokenizerFiles(o.tokenizerFiles) ? tokenizerFromFiles(o.tokenizerFiles, path.join(where, 'tokenizer')) : undefined;
  const img = model.config.image;
  const txt = model.config.text;
  if (tokenizer && tokenizer.vocabSize > txt.vocabSize) {
    throw new CheckpointError(where, `${where}: the tokenizer has ${tokenizer.vocabSize} tokens but the text encoder's embedding has ${txt.vocabSize} rows (tokenizer/ and the weights do not belong together)`);
  }
  const L = txt.contextLength;
  const image: ImageInput = { kind: 'view', view: studentView({ size: img.imageSize, resize: o.studentResize ?? 'reference' }), mean: CLIP_MEAN, std: CLIP_STD };
  const tokenize = (texts: readonly string[]): Int32Array => {
    if (!tokenizer) throw missingTokenizerError(where);
    return tokenizer.encodeBatch([...texts], L, { padId: tokenizer.endId });
  };
  const encodeTokens = (ids: tf.Tensor2D, opts: EncodeOptions = {}): tf.Tensor2D => model.encodeText(ids, { training: opts.training ?? false });
  return {
    kind: 'student',
    dir: o.dir,
    hash: o.hash ?? '',
    dim: img.outputDim,
    imageSize: img.imageSize,
    contextLength: L,
    timeSteps: img.timeSteps,
    description: `student (spiking; image T=${img.timeSteps}, D=${img.embedDim}, depth ${img.depth}; text T=${txt.timeSteps}, ${L} tokens; ${img.outputDim}-d embeddings)`,
    image,
    tokenizer,
    tokenizerFiles: tokenizer ? o.tokenizerFiles : undefined,
    tokenizerHash: tokenizer && o.tokenizerFiles ? tokenizerFilesHash(o.tokenizerFiles) : '',
    tokenize,
    encodeTokens,
    encodeTexts(texts, opts) {
      const ids = tokenize(texts);
      return tf.tidy(() => encodeTokens(tf.tensor2d(ids, [texts.length, L], 'int32'), opts));
    },
    encodeImages(images, opts = {}) {
      return model.encodeImage(images, { training: opts.training ?? false, monitor: opts.monitor });
    },
    preprocessImages: (sources) => preprocessView(image as Extract<ImageInput, { kind: 'view' }>, sources),
    dispose: () => model.dispose(),
  };
}

/** An encoder over a loaded teacher (frozen: its features never need gradients). */
export function teacherEncoder(t: LoadedTeacher, hash: string): Encoder {
  const S = t.config.vision.imageSize;
  const L = t.contextLength;
  const tok = t.tokenizer;
  const v = t.config.vision;
  const tokenize = (texts: readonly string[]): Int32Array => tok.encodeBatch([...texts], L, { padId: tok.endId });
  const encodeTokens = (ids: tf.Tensor2D): tf.Tensor2D => t.teacher.encodeText(ids);
  return {
    kind: 'teacher',
    dir: t.dir,
    hash,
    dim: t.config.projectionDim,
    imageSize: S,
    contextLength: L,
    description: `teacher (CLIP ViT: ${v.numLayers} layers, width ${v.hiddenSize}, patch ${v.patchSize}, ${S}x${S} input; ${L}-token texts; ${t.config.projectionDim}-d embeddings)`,
    // the checkpoint's own CLIP preprocessing (Pillow's resampling, as Hugging Face's processor)
    image: { kind: 'clip', preprocess: t.preprocess, size: S },
    tokenizer: tok,
    tokenizerFiles: t.tokenizerFiles,
    tokenizerHash: tokenizerFilesHash(t.tokenizerFiles),
    logitScale: t.teacher.logit_scale.dataSync()[0],
    tokenize,
    encodeTokens,
    encodeTexts(texts) {
      const ids = tokenize(texts);
      return t.teacher.encodeText({ ids, batch: texts.length, length: L });
    },
    encodeImages(images) {
      return t.teacher.encodeImage(images);
    },
    preprocessImages: (sources) => preprocessClipImages(sources, t.preprocess, S),
    dispose: () => t.teacher.dispose(),
  };
}

export interface CheckEncoderOptions {
  /** Refuse a student checkpoint without tokenizer files (eval needs texts). */
  requireTokenizer?: boolean;
  /** What the encoder is for, in the error when the kind is wrong (e.g. 'eval'). */
  purpose?: string;
}

/**
 * The cheap checks (no weights read, no TF.js): a student or teacher checkpoint and, when asked,
 * a student's tokenizer files. Returns the kind.
 */
export async function checkEncoderCheckpoint(dir: string, o: CheckEncoderOptions = {}): Promise<'student' | 'teacher'> {
  const abs = path.resolve(dir);
  const cc = await readCheckpointConfig(abs);
  if (cc.kind !== 'student' && cc.kind !== 'teacher') {
    throw new CheckpointError(abs, `${abs} is a ${String(cc.kind)} checkpoint; ${o.purpose ?? 'this command'} works with student and teacher checkpoints`);
  }
  if (cc.kind === 'student' && o.requireTokenizer) {
    const files = (await loadCheckpoint(abs, { weights: false })).tokenizerFiles;
    if (!hasTokenizerFiles(files)) throw missingTokenizerError(abs);
  }
  return cc.kind as 'student' | 'teacher';
}

export interface LoadEncoderOptions extends CheckEncoderOptions {
  /** How a student sees images (default 'reference'). */
  studentResize?: StudentResize;
}

/** Loads a student or teacher checkpoint as an encoder (any other kind is refused). */
export async function loadEncoder(dir: string, o: LoadEncoderOptions = {}): Promise<Encoder> {
  const abs = path.resolve(dir);
  const kind = await checkEncoderCheckpoint(abs, o);
  const hash = await checkpointHash(abs);
  if (kind === 'teacher') {
    const { loadTeacherCheckpoint } = await import('../teacher/checkpoint');
    return teacherEncoder(await loadTeacherCheckpoint(abs), hash);
  }
  const { loadStudentCheckpoint } = await import('../student/checkpoint');
  const s = await loadStudentCheckpoint(abs);
  try {
    return studentEncoder(s.model, { dir: abs, hash, tokenizerFiles: s.tokenizerFiles, studentResize: o.studentResize });
  } catch (e) {
    s.model.dispose();
    throw e;
  }
}
