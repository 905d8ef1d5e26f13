/**
 * Text alignment (docs/method.md §6): the spiking text encoder learns to point its embedding of
 * each prompt the same way as the teacher's, L = mean(1 - cos(student, teacher)). The teacher's
 * text features are computed once; only the text encoder's parameters (embeddings included) train.
 */
import * as tf from '../../tf';
import { epochOrder } from '../../data/loader';
import type { SpikeClip } from '../../models/spikeclip';
import { cosineSimilarity } from '../../models/normalize';
import { TRAINING } from '../../snn/module';
import { alignmentLoss } from '../losses';
import type { TaskBatch, TrainTask, ValidationResult } from '../loop';
import type { ParamList } from '../step';

/** Prompts with their student token ids [n * L] and teacher features [n * D]. */
export interface TextCorpus {
  prompts: string[];
  ids: Int32Array;
  teacher: Float32Array;
}

interface TextBatch extends TaskBatch {
  ids: tf.Tensor2D;
  target: tf.Tensor2D;
}

export interface TextAlignOptions {
  batchSize: number;
  seed: number;
}

export class TextAlignTask implements TrainTask<TextBatch> {
  readonly name = 'text alignment';
  readonly unit = 'prompts';
  readonly params: ParamList;
  private readonly L: number;
  private readonly D: number;

  constructor(
    private readonly model: SpikeClip,
    private readonly train: TextCorpus,
    private readonly val: TextCorpus | undefined,
    private readonly o: TextAlignOptions,
  ) {
    this.params = model.namedParameters().filter(([n]) => n.startsWith('text.'));
    this.L = model.config.text.contextLength;
    this.D = model.config.text.outputDim;
  }

  batchesPerEpoch(): number {
    return Math.ceil(this.train.prompts.length / this.o.batchSize);
  }

  private gather(c: TextCorpus, idx: ArrayLike<number>): { ids: Int32Array; target: Float32Array } {
    const { L, D } = this;
    const ids = new Int32Array(idx.length * L);
    const target = new Float32Array(idx.length * D);
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k];
      ids.set(c.ids.subarray(i * L, (i + 1) * L), k * L);
      target.set(c.teacher.subarray(i * D, (i + 1) * D), k * D);
    }
    return { ids, target };
  }

  async *batches(epoch: number, from: number): AsyncGenerator<TextBatch> {
    const n = this.train.prompts.length;
    const order = epochOrder(n, this.o.seed, epoch);
    const bs = this.o.batchSize;
    for (let b = from; b < this.batchesPerEpoch(); b++) {
      const idx = order.subarray(b * bs, Math.min(n, (b + 1) * bs));
      const { ids, target } = this.gather(this.train, idx);
      const t = { ids: tf.tensor2d(ids, [idx.length, this.L], 'int32'), target: tf.tensor2d(target, [idx.length, this.D]) };
      yield { index: b, size: idx.length, ...t, dispose: () => tf.dispose([t.ids, t.target]) };
    }
  }

  loss(b: TextBatch): tf.Scalar {
    return alignmentLoss(this.model.encodeText(b.ids, TRAINING), b.target);
  }

  /** Mean cosine to the teacher over the held-out prompts (inference mode). */
  async validate(): Promise<ValidationResult> {
    const v = this.val;
    if (!v || v.prompts.length === 0) return { metrics: {} };
    return { metrics: { val_cosine: meanCosine(v, this.L, this.D, this.o.batchSize, (ids) => this.model.encodeText(ids)) } };
  }
}

/** Mean cos(student, teacher) over a corpus, in batches. */
export function meanCosine(c: TextCorpus, L: number, D: number, batchSize: number, encode: (ids: tf.Tensor2D) => tf.Tensor2D): number {
  const n = c.prompts.length;
  let sum = 0;
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const cos = tf.tidy(() => {
      const ids = tf.tensor2d(c.ids.subarray(s * L, (s + m) * L), [m, L], 'int32');
      const t = tf.tensor2d(c.teacher.subarray(s * D, (s + m) * D), [m, D]);
      return tf.sum(cosineSimilarity(encode(ids), t));
    });
    sum += cos.dataSync()[0];
    cos.dispose();
  }
  return sum / n;
}
