/**
 * Classification metrics from ranked predictions: top-1, top-5, mean per-class recall,
 * per-class accuracy and the confusion matrix (CLIP_benchmark's definitions).
 *
 * - acc1: fraction of images whose best candidate is their class.
 * - acc5: fraction whose class is among the 5 best candidates; absent when there are fewer than 5
 *   candidates (it would be 1 by construction).
 * - mean per-class recall: the mean, over the classes that have images, of correct / images of
 *   that class (scikit-learn's balanced accuracy, which CLIP_benchmark reports); classes without
 *   images (distractors, or classes a --limit subset missed) do not count.
 * - confusion matrix: rows are the K true classes, columns the C candidates (C > K when
 *   distractors were added), entry [i][j] = images of class i predicted as candidate j.
 */
import { BadInputError } from '../errors';

export interface RankedPredictions {
  /** True class of each image, in [0, K). */
  labels: Int32Array;
  /** Row-major [n, k]: the k best candidates of each image, best first. */
  topk: Int32Array;
  /** Candidates ranked per image (min(5, C) in practice). */
  k: number;
}

export interface ClassAccuracy {
  index: number;
  name: string;
  /** Images of this class. */
  support: number;
  /** Of those, predicted correctly (top-1). */
  correct: number;
  /** correct / support; null when the class has no images. */
  accuracy: number | null;
}

export interface ClassificationMetrics {
  numImages: number;
  /** K: the dataset's classes. */
  numClasses: number;
  /** C: the candidates predictions were made over (K plus distractors). */
  numCandidates: number;
  acc1: number;
  /** Present when there are at least 5 candidates. */
  acc5?: number;
  meanPerClassRecall: number;
  /** Classes with at least one image. */
  classesWithImages: number;
  perClass: ClassAccuracy[];
  /** [K][C] counts. */
  confusion: number[][];
}

export class MetricsError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_METRICS');
    this.name = 'MetricsError';
  }
}

/**
 * Metrics of ranked predictions over `numCandidates` candidates whose first `numClasses` are the
 * true classes (`names`, when given, label the per-class rows).
 */
export function computeMetrics(p: RankedPredictions, numClasses: number, numCandidates: number, names?: readonly string[]): ClassificationMetrics {
  const n = p.labels.length;
  if (n === 0) throw new MetricsError('no images were evaluated');
  if (!Number.isInteger(p.k) || p.k < 1) throw new MetricsError(`k must be a positive integer, got ${p.k}`);
  if (p.topk.length !== n * p.k) throw new MetricsError(`topk has ${p.topk.length} entries, expected ${n} x ${p.k}`);
  if (numCandidates < numClasses) throw new MetricsError(`${numCandidates} candidates cannot cover ${numClasses} classes`);
  if (p.k > numCandidates) throw new MetricsError(`k = ${p.k} is more than the ${numCandidates} candidates`);
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numCandidates).fill(0));
  const support = new Array<number>(numClasses).fill(0);
  const correct = new Array<number>(numClasses).fill(0);
  const k5 = Math.min(5, p.k);
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const y = p.labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new MetricsError(`image ${i} has label ${y}, outside [0, ${numClasses})`);
    const row = p.topk.subarray(i * p.k, (i + 1) * p.k);
    const pred = row[0];
    if (pred < 0 || pred >= numCandidates) throw new MetricsError(`image ${i} was predicted as candidate ${pred}, outside [0, ${numCandidates})`);
    support[y]++;
    confusion[y][pred]++;
    if (pred === y) {
      top1++;
      correct[y]++;
    }
    for (let j = 0; j < k5; j++) {
      if (row[j] === y) {
        top5++;
        break;
      }
    }
  }
  const perClass: ClassAccuracy[] = support.map((s, c) => ({
    index: c,
    name: names?.[c] ?? String(c),
    support: s,
    correct: correct[c],
    accuracy: s > 0 ? correct[c] / s : null,
  }));
  const present = perClass.filter((c) => c.support > 0);
  const out: ClassificationMetrics = {
    numImages: n,
    numClasses,
    numCandidates,
    acc1: top1 / n,
    meanPerClassRecall: present.reduce((s, c) => s + (c.accuracy as number), 0) / present.length,
    classesWithImages: present.length,
    perClass,
    confusion,
  };
  if (numCandidates >= 5) {
    if (p.k < 5) throw new MetricsError(`top-5 accuracy over ${numCandidates} candidates needs the 5 best of each image, got ${p.k}`);
    out.acc5 = top5 / n;
  }
  return out;
}
