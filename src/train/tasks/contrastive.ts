/**
 * Contrastive image-text training from scratch (CLIP's objective): symmetric InfoNCE over the
 * batch with a learnable temperature, for both spiking encoders of a student or for a small ANN
 * CLIP (the teacher layout). A labelled dataset is a captioned source too: each image is captioned
 * by one of its class's prompt templates, drawn per (seed, epoch, sample), so the training pairs
 * are reproducible and a run resumed mid-epoch sees the same captions.
 *
 * `textLrScale` slows (or, at 0, freezes) the text tower relative to the image tower. With few
 * distinct captions (a labelled set has one per class) both towers trained at one rate can lock
 * into a shortcut: once the image tower sees only colour, the text gradients pull the captions
 * of one colour together, removing the shape targets the image tower would need. A slower text
 * tower keeps its captions further apart; in our probes that got past the shortcut sooner for some
 * seeds and not for others (docs/demo.md has the table), so the default stays 1.
 */
import * as tf from '../../tf';
import type { DataLoader } from '../../data/loader';
import { rngOf, randInt } from '../../data/rng';
import type { DatasetSplit } from '../../data/types';
import { buildClassMatrix, ZeroShotClassifier } from '../../eval/classifier';
import { fillPrompt } from '../../eval/label-files';
import { SpikeMonitor } from '../../snn/monitor';
import { contrastiveLoss, MAX_LOGIT_SCALE } from '../losses';
import type { TaskBatch, TrainTask, ValidationResult } from '../loop';
import type { ParamList } from '../step';
import type { TensorData } from '../../snn/module';
import { firingRatesOf } from './align-image';

/** What the task needs of the model being trained (student or ANN CLIP). */
export interface ContrastiveModel {
  /** Everything that trains, the logit scale included. */
  params: ParamList;
  /** The names in `params` that belong to the text tower. */
  textParams: ReadonlySet<string>;
  logScale: tf.Variable;
  contextLength: number;
  tokenize(texts: readonly string[]): Int32Array;
  encodeImages(images: tf.Tensor4D, training: boolean, monitor?: SpikeMonitor): tf.Tensor2D;
  encodeTokens(ids: tf.Tensor2D, training: boolean): tf.Tensor2D;
}

interface PairBatch extends TaskBatch {
  images: tf.Tensor4D;
  ids: tf.Tensor2D;
}

export interface ContrastiveOptions {
  seed: number;
  /** Templates for labelled sources ('{}' is the class name). */
  templates: readonly string[];
  /** The text tower's learning rate as a fraction of the image tower's (default 1; 0 freezes it). */
  textLrScale?: number;
}

/** The caption of sample `index` in `epoch`: its own caption, else a template of its class drawn from (seed, epoch, index). */
export function captionOf(split: DatasetSplit, index: number, epoch: number, o: ContrastiveOptions): string {
  const s = split.sample(index);
  if (s.caption !== undefined && s.caption !== '') return s.caption;
  if (s.label < 0 || s.label >= split.classNames.length) throw new Error(`sample ${s.id} has neither a caption nor a class name`);
  const t = o.templates[randInt(rngOf(o.seed, 'caption', epoch, index), o.templates.length)];
  return fillPrompt(t, split.classNames[s.label]);
}

export class ContrastiveTask implements TrainTask<PairBatch> {
  readonly name: string;
  readonly unit = 'pairs';
  readonly params: ParamList;

  constructor(
    private readonly model: ContrastiveModel,
    private readonly train: { loader: DataLoader },
    private readonly val: { loader: DataLoader; monitor: boolean } | undefined,
    private readonly o: ContrastiveOptions,
    name = 'contrastive',
  ) {
    const scale = o.textLrScale ?? 1;
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new Error(`textLrScale must be a non-negative number, got ${scale}`);
    // a frozen tower is left out of the gradient computation altogether
    this.params = scale === 0 ? model.params.filter(([n]) => !model.textParams.has(n)) : model.params;
    this.name = name;
  }

  /** Per-parameter learning-rate scales for the optimiser (the text tower's, when not 1). */
  lrScales(): Map<string, number> {
    const scale = this.o.textLrScale ?? 1;
    if (scale === 1 || scale === 0) return new Map();
    return new Map(this.params.filter(([n]) => this.model.textParams.has(n)).map(([n]) => [n, scale]));
  }

