/**
 * The training-time teacher view and `spikeclip embed`'s CLIP preprocessing are one computation:
 * teacher features cached during training must equal the ones users check with embed.
 */
import sharp from 'sharp';
import { defaultClipPreprocess, preprocessClipImages } from '../../src/data/clip-preprocess';
import { preprocess, teacherView } from '../../src/data/transforms';
import type { ImageSource } from '../../src/data/types';

async function png(width: number, height: number, seed: number): Promise<ImageSource> {
  const data = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  const bytes = await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return { kind: 'bytes', bytes, name: `${width}x${height}.png` };
}

describe('teacher view', () => {
  it.each([
    [32, 32], // CIFAR upscaled to 224
    [300, 200], // landscape downscale
    [180, 260], // portrait, non-integer ratio
  ])('equals the CLIP preprocessing of embed for a %ix%i image', async (w, h) => {
    const src = await png(w, h, w * 31 + h);
    const ours = await preprocess(src, teacherView(224));
    const embeds = await preprocessClipImages([src], defaultClipPreprocess(224), 224);
    expect(ours.length).toBe(224 * 224 * 3);
    expect(Array.from(ours)).toEqual(Array.from(embeds));
  });
});
