/**
 * Top-1 and top-5 of a zero-shot classifier W over a labelled validation loader: what the
 * fine-tuning tasks (student and teacher) report as val_top1 / val_top5.
 */
import * as tf from '../../tf';
import type { DataLoader } from '../../data/loader';
import { ZeroShotClassifier } from '../../eval/classifier';

export async function validateTopK(
  loader: DataLoader,
  W: tf.Tensor2D,
  encode: (images: tf.Tensor4D) => tf.Tensor2D,
  onProgress?: (text: string) => void,
): Promise<Record<string, number>> {
  const clf = new ZeroShotClassifier({ weights: W.dataSync() as Float32Array, numClasses: W.shape[0], dim: W.shape[1] });
  let correct = 0;
  let correct5 = 0;
  let n = 0;
  try {
    for await (const b of loader.epoch(0)) {
      const f = tf.tidy(() => encode(tf.tensor4d(b.images, b.shape)));
      const pred = clf.classify(f);
      f.dispose();
      for (let i = 0; i < b.labels.length; i++) {
        const row = pred.topk.subarray(i * pred.k, (i + 1) * pred.k);
        if (row[0] === b.labels[i]) correct++;
        if (row.includes(b.labels[i])) correct5++;
      }
      n += b.labels.length;
      onProgress?.(`validation: ${n} images`);
    }
  } finally {
    clf.dispose();
  }
  return n > 0 ? { val_top1: correct / n, val_top5: correct5 / n } : {};
}
