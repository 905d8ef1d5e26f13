/**
 * Losses on projected embeddings.
 *
 * Alignment (METHOD.md section 6): L = mean_batch(1 - cos(student, teacher)), each vector
 * L2-normalised with its norm clamped at 1e-8 (x / max(||x||, eps), PyTorch's
 * F.cosine_similarity / F.normalize convention).
 */
import * as tf from '@tensorflow/tfjs';
import { NORM_EPS, cosineSimilarity } from '../models/normalize';

/** mean over the batch of 1 - cos(student_i, teacher_i); student and teacher [B, D]. */
export function alignmentLoss(student: tf.Tensor, teacher: tf.Tensor, eps = NORM_EPS): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sub(1, cosineSimilarity(student, teacher, eps))) as tf.Scalar);
}
