/**
 * Teacher benchmark: CLIP image-embedding throughput (images/s) of a ViT-B/16-sized teacher
 * (openai/clip-vit-base-patch16's architecture: width 768, 12 layers, 12 heads, patch 16, 224x224,
 * QuickGELU, 512-d projection) with random weights, on whatever TF.js backend is active. Called by
 * bench/run.ts as `benchTeacher({quick, reps})`; self-contained otherwise.
 */
import * as tf from '../src/tf';
import { ClipConfig, parseHfClipConfig, patchGrid } from '../src/models/clip-config';
import { ClipTeacher } from '../src/models/clip-teacher';
import { BenchResult, median, peakRssMiB, timeReps } from './common';

export interface TeacherBenchOptions {
  /** Small batch and one repetition. */
  quick?: boolean;
  /** Timed repetitions (default 3, 1 with quick). */
  reps?: number;
  /** Images per forward pass (default 8, 2 with quick). */
  batch?: number;
  /** Another architecture (default ViT-B/16); tests pass a tiny one. */
  config?: ClipConfig;
  /** A label for the architecture in the result name (default "vit-b16"). */
  label?: string;
}

export interface TeacherBenchResult extends BenchResult {
  imagesPerSecond: number;
}

/** The CLIP ViT-B/16 teacher architecture (Hugging Face defaults with patch 16). */
export function vitB16Config(): ClipConfig {
  return parseHfClipConfig({ model_type: 'clip', projection_dim: 512, vision_config: { patch_size: 16 } }, 'ViT-B/16');
}

/** Multiply-accumulates of one image through the vision tower and projection (the "17.6 GFLOPs" usually quoted for ViT-B/16); FLOPs are twice this. */
export function imageMacs(c: ClipConfig): number {
  const v = c.vision;
  const g = patchGrid(v);
  const n = g * g + 1;
  const d = v.hiddenSize;
  const patch = g * g * d * v.numChannels * v.patchSize * v.patchSize;
  const perLayer = 4 * n * d * d + 2 * n * n * d + 2 * n * d * v.intermediateSize;
  return patch + v.numLayers * perLayer + d * c.projectionDim;
}

export async function benchTeacher(opts: TeacherBenchOptions = {}): Promise<TeacherBenchResult> {
  const config = opts.config ?? vitB16Config();
  const label = opts.label ?? (opts.config ? 'custom' : 'vit-b16');
  const batch = opts.batch ?? (opts.quick ? 2 : 8);
  const reps = opts.reps ?? (opts.quick ? 1 : 3);
  const S = config.vision.imageSize;
  const teacher = new ClipTeacher(config, { seed: 1 });
  const x = tf.randomNormal([batch, S, S, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  try {
    const before = tf.memory().numTensors;
    const times = await timeReps(() => {
      const f = teacher.encodeImage(x);
      f.dataSync();
      f.dispose();
    }, reps, 1);
    const s = median(times);
    const perSecond = batch / s;
    const macs = imageMacs(config);
    return {
      name: `teacher-image-embed/${label}/b${batch}`,
      unit: 'images',
      perSecond,
      imagesPerSecond: perSecond,
      secondsPerRep: s,
      reps: times.length,
      details: {
        batch,
        backend: tf.getBackend(),
        imageSize: S,
        patchSize: config.vision.patchSize,
        width: config.vision.hiddenSize,
        layers: config.vision.numLayers,
        gmacPerImage: Math.round(macs / 1e7) / 100,
        gflopPerSecond: Math.round((2 * macs * perSecond) / 1e7) / 100,
        tensorsAddedAfterWarmup: tf.memory().numTensors - before,
        peakRssMiB: peakRssMiB(),
      },
    };
  } finally {
    x.dispose();
    teacher.dispose();
  }
}
