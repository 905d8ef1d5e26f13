/**
 * Normalisation of embeddings, shared by the models' consumers (zero-shot classification,
 * training losses): PyTorch's F.normalize / F.cosine_similarity conventions.
 */
import * as tf from '../tf';

export const NORM_EPS = 1e-8;

/**
 * x / max(||x||_2, eps) along the last axis. Computed as x / sqrt(max(sum x^2, eps^2)): the same
 * value, but with a zero (not NaN) gradient at x = 0, like PyTorch's F.normalize.
 */
export function l2Normalize(x: tf.Tensor, eps = NORM_EPS): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), eps * eps))));
}

/** Cosine similarity of matching rows: [B, D] x [B, D] -> [B]. */
export function cosineSimilarity(a: tf.Tensor, b: tf.Tensor, eps = NORM_EPS): tf.Tensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`cosineSimilarity: shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
  return tf.tidy(() => tf.sum(tf.mul(l2Normalize(a, eps), l2Normalize(b, eps)), -1));
}
