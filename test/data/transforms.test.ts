import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import {
  applyView,
  centreCropBox,
  CLIP_MEAN,
  CLIP_STD,
  decodeImage,
  normalise,
  normaliseInto,
  preprocess,
  shortestSideSize,
  studentView,
  teacherView,
  torchBilinear,
  viewKey,
} from '../../src/data/transforms';
import { applyAugment, augment, drawAugment, augmentRng, flipHorizontal } from '../../src/data/augment';
import { encodePngRgb } from '../../src/data/png';
import { DatasetError, ImageSource, RgbImage } from '../../src/data/types';

function image(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { width, height, data };
}

function px(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

const rgb = (image: RgbImage): ImageSource => ({ kind: 'rgb', image });

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-transforms-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('normalisation', () => {
  it('maps known pixels to hand-computed CLIP-normalised values', () => {
    expect(CLIP_MEAN).toEqual([0.48145466, 0.4578275, 0.40821073]);
    expect(CLIP_STD).toEqual([0.26862954, 0.26130258, 0.27577711]);
    const img = image(3, 1, (x) => ([[0, 0, 0], [255, 255, 255], [128, 64, 32]] as Array<[number, number, number]>)[x]);
    const out = normalise(img);
    const want = [
      -1.79226253374815, -1.7520971281645974, -1.4802197687835659,
      1.930336254158794, 2.0748838377332515, 2.1458969890575763,
      0.07633607351494368, -0.791599944566706, -1.0251776658387952,
    ];
    expect(out).toBeInstanceOf(Float32Array);
    out.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
  });

  it('writes HWC at an offset and checks buffer sizes', () => {
    const img = image(1, 1, () => [255, 0, 0]);
    const out = new Float32Array(6);
    normaliseInto(img, out, 3);
    expect(out[0]).toBe(0);
    expect(out[3]).toBeCloseTo(1.930336254158794, 6);
    expect(() => normaliseInto(img, new Float32Array(2), 0)).toThrow(DatasetError);
  });
});

describe('geometry', () => {
  it('resizes the shortest side with the long side floored (HF/torchvision)', () => {
    expect(shortestSideSize(448, 300, 224)).toEqual({ width: 334, height: 224 });
    expect(shortestSideSize(300, 448, 224)).toEqual({ width: 224, height: 334 });
    expect(shortestSideSize(500, 375, 224)).toEqual({ width: 298, height: 224 });
    expect(shortestSideSize(32, 32, 224)).toEqual({ width: 224, height: 224 });
  });

  it("centre-crops with HF's floor rule", () => {
    expect(centreCropBox(334, 224, 224, 224)).toEqual({ left: 55, top: 0, width: 224, height: 224 });
    expect(centreCropBox(225, 224, 224, 224).left).toBe(0);
    // torchvision would round 1.5 to 2; HF floors to 1.
    expect(centreCropBox(227, 224, 224, 224).left).toBe(1);
    expect(centreCropBox(224, 300, 224, 224).top).toBe(38);
    expect(() => centreCropBox(100, 100, 224, 224)).toThrow(DatasetError);
  });

  it('teacher view of a non-square image: no resize needed, the centre 224 columns are kept exactly', async () => {
    // R encodes x (mod 256), G encodes y: the crop offset can be read off the output.
    const src = image(448, 224, (x, y) => [x & 255, y, 7]);
    const out = await applyView(rgb(src), teacherView());
    expect([out.width, out.height]).toEqual([224, 224]);
    expect(px(out, 0, 0)).toEqual([112, 0, 7]);
    expect(px(out, 223, 10)).toEqual([(112 + 223) & 255, 10, 7]);
    // The same through an encoded PNG file.
    const file = path.join(tmp, 'wide.png');
    fs.writeFileSync(file, encodePngRgb(448, 224, src.data));
    const fromFile = await applyView({ kind: 'file', path: file }, teacherView());
    expect(Buffer.compare(Buffer.from(fromFile.data), Buffer.from(out.data))).toBe(0);
  });

  it('teacher view of a tall image that needs resizing: halves stay where the geometry puts them', async () => {
    // 448 wide x 896 tall -> 224 x 448 -> crop rows 112..335. Top half blue, bottom half red:
    // the boundary at row 448 lands at row 224 of the resized image, row 112 of the crop.
    const src = image(448, 896, (_x, y) => (y < 448 ? [0, 0, 255] : [255, 0, 0]));
    const out = await applyView(rgb(src), teacherView());
    expect([out.width, out.height]).toEqual([224, 224]);
    expect(px(out, 100, 0)).toEqual([0, 0, 255]);
    expect(px(out, 100, 108)).toEqual([0, 0, 255]);
    expect(px(out, 100, 116)).toEqual([255, 0, 0]);
    expect(px(out, 5, 223)).toEqual([255, 0, 0]);
  });

  it('keeps constant images constant through bicubic up- and down-scaling', async () => {
    for (const [w, h] of [[600, 300], [32, 32], [50, 90]]) {
      const out = await applyView(rgb(image(w, h, () => [10, 200, 77])), teacherView());
      expect([out.width, out.height]).toEqual([224, 224]);
      let bad = 0;
      for (let i = 0; i < out.data.length; i += 3) if (out.data[i] !== 10 || out.data[i + 1] !== 200 || out.data[i + 2] !== 77) bad++;
      expect(bad).toBe(0);
    }
  });
});

describe('student views', () => {
  it("torchBilinear matches PyTorch's align_corners=False bilinear on a hand case", () => {
    const src = image(2, 1, (x) => (x === 0 ? [0, 0, 0] : [100, 200, 40]));
    const out = torchBilinear(src, 4, 1);
    expect(Array.from(out.data)).toEqual([0, 0, 0, 25, 50, 10, 75, 150, 30, 100, 200, 40]);
  });

  it("'reference' picks pixel 7i+3 of the 224 teacher view (what F.interpolate does for 224 -> 32)", async () => {
    let s = 12345;
    const noise = image(224, 224, () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return [s & 255, (s >>> 8) & 255, (s >>> 16) & 255];
    });
    const out = await applyView(rgb(noise), studentView());
    expect([out.width, out.height]).toEqual([32, 32]);
    for (const [i, j] of [[0, 0], [31, 31], [5, 17], [30, 2]]) expect(px(out, i, j)).toEqual(px(noise, 7 * i + 3, 7 * j + 3));
  });

  it("'direct' leaves a 32x32 image (CIFAR) untouched and resizes others straight to 32", async () => {
    const cifar = image(32, 32, (x, y) => [x * 8, y * 8, 100]);
    const out = await applyView(rgb(cifar), studentView({ resize: 'direct' }));
    expect(Buffer.compare(Buffer.from(out.data), Buffer.from(cifar.data))).toBe(0);
    const wide = await applyView(rgb(image(64, 32, (x) => (x < 32 ? [255, 0, 0] : [0, 0, 255]))), studentView({ resize: 'direct' }));
    expect([wide.width, wide.height]).toEqual([32, 32]);
    expect(px(wide, 0, 0)).toEqual([255, 0, 0]);
    expect(px(wide, 31, 31)).toEqual([0, 0, 255]);
  });

  it("'antialias' averages instead of sampling", async () => {
    // 1-pixel vertical lines every 7 columns starting at 3: 'reference' sees only the lines,
    // 'antialias' sees their average with the background.
    const lines = image(224, 224, (x) => (x % 7 === 3 ? [255, 255, 255] : [0, 0, 0]));
    const ref = await applyView(rgb(lines), studentView());
    const aa = await applyView(rgb(lines), studentView({ resize: 'antialias' }));
    expect(px(ref, 10, 10)).toEqual([255, 255, 255]);
    expect(px(aa, 10, 10)[0]).toBeGreaterThan(20);
    expect(px(aa, 10, 10)[0]).toBeLessThan(80);
  });

  it('has distinct cache keys and validates options', () => {
    const keys = [teacherView(), studentView(), studentView({ resize: 'direct' }), studentView({ resize: 'antialias' }), studentView({ size: 64 })].map(viewKey);
    expect(new Set(keys).size).toBe(5);
    expect(() => studentView({ resize: 'nearest' as never })).toThrow(/reference, antialias, direct/);
    expect(() => teacherView(0)).toThrow(DatasetError);
  });

  it('preprocess gives Float32 HWC', async () => {
    const out = await preprocess(rgb(image(40, 40, () => [255, 255, 255])), studentView({ resize: 'direct' }));
    expect(out).toHaveLength(32 * 32 * 3);
    expect(out[0]).toBeCloseTo(1.930336254158794, 6);
  });
});

