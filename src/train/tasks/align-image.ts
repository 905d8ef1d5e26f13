/**
 * Image alignment (docs/method.md §6): the spiking image encoder, on the 32x32 student view of
 * each sample, learns to point its embedding the same way as the teacher's feature of the same
 * sample (its own CLIP view, computed once and cached: see feature-cache.ts).
 * L = mean(1 - cos(student, teacher)); only the image encoder's parameters train.
 */
import * as tf from '../../tf';
import type { DataLoader } from '../../data/loader';
import { cosineSimilarity } from '../../models/normalize';
import type { SpikeClip } from '../../models/spikeclip';
import { SpikeMonitor } from '../../snn/monitor';
import { TRAINING } from '../../snn/module';
import type { TeacherFeatures } from '../feature-cache';
import { alignmentLoss } from '../losses';
import type { TaskBatch, TrainTask, ValidationResult } from '../loop';
import type { ParamList } from '../step';

interface ImageBatch extends TaskBatch {
  images: tf.Tensor4D;
  target: tf.Tensor2D;
}

/** Images of a loader batch with the teacher rows of the same samples; samples without a teacher feature drop out. */
export function pairWithFeatures(
  b: { images: Float32Array; shape: [number, number, number, number]; indices: Int32Array },
  f: TeacherFeatures,
): { images: Float32Array; target: Float32Array; count: number; kept: number[] } {
  const [n, H, W, C] = b.shape;
  const per = H * W * C;
  const D = f.dim;
  const kept: number[] = [];
  for (let k = 0; k < n; k++) if (!Number.isNaN(f.features[b.indices[k] * D])) kept.push(k);
  const images = kept.length === n ? b.images : new Float32Array(kept.length * per);
  if (kept.length !== n) kept.forEach((k, j) => images.set(b.images.subarray(k * per, (k + 1) * per), j * per));
  const target = new Float32Array(kept.length * D);
  kept.forEach((k, j) => target.set(f.features.subarray(b.indices[k] * D, (b.indices[k] + 1) * D), j * D));
  return { images, target, count: kept.length, kept };
}

export interface ImageSplitData {
  loader: DataLoader;
  features: TeacherFeatures;
}

export class ImageAlignTask implements TrainTask<ImageBatch> {
  readonly name = 'image alignment';
  readonly unit = 'images';
  readonly params: ParamList;

  constructor(
    private readonly model: SpikeClip,
    private readonly train: ImageSplitData,
    private readonly val: ImageSplitData | undefined,
  ) {
    this.params = model.namedParameters().filter(([n]) => n.startsWith('image.'));
  }

  batchesPerEpoch(): number {
    return this.train.loader.batchesPerEpoch;
  }

  async *batches(epoch: number, from: number): AsyncGenerator<ImageBatch> {
    for await (const b of this.train.loader.epoch(epoch, from)) {
      const p = pairWithFeatures(b, this.train.features);
      const [, H, W, C] = b.shape;
      if (p.count === 0) {
        yield { index: b.batch, size: 0, images: tf.zeros([0, H, W, C]) as tf.Tensor4D, target: tf.zeros([0, this.train.features.dim]) as tf.Tensor2D, dispose() {} };
        continue;
      }
      const images = tf.tensor4d(p.images, [p.count, H, W, C]);
      const target = tf.tensor2d(p.target, [p.count, this.train.features.dim]);
      yield { index: b.batch, size: p.count, images, target, dispose: () => tf.dispose([images, target]) };
    }
  }

  loss(b: ImageBatch): tf.Scalar {
    return alignmentLoss(this.model.encodeImage(b.images, TRAINING), b.target);
  }

  /** Mean cosine to the teacher on the validation split, and the firing rates there (inference mode). */
  async validate(onProgress?: (text: string) => void): Promise<ValidationResult> {
    if (!this.val) return { metrics: {} };
    return imageValidation(this.model, this.val, onProgress);
  }
}

/** Mean cos(student, teacher) over a split and the image encoder's firing rates (inference mode). */
export async function imageValidation(model: SpikeClip, v: ImageSplitData, onProgress?: (text: string) => void): Promise<ValidationResult> {
  const monitor = new SpikeMonitor();
  let sum = 0;
  let n = 0;
  for await (const b of v.loader.epoch(0)) {
    const p = pairWithFeatures(b, v.features);
    if (p.count === 0) continue;
    const [, H, W, C] = b.shape;
    const s = tf.tidy(() => {
      const f = model.encodeImage(tf.tensor4d(p.images, [p.count, H, W, C]), { training: false, monitor });
      return tf.sum(cosineSimilarity(f, tf.tensor2d(p.target, [p.count, v.features.dim])));
    });
    sum += s.dataSync()[0];
    s.dispose();
    n += p.count;
    onProgress?.(`validation: ${n} images`);
  }
  return { metrics: n > 0 ? { val_cosine: sum / n } : {}, firingRates: firingRatesOf(monitor) };
}

/** Firing rate of the input of every spiking (AC) layer the monitor saw. */
export function firingRatesOf(monitor: SpikeMonitor): { layer: string; rate: number }[] {
  return monitor
    .observations()
    .filter((r) => r.kind === 'ac')
    .map((r) => ({ layer: r.layer, rate: r.inputElements > 0 ? r.nonZero / r.inputElements : 0 }));
}