  batchesPerEpoch(): number {
    return this.train.loader.batchesPerEpoch;
  }

  async *batches(epoch: number, from: number): AsyncGenerator<PairBatch> {
    const split = this.train.loader.split;
    const L = this.model.contextLength;
    for await (const b of this.train.loader.epoch(epoch, from)) {
      const n = b.labels.length;
      const texts = Array.from(b.indices, (i) => captionOf(split, i, epoch, this.o));
      const images = tf.tensor4d(b.images, b.shape);
      const ids = tf.tensor2d(this.model.tokenize(texts), [n, L], 'int32');
      yield { index: b.batch, size: n, images, ids, dispose: () => tf.dispose([images, ids]) };
    }
  }

  loss(b: PairBatch, terms: Record<string, number>): tf.Scalar {
    terms.logit_scale = Math.exp(this.model.logScale.dataSync()[0]);
    const img = this.model.encodeImages(b.images, true);
    const txt = this.model.encodeTokens(b.ids, true);
    return contrastiveLoss(img, txt, this.model.logScale);
  }

  stateTensors(): Map<string, TensorData> {
    return new Map([['task.logit_scale', { shape: [], data: Float32Array.from(this.model.logScale.dataSync()) }]]);
  }

  loadStateTensors(state: Map<string, TensorData>): void {
    const v = state.get('task.logit_scale');
    if (v) tf.tidy(() => this.model.logScale.assign(tf.scalar(v.data[0])));
  }

  /** CLIP clamps the learnt temperature: exp(s) <= 100. */
  afterStep(): void {
    const s = this.model.logScale;
    tf.tidy(() => s.assign(tf.clipByValue(s, 0, MAX_LOGIT_SCALE)));
  }

  /**
   * Zero-shot top-1 on the validation split when it has class names (class vectors from the
   * templates, as `eval` builds W), else the contrastive loss on its captions.
   */
  async validate(onProgress?: (text: string) => void): Promise<ValidationResult> {
    const v = this.val;
    if (!v) return { metrics: {} };
    const split = v.loader.split;
    const L = this.model.contextLength;
    const monitor = v.monitor ? new SpikeMonitor() : undefined;
    const labelled = split.classNames.length > 0 && split.size > 0 && split.sample(0).label >= 0;
    if (labelled) {
      const W = buildClassMatrix({
        prompts: split.classNames.map((c) => this.o.templates.map((t) => fillPrompt(t, c))),
        encodeTexts: (texts) => this.model.encodeTokens(tf.tensor2d(this.model.tokenize(texts), [texts.length, L], 'int32'), false),
      });
      const clf = new ZeroShotClassifier(W);
      let correct = 0;
      let n = 0;
      try {
        for await (const b of v.loader.epoch(0)) {
          const f = tf.tidy(() => this.model.encodeImages(tf.tensor4d(b.images, b.shape), false, monitor));
          const pred = clf.classify(f);
          f.dispose();
          for (let i = 0; i < b.labels.length; i++) if (pred.topk[i * pred.k] === b.labels[i]) correct++;
          n += b.labels.length;
          onProgress?.(`validation: ${n} images`);
        }
      } finally {
        clf.dispose();
      }
      return { metrics: n > 0 ? { val_top1: correct / n } : {}, firingRates: monitor ? firingRatesOf(monitor) : undefined };
    }
    let sum = 0;
    let n = 0;
    for await (const b of v.loader.epoch(0)) {
      const texts = Array.from(b.indices, (i) => captionOf(split, i, 0, this.o));
      const l = tf.tidy(() => {
        const img = this.model.encodeImages(tf.tensor4d(b.images, b.shape), false, monitor);
        const txt = this.model.encodeTokens(tf.tensor2d(this.model.tokenize(texts), [texts.length, L], 'int32'), false);
        return contrastiveLoss(img, txt, this.model.logScale);
      });
      sum += l.dataSync()[0] * texts.length;
      l.dispose();
      n += texts.length;
    }
    return { metrics: n > 0 ? { val_loss: sum / n } : {}, firingRates: monitor ? firingRatesOf(monitor) : undefined };
  }
}