describe('decoding', () => {
  it('drops alpha and expands grey to RGB', async () => {
    const rgba = await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    const a = await decodeImage({ kind: 'bytes', bytes: rgba, name: 'a.png' });
    expect(Array.from(a.data)).toEqual([10, 20, 30, 40, 50, 60]);
    const grey = await sharp(Buffer.from([5, 250]), { raw: { width: 2, height: 1, channels: 1 } }).png().toBuffer();
    const g = await decodeImage({ kind: 'bytes', bytes: grey, name: 'g.png' });
    expect(Array.from(g.data)).toEqual([5, 5, 5, 250, 250, 250]);
  });

  it('decodes JPEG and WebP files', async () => {
    const src = image(40, 30, () => [200, 100, 50]);
    for (const fmt of ['jpeg', 'webp'] as const) {
      const file = path.join(tmp, `x.${fmt}`);
      await sharp(src.data, { raw: { width: 40, height: 30, channels: 3 } })[fmt]({ quality: 95 }).toFile(file);
      const img = await decodeImage({ kind: 'file', path: file });
      expect([img.width, img.height]).toEqual([40, 30]);
      expect(Math.abs(img.data[0] - 200)).toBeLessThan(6);
    }
  });

  it('reports corrupt and truncated images as DatasetError naming the file', async () => {
    await expect(decodeImage({ kind: 'bytes', bytes: Buffer.from('not an image'), name: 'junk.jpg' })).rejects.toThrow(/cannot decode image junk\.jpg/);
    const jpeg = await sharp(image(64, 64, (x, y) => [x * 4, y * 4, 9]).data, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const cut = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    const e = await applyView({ kind: 'bytes', bytes: cut, name: 'cut.jpg' }, teacherView()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as Error).message).toMatch(/cut\.jpg/);
    await expect(applyView({ kind: 'file', path: path.join(tmp, 'missing.jpg') }, teacherView())).rejects.toThrow(/missing\.jpg/);
  });
});

