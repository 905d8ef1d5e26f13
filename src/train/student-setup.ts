/**
 * The student a training run starts from: a checkpoint (`--checkpoint`, or the run's own when resuming),
 * or a fresh preset sized to the teacher. A fresh student takes its embedding width from the
 * teacher's projection, and its text encoder's vocabulary, token width and positions from the
 * teacher's text tower, whose token and position embeddings it copies (docs/method.md §4).
 */
import * as tf from '../tf';
import { getPreset, validateConfig, type SpikeClipConfig } from '../models/config';
import type { ClipConfig } from '../models/clip-config';
import { SpikeClip } from '../models/spikeclip';
import type { ClipTeacher } from '../models/clip-teacher';
import { readCheckpointConfig } from '../io/checkpoint';
import { readTeacherCheckpointInfo } from '../teacher/checkpoint';
import { TrainError } from './errors';

/** The preset, resized to fit the teacher (vocabulary, token width, positions, embedding width). */
export function studentConfigFor(preset: string, teacher: ClipConfig | undefined, vocabSize?: number): SpikeClipConfig {
  const c = getPreset(preset);
  if (teacher) {
    const t = teacher.text;
    c.image.outputDim = teacher.projectionDim;
    c.text.outputDim = teacher.projectionDim;
    c.text.vocabSize = t.vocabSize;
    c.text.width = t.hiddenSize;
    c.text.maxPositions = t.maxPositions;
    c.text.contextLength = Math.min(c.text.contextLength, t.maxPositions);
  } else if (vocabSize !== undefined) {
    c.text.vocabSize = vocabSize;
  }
  return validateConfig(c);
}

/** Refuses a student whose embedding width differs from the teacher's (both numbers named). */
export function checkStudentFitsTeacher(student: SpikeClipConfig, teacher: ClipConfig, what: string, teacherDir: string): void {
  if (student.image.outputDim !== teacher.projectionDim) {
    throw new TrainError(
      `${what} embeds into ${student.image.outputDim} dimensions but the teacher ${teacherDir} projects to ${teacher.projectionDim}`,
      'E_WIDTH',
      'distil from a teacher of the same embedding width, or start a fresh student (--preset) that takes the teacher\'s width',
    );
  }
}

/** Copies the teacher's token and position embeddings into the student's text encoder. */
export function copyTeacherEmbeddings(student: SpikeClip, teacher: ClipTeacher): void {
  const emb = teacher.text_model.embeddings;
  const tok = emb.token_embedding.weight;
  const pos = emb.position_embedding.weight;
  student.text.initEmbeddings(
    { shape: tok.shape.slice(), data: tok.dataSync() as Float32Array },
    { shape: pos.shape.slice(), data: pos.dataSync() as Float32Array },
  );
}

/**
 * Makes a fresh text encoder fire. With the reference initialisation (token embeddings of
 * std 0.02 or CLIP's copies, PyTorch's fc init) no membrane reaches the threshold: no layer
 * spikes and every prompt gets fc2's bias, so all class vectors of W are the same. A fresh student
 * used as a fixed class-vector head (the from-scratch baseline of `finetune`) instead gets token
 * embeddings N(0, 1) and fc1's weights x8: measured on CIFAR-10's 10 x 18 prompts, the class vectors
 * then differ (min distance of the L2-normalised rows 0.19 for the tiny preset; 0 before).
 */
export function firingTextInit(model: SpikeClip, seed: number): void {
  const emb = model.text.clip_embedding.token_embedding.weight;
  const fc1 = model.text.fc1.weight;
  tf.tidy(() => {
    emb.assign(tf.randomNormal(emb.shape, 0, 1, 'float32', seed + 101));
    fc1.assign(tf.mul(fc1, 8));
  });
}

/**
 * Groups of classes whose class vectors (rows of W) are the same to 6 significant digits (each
 * group of 2 or more, in class order). A spiking text encoder's output is a function of binary
 * spikes, so prompts that raise the same spikes get exactly the same vector.
 */
export function identicalClassVectors(weights: Float32Array, numClasses: number, dim: number): number[][] {
  const key = (c: number) => Array.from(weights.subarray(c * dim, (c + 1) * dim), (v) => v.toPrecision(6)).join(',');
  const groups = new Map<string, number[]>();
  for (let c = 0; c < numClasses; c++) {
    const k = key(c);
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/** The config of `--teacher DIR` (no weights read): refused unless it is a teacher checkpoint. */
export async function readTeacherConfig(dir: string): Promise<ClipConfig> {
  const cc = await readCheckpointConfig(dir);
  if (cc.kind !== 'teacher') throw new TrainError(`--teacher ${dir} is a ${String(cc.kind)} checkpoint, not a teacher`, 'E_TEACHER', 'give a teacher checkpoint (kind "teacher", from `spikeclip convert teacher`)');
  return (await readTeacherCheckpointInfo(dir)).config;
}
