/**
 * Dual-loss fine-tuning of the spiking image encoder (docs/method.md §6). The text encoder is
 * frozen and only provides the class matrix W (built as `eval` builds it). Student logits are
 * cosines, `z = normalize(f_img) @ W^T` (no temperature); the teacher's distribution over the same
 * classes is `p = softmax(normalize(f_teacher) @ W^T / T)`, computed once per sample (the teacher
 * is frozen and its features cached).
 *
 *   dual: L = CE(z, y) + klWeight * KL(p || softmax(z / T))   (KL summed over the batch: reference)
 *   ce:   L = CE(z, y)                                        (the ablation; the only one without a teacher)
 *   kl:   L = klWeight * KL(p || softmax(z / T))
 *   gate (--boundary-angle A): the CE and KL gradients are computed separately; when the angle
 *         between them is <= A degrees a CE-only step is taken, otherwise the batch is skipped.
 */
import * as tf from '../../tf';
import type { DataLoader } from '../../data/loader';
import type { ClassMatrix } from '../../eval/classifier';
import { validateTopK } from './top-k';
import { l2Normalize } from '../../models/normalize';
import type { SpikeClip } from '../../models/spikeclip';
import { SpikeMonitor } from '../../snn/monitor';
import { TRAINING } from '../../snn/module';
import { crossEntropy, gradientAngle, klDivergence, type KlReduction } from '../losses';
import type { TaskBatch, TrainTask, ValidationResult } from '../loop';
import { computeGradients, type ParamList } from '../step';
import { firingRatesOf } from './align-image';

export type FinetuneLoss = 'dual' | 'ce' | 'kl';

export interface DualLossOptions {
  loss: FinetuneLoss;
  klWeight: number;
  klReduction: KlReduction;
  temperature: number;
  /** Gate mode when set (degrees, > 0). */
  boundaryAngle?: number;
}

interface LabelledBatch extends TaskBatch {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  /** The teacher's distribution of each sample [B, C] (dual, kl and gate). */
  p?: tf.Tensor2D;
}

/** The loss terms of one batch from student features (shared by the task and its tests). */
export function dualLossTerms(features: tf.Tensor2D, W: tf.Tensor2D, labels: tf.Tensor1D, p: tf.Tensor2D | undefined, o: DualLossOptions): { ce?: tf.Scalar; kl?: tf.Scalar } {
  const z = tf.matMul(l2Normalize(features), W, false, true);
  const out: { ce?: tf.Scalar; kl?: tf.Scalar } = {};
  if (o.loss !== 'kl' || o.boundaryAngle !== undefined) out.ce = crossEntropy(z, labels);
  if (o.loss !== 'ce' && p) out.kl = tf.mul(klDivergence(p, z, o.klReduction, o.temperature), o.klWeight) as tf.Scalar;
  return out;
}

export class DualLossTask implements TrainTask<LabelledBatch> {
  readonly name: string;
  readonly unit = 'images';
  readonly params: ParamList;
  private readonly W: tf.Tensor2D;

  constructor(
    private readonly model: SpikeClip,
    classMatrix: ClassMatrix,
    private readonly train: { loader: DataLoader; teacherP?: Float32Array },
    private readonly val: { loader: DataLoader } | undefined,
    private readonly o: DualLossOptions,
  ) {
    this.params = model.namedParameters().filter(([n]) => n.startsWith('image.'));
    this.W = tf.tensor2d(classMatrix.weights, [classMatrix.numClasses, classMatrix.dim]);
    this.name = o.boundaryAngle !== undefined ? `fine-tuning (gate, ${o.boundaryAngle} degrees)` : `fine-tuning (${o.loss})`;
  }

  batchesPerEpoch(): number {
    return this.train.loader.batchesPerEpoch;
  }

  async *batches(epoch: number, from: number): AsyncGenerator<LabelledBatch> {
    const C = this.W.shape[0];
    const tp = this.train.teacherP;
    for await (const b of this.train.loader.epoch(epoch, from)) {
      const n = b.labels.length;
      const images = tf.tensor4d(b.images, b.shape);
      const labels = tf.tensor1d(b.labels, 'int32');
      let p: tf.Tensor2D | undefined;
      if (tp) {
        const rows = new Float32Array(n * C);
        b.indices.forEach((i, k) => rows.set(tp.subarray(i * C, (i + 1) * C), k * C));
        p = tf.tensor2d(rows, [n, C]);
      }
      yield { index: b.batch, size: n, images, labels, p, dispose: () => tf.dispose([images, labels, ...(p ? [p] : [])]) };
    }
  }

  loss(b: LabelledBatch, terms: Record<string, number>): tf.Scalar {
    const t = dualLossTerms(this.model.encodeImage(b.images, TRAINING), this.W, b.labels, b.p, this.o);
    if (t.ce) terms.ce = t.ce.dataSync()[0];
    if (t.kl) terms.kl = t.kl.dataSync()[0];
    if (t.ce && t.kl) return tf.add(t.ce, t.kl) as tf.Scalar;
    return (t.ce ?? t.kl) as tf.Scalar;
  }

  /** Gate mode only: separate CE and KL gradients, a CE step when their angle is within the boundary. */
  gradients?: TrainTask<LabelledBatch>['gradients'];

  enableGate(): void {
    const A = this.o.boundaryAngle as number;
    this.gradients = (b, step, terms) => {
      const ce = computeGradients(this.params, () => dualLossTerms(this.model.encodeImage(b.images, TRAINING), this.W, b.labels, undefined, { ...this.o, loss: 'ce' }).ce as tf.Scalar, step);
      let kl: { loss: number; grads: Map<string, tf.Tensor> };
      try {
        kl = computeGradients(this.params, () => dualLossTerms(this.model.encodeImage(b.images, TRAINING), this.W, b.labels, b.p, { ...this.o, loss: 'kl', boundaryAngle: undefined }).kl as tf.Scalar, step);
      } catch (e) {
        tf.dispose([...ce.grads.values()]);
        throw e;
      }
      const names = [...ce.grads.keys()].filter((n) => kl.grads.has(n));
      const angle = gradientAngle(names.map((n) => ce.grads.get(n) as tf.Tensor), names.map((n) => kl.grads.get(n) as tf.Tensor));
      tf.dispose([...kl.grads.values()]);
      terms.ce = ce.loss;
      terms.kl = kl.loss;
      terms.gate_angle = angle;
      if (angle <= A) return { loss: ce.loss, grads: ce.grads };
      tf.dispose([...ce.grads.values()]);
      return { skip: true };
    };
  }

  /** Top-1 of the zero-shot classifier W on the selection split, and the firing rates there. */
  async validate(onProgress?: (text: string) => void): Promise<ValidationResult> {
    if (!this.val) return { metrics: {} };
    const monitor = new SpikeMonitor();
    const metrics = await validateTopK(this.val.loader, this.W, (x) => this.model.encodeImage(x, { training: false, monitor }), onProgress);
    return { metrics, firingRates: firingRatesOf(monitor) };
  }

  dispose(): void {
    this.W.dispose();
  }
}
