import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { createHash } from 'crypto';
import { clipGeometry, defaultClipPreprocess, parseClipPreprocessConfig, pilResize, preprocessClipImages } from '../../src/data/clip-preprocess';
import { normalise } from '../../src/data/transforms';
import type { RgbImage } from '../../src/data/types';

/** The deterministic test image the Pillow goldens were made from (same formula in Python). */
function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x * 7 + y * 13 + c * 29 + ((x * y) % 17) + ((Math.floor(x / 5) + Math.floor(y / 3)) % 2) * 90) % 256;
  return { width: w, height: h, data };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function pngFile(w: number, h: number, seed = 1): Promise<string> {
  const data = Buffer.alloc(w * h * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    data[i] = (i * 7 + (s >> 16)) & 0xff;
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pre-')), `img-${w}x${h}.png`);
  await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  return file;
}

describe('preprocessor_config.json', () => {
  it('defaults are CLIP\'s', () => {
    const c = parseClipPreprocessConfig(undefined, 224);
    expect(c).toEqual(defaultClipPreprocess(224));
    expect(c.mean).toEqual([0.48145466, 0.4578275, 0.40821073]);
    expect(c.std).toEqual([0.26862954, 0.26130258, 0.27577711]);
  });

  it('reads the current and the older Hugging Face layouts', () => {
    const now = parseClipPreprocessConfig({ size: { shortest_edge: 224 }, crop_size: { height: 224, width: 224 }, resample: 3, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }, 32);
    expect(now.shortestEdge).toBe(224);
    expect(now.cropHeight).toBe(224);
    expect(now.mean).toEqual([0.5, 0.5, 0.5]);
    const old = parseClipPreprocessConfig({ size: 336, crop_size: 336, do_center_crop: true, feature_extractor_type: 'CLIPFeatureExtractor' }, 224);
    expect(old.shortestEdge).toBe(336);
    expect(old.cropWidth).toBe(336);
  });

  it.each([
    [{ resample: 0 }, /resample 0 is not supported/],
    [{ size: { height: 10, width: 20 } }, /size .* is not supported \(CLIP resizes the shortest edge/],
    [{ image_mean: [1, 2] }, /image_mean must be a number or a list of 3 numbers/],
    [{ image_std: [0, 1, 1] }, /image_std must be positive/],
    [{ do_resize: 'yes' }, /do_resize must be true or false/],
    [{ do_convert_rgb: false }, /do_convert_rgb false is not supported/],
  ])('refuses %j', (raw, re) => {
    expect(() => parseClipPreprocessConfig(raw, 224, 'p.json')).toThrow(re);
  });
});

describe('pilResize: bit for bit what Pillow 9.4 Image.resize gives (sha256 of the RGB bytes)', () => {
  // Goldens: Image.fromarray(pattern(w, h)).resize((ow, oh), BICUBIC|BILINEAR), computed once with Debian's python3-pil 9.4.
  it.each([
    [40, 30, 16, 12, 'bicubic', '59902ef4ae2e56265b0410e4f4cf94361a44d58276735e0074c9e8b152247a56', [14, 43, 72, 41, 70, 99]],
    [7, 5, 24, 17, 'bicubic', '2df175c92dce95c64b9a214aef422db251d66d00f32cf2ac0d31eb0e88ed6de3', [0, 27, 56, 0, 28, 57]],
    [32, 32, 224, 224, 'bicubic', '91bc2acd43f79c72c41411d0b104f21d49ad38d67bcb4f90e9943f17391221cd', [0, 26, 55, 0, 26, 55]],
    [640, 480, 298, 224, 'bicubic', '4697468f231c4927ee904f031a92e623697b5c34b5c4a4118fe3448deaab1ef3', [8, 37, 66, 20, 49, 78]],
    [33, 47, 224, 318, 'bicubic', '2ae187b817bde6f719b7dc8cc8684fe0af664a610c111c90634d9966578c64c0', [0, 26, 55, 0, 26, 55]],
    [300, 200, 224, 149, 'bicubic', '7969cde8fe45e3d47e96fd7c5c6d77d163e1defc5d43ae5715da3e5f5d6c8678', [4, 33, 62, 13, 42, 71]],
    [50, 40, 20, 16, 'bilinear', 'bdf76d09438437ca7eb2b71f63ef6ac55eae1b816ebbc5d5ca37fb972fc2634c', [25, 54, 83, 53, 82, 111]],
    [9, 9, 30, 30, 'bilinear', 'b9ce2d1c9152d57aa9336ab36825d94da2fa608b91b790ec384d4071de8eda3e', [0, 29, 58, 0, 29, 58]],
  ] as const)('%ix%i -> %ix%i %s', (w, h, ow, oh, filter, hash, first) => {
    const out = pilResize(pattern(w, h), ow, oh, filter);
    expect([out.width, out.height]).toEqual([ow, oh]);
    expect(Array.from(out.data.subarray(0, 6))).toEqual(first);
    expect(sha(out.data)).toBe(hash);
  });

  it('HF geometry for portrait and small images (shortest side 224, floor crop box)', () => {
    expect(sha(clipGeometry(pattern(32, 32), defaultClipPreprocess(224)).data)).toBe('91bc2acd43f79c72c41411d0b104f21d49ad38d67bcb4f90e9943f17391221cd');
    expect(sha(clipGeometry(pattern(45, 60), defaultClipPreprocess(224)).data)).toBe('ed91bc9b18c9eac748053b473d9bb43fa6d05c3351de98e4f4bb72d61085f0c2');
  });
});

describe('preprocessClipImages', () => {
  it('CLIP case: decode, Pillow-exact resize + HF crop (640x480 -> 298x224 -> 224), CLIP normalisation', async () => {
    const img = pattern(640, 480);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pre-')), 'p.png');
    await sharp(img.data, { raw: { width: 640, height: 480, channels: 3 } }).png().toFile(file);
    const out = await preprocessClipImages([{ kind: 'file', path: file }], defaultClipPreprocess(224), 224);
    const geo = clipGeometry(img, defaultClipPreprocess(224));
    expect(sha(geo.data)).toBe('2a52c2ef47381ee2fd901ccbed75f72a791a89be50200427694f0f0de8842d15'); // Pillow 9.4 + HF crop
    expect(out).toEqual(normalise(geo));
  });

  it('a crop smaller than the resize (HF floor crop box) and custom mean/std', async () => {
    const file = await pngFile(40, 40, 3);
    const c = { ...defaultClipPreprocess(40), cropHeight: 32, cropWidth: 32, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    const out = await preprocessClipImages([{ kind: 'file', path: file }], c, 32);
    const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    // no resize (already 40), crop offset (4, 4), values v / 255
    for (const [y, x, ch] of [[0, 0, 0], [5, 17, 2], [31, 31, 1]]) {
      expect(out[(y * 32 + x) * 3 + ch]).toBeCloseTo(data[((y + 4) * 40 + x + 4) * 3 + ch] / 255, 6);
    }
  });

  it('names the file that does not come out at the model size or cannot be decoded', async () => {
    const file = await pngFile(20, 20);
    const c = { ...defaultClipPreprocess(32), doResize: false, doCenterCrop: false };
    await expect(preprocessClipImages([{ kind: 'file', path: file }], c, 32)).rejects.toThrow(`${file} preprocesses to 20x20 but the model takes 32x32`);
    const bad = path.join(path.dirname(file), 'bad.png');
    fs.writeFileSync(bad, 'not an image');
    await expect(preprocessClipImages([{ kind: 'file', path: bad }], defaultClipPreprocess(32), 32)).rejects.toThrow(/cannot decode image .*bad\.png/);
  });
});
