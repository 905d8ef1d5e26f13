/**
 * Inputs of the energy report as plain typed arrays: seeded synthetic images and prompts, and
 * batches of tokenized prompts.
 */
import { rngOf } from '../data/rng';
import { CLIP_MEAN, CLIP_STD } from '../data/transforms';
import type { ImageEncoderConfig, TextEncoderConfig } from '../models/config';
import { CLIP_END_ID, CLIP_START_ID } from '../text/tokenizer';

/** A batch of CLIP-normalised images, NHWC float32. */
export interface ImageBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** A batch of token ids [B, contextLength]. */
export interface TextBatch {
  ids: Int32Array;
  shape: [number, number];
}

/**
 * Seeded random images: every pixel's R, G, B bytes uniform in 0..255 (white noise), then CLIP's
 * normalisation, as the data loader does for real images. Image i depends only on (seed, i).
 */
export function* syntheticImages(cfg: Pick<ImageEncoderConfig, 'imageSize' | 'inChannels'>, count: number, batchSize: number, seed: number): Generator<ImageBatch> {
  const s = cfg.imageSize;
  const c = cfg.inChannels;
  const per = s * s * c;
  for (let start = 0; start < count; start += batchSize) {
    const b = Math.min(batchSize, count - start);
    const data = new Float32Array(b * per);
    for (let j = 0; j < b; j++) {
      const rng = rngOf(seed, 'energy-synthetic-image', start + j);
      for (let k = 0; k < per; k++) {
        const ch = k % c;
        const v = Math.floor(rng() * 256) / 255;
        const mean = CLIP_MEAN[ch] ?? 0.5;
        const std = CLIP_STD[ch] ?? 0.25;
        data[j * per + k] = (v - mean) / std;
      }
    }
    yield { data, shape: [b, s, s, c] };
  }
}

/**
 * Seeded random prompts as token ids: start token, 1..contextLength-2 ids drawn uniformly from
 * the vocabulary below the special tokens, end token, then padding with the end token (CLIP's
 * pad id, as the reference pads). Prompt i depends only on (seed, i).
 */
export function* syntheticTokenIds(cfg: Pick<TextEncoderConfig, 'contextLength' | 'vocabSize'>, count: number, batchSize: number, seed: number): Generator<TextBatch> {
  const l = cfg.contextLength;
  const start = Math.min(CLIP_START_ID, cfg.vocabSize - 2);
  const end = Math.min(CLIP_END_ID, cfg.vocabSize - 1);
  const words = Math.max(1, start);
  for (let s0 = 0; s0 < count; s0 += batchSize) {
    const b = Math.min(batchSize, count - s0);
    const ids = new Int32Array(b * l).fill(end);
    for (let j = 0; j < b; j++) {
      const rng = rngOf(seed, 'energy-synthetic-text', s0 + j);
      const n = l <= 2 ? 0 : 1 + Math.floor(rng() * (l - 2));
      ids[j * l] = start;
      for (let k = 1; k <= n && k < l - 1; k++) ids[j * l + k] = Math.floor(rng() * words);
      if (l > 1) ids[j * l + Math.min(n + 1, l - 1)] = end;
    }
    yield { ids, shape: [b, l] };
  }
}

/** Token ids of given prompts (already tokenized to contextLength), in batches. */
export function* tokenBatches(rows: Int32Array[], contextLength: number, batchSize: number): Generator<TextBatch> {
  for (let s = 0; s < rows.length; s += batchSize) {
    const part = rows.slice(s, s + batchSize);
    const ids = new Int32Array(part.length * contextLength);
    part.forEach((r, j) => ids.set(r.subarray(0, contextLength), j * contextLength));
    yield { ids, shape: [part.length, contextLength] };
  }
}