describe('augmentation', () => {
  const src = image(4, 3, (x, y) => [x, y, 10 * x + y]);

  it('flips left-right', () => {
    const f = flipHorizontal(src);
    expect(px(f, 0, 0)).toEqual(px(src, 3, 0));
    expect(px(f, 3, 2)).toEqual(px(src, 0, 2));
    expect(px(f, 1, 1)).toEqual(px(src, 2, 1));
  });

  it('crops from the zero-padded image', () => {
    // dx = dy = 0 with padding 2: output (x, y) = input (x - 2, y - 2), zero outside.
    const a = applyAugment(src, { dx: 0, dy: 0, flip: false }, 2);
    expect(px(a, 0, 0)).toEqual([0, 0, 0]);
    expect(px(a, 1, 2)).toEqual([0, 0, 0]);
    expect(px(a, 2, 2)).toEqual(px(src, 0, 0));
    expect(px(a, 3, 2)).toEqual(px(src, 1, 0));
    // dx = 2 * padding shifts the other way.
    const b = applyAugment(src, { dx: 4, dy: 2, flip: false }, 2);
    expect(px(b, 0, 0)).toEqual(px(src, 2, 0));
    expect(px(b, 2, 0)).toEqual([0, 0, 0]);
    // centred draw + flip = plain flip
    expect(Buffer.compare(Buffer.from(applyAugment(src, { dx: 2, dy: 2, flip: true }, 2).data), Buffer.from(flipHorizontal(src).data))).toBe(0);
  });

  it('draws deterministically from (seed, epoch, index), within range', () => {
    const draws = Array.from({ length: 200 }, (_, i) => drawAugment(augmentRng(1, 0, i)));
    for (const d of draws) {
      expect(d.dx).toBeGreaterThanOrEqual(0);
      expect(d.dx).toBeLessThanOrEqual(8);
      expect(d.dy).toBeLessThanOrEqual(8);
    }
    expect(new Set(draws.map((d) => d.dx)).size).toBe(9);
    const flips = draws.filter((d) => d.flip).length;
    expect(flips).toBeGreaterThan(60);
    expect(flips).toBeLessThan(140);
    expect(drawAugment(augmentRng(1, 0, 5))).toEqual(draws[5]);
    const big = image(32, 32, (x, y) => [x, y, 0]);
    expect(Buffer.compare(Buffer.from(augment(big, 3, 1, 7).data), Buffer.from(augment(big, 3, 1, 7).data))).toBe(0);
    const epochs = new Set(Array.from({ length: 10 }, (_, e) => Buffer.from(augment(big, 3, e, 7).data).toString('hex')));
    expect(epochs.size).toBeGreaterThan(5);
    expect(drawAugment(augmentRng(1, 0, 0), { padding: 0, flip: false })).toEqual({ dx: 0, dy: 0, flip: false });
  });
});
