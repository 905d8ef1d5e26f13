/**
 * `finetune --target teacher`: the reference's first fine-tuning stage, which fine-tunes the
 * teacher's image tower on the task before distilling from it (docs/method.md §6). The teacher's
 * own text tower (frozen) builds the class matrix W exactly as `eval` builds it, and
 *
 *   z = exp(s) * normalize(f_img) @ W^T,   L = CE(z, y)   (mean over the batch)
 *
 * with s the teacher's (frozen) logit scale, clamped at ln 100 as CLIP does. Only `vision_model.*`
 * and `visual_projection.*` train; the text tower, its projection and the logit scale stay as
 * they are, so W is valid for the whole run.
 */
import * as tf from '../../tf';
import type { DataLoader } from '../../data/loader';
import type { ClassMatrix } from '../../eval/classifier';
import { validateTopK } from './top-k';
import type { ClipTeacher } from '../../models/clip-teacher';
import { l2Normalize } from '../../models/normalize';
import { crossEntropy, MAX_LOGIT_SCALE } from '../losses';
import type { TaskBatch, TrainTask, ValidationResult } from '../loop';
import type { ParamList } from '../step';

/** The teacher parameters `--target teacher` trains: its image tower and visual projection. */
export function teacherImageParams(teacher: ClipTeacher): ParamList {
  return teacher.namedParameters().filter(([n]) => n.startsWith('vision_model.') || n.startsWith('visual_projection.'));
}

/** exp(logit_scale), clamped at 100 (CLIP's bound). */
export function teacherLogitScale(teacher: ClipTeacher): number {
  return Math.exp(Math.min(teacher.logit_scale.dataSync()[0], MAX_LOGIT_SCALE));
}

/** The teacher's CE of one batch of image features f [B, D] against W [C, D] (scale: exp(s)). */
export function teacherCeLoss(features: tf.Tensor2D, W: tf.Tensor2D, labels: tf.Tensor1D, scale: number): tf.Scalar {
  return tf.tidy(() => crossEntropy(tf.mul(tf.matMul(l2Normalize(features), W, false, true), scale), labels));
}

interface LabelledBatch extends TaskBatch {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
}

export class TeacherCeTask implements TrainTask<LabelledBatch> {
  readonly name = 'fine-tuning the teacher\'s image tower (ce)';
  readonly unit = 'images';
  readonly params: ParamList;
  private readonly W: tf.Tensor2D;
  /** exp(logit_scale), clamped at 100. */
  readonly scale: number;

  constructor(
    private readonly teacher: ClipTeacher,
    classMatrix: ClassMatrix,
    private readonly train: { loader: DataLoader },
    private readonly val: { loader: DataLoader } | undefined,
  ) {
    this.params = teacherImageParams(teacher);
    this.W = tf.tensor2d(classMatrix.weights, [classMatrix.numClasses, classMatrix.dim]);
    this.scale = teacherLogitScale(teacher);
  }

  batchesPerEpoch(): number {
    return this.train.loader.batchesPerEpoch;
  }

  async *batches(epoch: number, from: number): AsyncGenerator<LabelledBatch> {
    for await (const b of this.train.loader.epoch(epoch, from)) {
      const images = tf.tensor4d(b.images, b.shape);
      const labels = tf.tensor1d(b.labels, 'int32');
      yield { index: b.batch, size: b.labels.length, images, labels, dispose: () => tf.dispose([images, labels]) };
    }
  }

  loss(b: LabelledBatch, terms: Record<string, number>): tf.Scalar {
    const l = teacherCeLoss(this.teacher.encodeImage(b.images), this.W, b.labels, this.scale);
    terms.ce = l.dataSync()[0];
    return l;
  }

  /** Top-1 and top-5 of the teacher against W on the selection split. */
  async validate(onProgress?: (text: string) => void): Promise<ValidationResult> {
    if (!this.val) return { metrics: {} };
    const metrics = await validateTopK(this.val.loader, this.W, (x) => this.teacher.encodeImage(x), onProgress);
    return { metrics };
  }

  dispose(): void {
    this.W.dispose();
  }
}
