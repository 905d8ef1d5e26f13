/**
 * Training augmentation on uint8 RGB images (after the cached geometric view, before
 * normalisation): torchvision's RandomCrop(size, padding=4) with zero fill and
 * RandomHorizontalFlip(p=0.5). Each sample's draw comes from its own generator seeded by
 * (augmentation seed, epoch, sample index), so it does not depend on batch composition, worker
 * count or the order in which samples are processed.
 */
import { DatasetError, RgbImage } from './types';
import { randInt, Rng, rngOf } from './rng';

export interface AugmentOptions {
  /** Zero padding on every side before the random crop back to the original size (default 4; 0 = no crop). */
  padding?: number;
  /** Random horizontal flip with probability 1/2 (default true). */
  flip?: boolean;
}

export interface AugmentDraw {
  /** Crop offset in the padded image, each in [0, 2 * padding]. */
  dx: number;
  dy: number;
  flip: boolean;
}

/** The random choices for one sample. */
export function drawAugment(rng: Rng, opts: AugmentOptions = {}): AugmentDraw {
  const padding = opts.padding ?? 4;
  if (!Number.isInteger(padding) || padding < 0) throw new DatasetError(`augmentation padding must be a non-negative integer, got ${padding}`);
  const dy = padding > 0 ? randInt(rng, 2 * padding + 1) : 0;
  const dx = padding > 0 ? randInt(rng, 2 * padding + 1) : 0;
  const flip = (opts.flip ?? true) && rng() < 0.5;
  return { dx, dy, flip };
}

/** The generator of sample `index` in `epoch` for augmentation seed `seed`. */
export function augmentRng(seed: number, epoch: number, index: number): Rng {
  return rngOf(seed, 'augment', epoch, index);
}

/**
 * Applies a draw: output pixel (x, y) is padded-input pixel (x + dx, y + dy), i.e. input pixel
 * (x + dx - padding, y + dy - padding), zero outside; then mirrored left-right when `flip`.
 */
export function applyAugment(img: RgbImage, draw: AugmentDraw, padding: number, out?: Uint8Array): RgbImage {
  const { width: W, height: H, data } = img;
  const res = out ?? new Uint8Array(W * H * 3);
  if (res.length < W * H * 3) throw new DatasetError('augmentation output buffer too small');
  const ox = draw.dx - padding;
  const oy = draw.dy - padding;
  for (let y = 0; y < H; y++) {
    const sy = y + oy;
    for (let x = 0; x < W; x++) {
      const tx = draw.flip ? W - 1 - x : x;
      const sx = x + ox;
      const o = (y * W + tx) * 3;
      if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
        res[o] = 0;
        res[o + 1] = 0;
        res[o + 2] = 0;
      } else {
        const i = (sy * W + sx) * 3;
        res[o] = data[i];
        res[o + 1] = data[i + 1];
        res[o + 2] = data[i + 2];
      }
    }
  }
  return { width: W, height: H, data: res };
}

/** Random crop with padding + horizontal flip of one sample. */
export function augment(img: RgbImage, seed: number, epoch: number, index: number, opts: AugmentOptions = {}): RgbImage {
  const draw = drawAugment(augmentRng(seed, epoch, index), opts);
  return applyAugment(img, draw, opts.padding ?? 4);
}

/** Mirror left-right. */
export function flipHorizontal(img: RgbImage): RgbImage {
  return applyAugment(img, { dx: 0, dy: 0, flip: true }, 0);
}
