import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { defaultClipPreprocess, parseClipPreprocessConfig, preprocessClipImages } from '../../src/data/clip-preprocess';
import { normalise, resizeCentreCrop } from '../../src/data/transforms';

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

describe('preprocessClipImages', () => {
  it('CLIP case: identical to the data layer\'s teacher view + CLIP normalisation', async () => {
    const file = await pngFile(48, 40);
    const out = await preprocessClipImages([{ kind: 'file', path: file }], defaultClipPreprocess(32), 32);
    const expected = normalise(await resizeCentreCrop({ kind: 'file', path: file }, 32));
    expect(out).toEqual(expected);
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
