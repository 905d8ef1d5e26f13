/**
 * Losses on projected embeddings.
 *
 * Alignment (METHOD.md section 6): L = mean_batch(1 - cos(student, teacher)), each vector
 * L2-normalised with its norm clamped at 1e-8 (x / max(||x||, eps), PyTorch's
 * F.cosine_similarity / F.normalize convention).
 */
import * as tf from '@tensorflow/tfjs';
import { NORM_EPS, cosineSimilarity, l2Normalize } from '../models/normalize';

/** mean over the batch of 1 - cos(student_i, teacher_i); student and teacher [B, D]. */
export function alignmentLoss(student: tf.Tensor, teacher: tf.Tensor, eps = NORM_EPS): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sub(1, cosineSimilarity(student, teacher, eps))) as tf.Scalar);
}

/** The largest logit scale CLIP allows: exp(s) <= 100 (OpenAI clamps the learnt temperature there). */
export const MAX_LOGIT_SCALE = Math.log(100);

/**
 * CLIP's symmetric InfoNCE: logits = exp(s) * normalize(img) @ normalize(txt)^T [B, B]; pair i is
 * the positive of row i and of column i; L = (CE(logits, diag) + CE(logits^T, diag)) / 2, each CE
 * the mean over the batch. `logScale` is s (a scalar tensor; CLIP learns it, init ln(1/0.07)).
 */
export function contrastiveLoss(image: tf.Tensor, text: tf.Tensor, logScale: tf.Tensor, eps = NORM_EPS): tf.Scalar {
  if (image.rank !== 2 || text.rank !== 2 || image.shape[0] !== text.shape[0] || image.shape[1] !== text.shape[1]) {
    throw new Error(`contrastiveLoss: image [${image.shape.join(', ')}] and text [${text.shape.join(', ')}] must both be [B, D]`);
  }
  return tf.tidy(() => {
    const b = image.shape[0] as number;
    const logits = tf.mul(tf.matMul(l2Normalize(image, eps), l2Normalize(text, eps), false, true), tf.exp(tf.reshape(logScale, [])));
    const diag = tf.oneHot(tf.range(0, b, 1, 'int32'), b);
    const ce = (z: tf.Tensor): tf.Tensor => tf.neg(tf.mean(tf.sum(tf.mul(diag, tf.logSoftmax(z, -1)), -1)));
    return tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2) as tf.Scalar;
  });
}
