/**
 * Losses on projected embeddings.
 *
 * Alignment (docs/method.md §6): L = mean_batch(1 - cos(student, teacher)), each vector
 * L2-normalised with its norm clamped at 1e-8 (x / max(||x||, eps), PyTorch's
 * F.cosine_similarity / F.normalize convention).
 */
import * as tf from '../tf';
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

export type KlReduction = 'sum' | 'batchmean';

/**
 * KL(p || softmax(z / T)) of a batch: sum_i sum_c p_ic (log p_ic - log_softmax(z_i / T)_c), summed
 * over the batch ('sum', the reference's F.kl_div(..., reduction='sum')) or divided by the batch
 * size ('batchmean'). `p` [B, C] rows are probabilities (zeros contribute nothing).
 */
export function klDivergence(p: tf.Tensor, z: tf.Tensor, reduction: KlReduction, temperature = 1): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(temperature === 1 ? z : tf.div(z, temperature), -1);
    const safeLogP = tf.log(tf.maximum(p, 1e-30));
    const terms = tf.mul(p, tf.sub(safeLogP, logQ));
    const sum = tf.sum(terms);
    return (reduction === 'sum' ? sum : tf.div(sum, p.shape[0] as number)) as tf.Scalar;
  });
}

/** Mean cross-entropy of logits z [B, C] against integer labels y [B]. */
export function crossEntropy(z: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const C = z.shape[z.rank - 1] as number;
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, C), tf.logSoftmax(z, -1)), -1))) as tf.Scalar;
  });
}

/** The teacher's class distribution p = softmax(normalize(f_teacher) @ W^T / T); W [C, D] rows as given. */
export function teacherDistribution(teacherFeatures: tf.Tensor, classMatrix: tf.Tensor2D, temperature = 1): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(tf.div(tf.matMul(l2Normalize(teacherFeatures), classMatrix, false, true), temperature), -1) as tf.Tensor2D);
}

/**
 * The angle in degrees between two gradients (each a list of tensors over the same parameters),
 * as the gate mode compares the CE and KL gradients. 90 when either is zero.
 */
export function gradientAngle(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const [d, x, y] = tf.tidy(() => [tf.sum(tf.mul(a[i], b[i])), tf.sum(tf.square(a[i])), tf.sum(tf.square(b[i]))]).map((t) => {
      const v = t.dataSync()[0];
      t.dispose();
      return v;
    });
    dot += d;
    na += x;
    nb += y;
  }
  if (na === 0 || nb === 0) return 90;
  const cos = Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
  return (Math.acos(cos) * 180) / Math.PI;
}
