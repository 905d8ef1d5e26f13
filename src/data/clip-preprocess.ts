/**
 * CLIP image preprocessing as a Hugging Face `preprocessor_config.json` (CLIPImageProcessor)
 * describes it: resize the shortest side to `size.shortest_edge` (resample 3 = bicubic), centre
 * crop `crop_size` (HF's box: top = floor((h - ch) / 2)), rescale by `rescale_factor` (1/255),
 * normalise with `image_mean` / `image_std`. Defaults are CLIP's (224, bicubic, CLIP mean/std).
 *
 * The resize is Pillow's own algorithm ({@link pilResize}: separable convolution, support scaled
 * when shrinking, 22-bit fixed-point coefficients, uint8 between the horizontal and the vertical
 * pass), so the pixels are exactly those Hugging Face's processor feeds CLIP — checked bit for bit
 * against Pillow 9.4 on downscales and upscales. sharp's 'cubic' kernel, measured against Pillow,
 * is close when shrinking (mean |diff| 0.2, max 2 levels for 640x480 -> 224) but not when
 * enlarging (32x32 -> 224: mean 8, max 38 levels on detailed content), which is what CIFAR images
 * go through on their way to the teacher. Decoding (and alpha removal) uses sharp.
 */
import { CLIP_MEAN, CLIP_STD, centreCropBox, decodeImage, normalisationTables, normaliseInto, shortestSideSize } from './transforms';
import { DatasetError, ImageSource, RgbImage } from './types';

export interface ClipPreprocessConfig {
  /** Shortest side after resizing (HF `size.shortest_edge`, or `size` when a number). */
  shortestEdge: number;
  cropHeight: number;
  cropWidth: number;
  /** PIL resample code: 3 bicubic (CLIP), 2 bilinear. */
  resample: 2 | 3;
  doResize: boolean;
  doCenterCrop: boolean;
  doRescale: boolean;
  doNormalize: boolean;
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export function defaultClipPreprocess(size = 224): ClipPreprocessConfig {
  return {
    shortestEdge: size,
    cropHeight: size,
    cropWidth: size,
    resample: 3,
    doResize: true,
    doCenterCrop: true,
    doRescale: true,
    doNormalize: true,
    rescaleFactor: 1 / 255,
    mean: [...CLIP_MEAN],
    std: [...CLIP_STD],
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function triple(v: unknown, key: string, source: string): [number, number, number] {
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new DatasetError(`${source}: ${key} must be a number or a list of 3 numbers, got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1], v[2]];
}

function sizeOf(v: unknown, key: string, source: string): { h: number; w: number; short?: number } {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0;
  if (ok(v)) return { h: v, w: v, short: v };
  if (isObject(v)) {
    if (ok(v.shortest_edge)) return { h: v.shortest_edge, w: v.shortest_edge, short: v.shortest_edge };
    if (ok(v.height) && ok(v.width)) return { h: v.height, w: v.width };
  }
  throw new DatasetError(`${source}: ${key} ${JSON.stringify(v)} is not supported (expected a positive integer, {"shortest_edge": N} or {"height": H, "width": W})`);
}

/**
 * Parses a preprocessor_config.json object. `imageSize` (the vision tower's) fills what the file
 * leaves out. Fields this code cannot honour are refused by name.
 */
export function parseClipPreprocessConfig(raw: unknown, imageSize: number, source = 'preprocessor_config.json'): ClipPreprocessConfig {
  const c = defaultClipPreprocess(imageSize);
  if (raw === undefined) return c;
  if (!isObject(raw)) throw new DatasetError(`${source}: expected a JSON object`);
  if (raw.size !== undefined) {
    const s = sizeOf(raw.size, 'size', source);
    if (s.short === undefined) throw new DatasetError(`${source}: size ${JSON.stringify(raw.size)} is not supported (CLIP resizes the shortest edge: {"shortest_edge": N})`);
    c.shortestEdge = s.short;
  }
  if (raw.crop_size !== undefined) {
    const s = sizeOf(raw.crop_size, 'crop_size', source);
    c.cropHeight = s.h;
    c.cropWidth = s.w;
  }
  if (raw.resample !== undefined) {
    if (raw.resample !== 3 && raw.resample !== 2) throw new DatasetError(`${source}: resample ${JSON.stringify(raw.resample)} is not supported (3 = bicubic, 2 = bilinear)`);
    c.resample = raw.resample;
  }
  for (const [key, field] of [['do_resize', 'doResize'], ['do_center_crop', 'doCenterCrop'], ['do_rescale', 'doRescale'], ['do_normalize', 'doNormalize']] as const) {
    if (raw[key] === undefined) continue;
    if (typeof raw[key] !== 'boolean') throw new DatasetError(`${source}: ${key} must be true or false`);
    c[field] = raw[key] as boolean;
  }
  if (raw.rescale_factor !== undefined) {
    if (typeof raw.rescale_factor !== 'number' || !(raw.rescale_factor > 0)) throw new DatasetError(`${source}: rescale_factor must be a positive number`);
    c.rescaleFactor = raw.rescale_factor;
  }
  if (raw.image_mean !== undefined) c.mean = triple(raw.image_mean, 'image_mean', source);
  if (raw.image_std !== undefined) {
    c.std = triple(raw.image_std, 'image_std', source);
    if (c.std.some((s) => s <= 0)) throw new DatasetError(`${source}: image_std must be positive`);
  }
  if (raw.do_convert_rgb === false) throw new DatasetError(`${source}: do_convert_rgb false is not supported (images are always converted to RGB)`);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Pillow's resampling (libImaging/Resample.c), 8 bits per channel

export type PilFilter = 'bicubic' | 'bilinear';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

interface Coeffs {
  ksize: number;
  /** [xmin, count] per output pixel. */
  bounds: Int32Array;
  /** Fixed-point weights, ksize per output pixel. */
  kk: Float64Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). */
function coeffs(inSize: number, outSize: number, filter: PilFilter): Coeffs {
  const f = filter === 'bicubic' ? bicubicFilter : bilinearFilter;
  const support0 = filter === 'bicubic' ? 2 : 1;
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = support0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = f((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's `Image.resize((outW, outH), BICUBIC | BILINEAR)` of an RGB image, bit for bit:
 * a horizontal pass into a uint8 image, then a vertical pass (each skipped when that side keeps
 * its size).
 */
export function pilResize(img: RgbImage, outW: number, outH: number, filter: PilFilter = 'bicubic'): RgbImage {
  const { width: W, height: H } = img;
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1) throw new DatasetError(`cannot resize to ${outW}x${outH}`);
  if (W === outW && H === outH) return { width: W, height: H, data: img.data.slice() };
  let cur = img;
  if (outW !== W) {
    const c = coeffs(W, outW, filter);
    const out = new Uint8Array(outW * H * 3);
    const src = cur.data;
    for (let y = 0; y < H; y++) {
      const row = y * W * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = c.bounds[xx * 2];
        const n = c.bounds[xx * 2 + 1];
        const kOff = xx * c.ksize;
        let s0 = ONE / 2;
        let s1 = ONE / 2;
        let s2 = ONE / 2;
        for (let x = 0; x < n; x++) {
          const w = c.kk[kOff + x];
          const p = row + (xmin + x) * 3;
          s0 += src[p] * w;
          s1 += src[p + 1] * w;
          s2 += src[p + 2] * w;
        }
        const o = (y * outW + xx) * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      }
    }
    cur = { width: outW, height: H, data: out };
  }
  if (outH !== H) {
    const c = coeffs(H, outH, filter);
    const w0 = cur.width;
    const out = new Uint8Array(w0 * outH * 3);
    const src = cur.data;
    for (let yy = 0; yy < outH; yy++) {
      const ymin = c.bounds[yy * 2];
      const n = c.bounds[yy * 2 + 1];
      const kOff = yy * c.ksize;
      for (let x = 0; x < w0; x++) {
        let s0 = ONE / 2;
        let s1 = ONE / 2;
        let s2 = ONE / 2;
        for (let y = 0; y < n; y++) {
          const w = c.kk[kOff + y];
          const p = ((ymin + y) * w0 + x) * 3;
          s0 += src[p] * w;
          s1 += src[p + 1] * w;
          s2 += src[p + 2] * w;
        }
        const o = (yy * w0 + x) * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      }
    }
    cur = { width: w0, height: outH, data: out };
  }
  return cur;
}

/** HF's CLIP geometry on decoded pixels: shortest side (Pillow resample), centre crop. */
export function clipGeometry(img: RgbImage, c: ClipPreprocessConfig): RgbImage {
  let cur = img;
  if (c.doResize) {
    const r = shortestSideSize(img.width, img.height, c.shortestEdge);
    cur = pilResize(img, r.width, r.height, c.resample === 3 ? 'bicubic' : 'bilinear');
  }
  if (c.doCenterCrop) {
    const box = centreCropBox(cur.width, cur.height, c.cropWidth, c.cropHeight);
    if (box.width !== cur.width || box.height !== cur.height) {
      const out = new Uint8Array(box.width * box.height * 3);
      for (let y = 0; y < box.height; y++) {
        const from = ((box.top + y) * cur.width + box.left) * 3;
        out.set(cur.data.subarray(from, from + box.width * 3), y * box.width * 3);
      }
      cur = { width: box.width, height: box.height, data: out };
    }
  }
  return cur;
}

async function geometry(src: ImageSource, c: ClipPreprocessConfig): Promise<RgbImage> {
  return clipGeometry(await decodeImage(src), c);
}

/** Per-channel lookup tables for this config's rescale + normalise. */
function tables(c: ClipPreprocessConfig): Float32Array[] {
  if (c.doRescale && c.doNormalize && Math.abs(c.rescaleFactor - 1 / 255) < 1e-12) return normalisationTables(c.mean, c.std);
  return [0, 1, 2].map((ch) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = c.doRescale ? v * c.rescaleFactor : v;
      if (c.doNormalize) x = (x - c.mean[ch]) / c.std[ch];
      t[v] = x;
    }
    return t;
  });
}

/**
 * Preprocesses images into one NHWC float batch [n, H, W, 3]. Every image must come out the
 * model's size (`expectSize`), which CLIP's configs guarantee.
 */
export async function preprocessClipImages(sources: readonly ImageSource[], c: ClipPreprocessConfig, expectSize: number): Promise<Float32Array> {
  const per = expectSize * expectSize * 3;
  const out = new Float32Array(sources.length * per);
  const t = tables(c);
  for (let i = 0; i < sources.length; i++) {
    const img = await geometry(sources[i], c);
    if (img.width !== expectSize || img.height !== expectSize) {
      const name = sources[i].kind === 'file' ? (sources[i] as { path: string }).path : `image ${i}`;
      throw new DatasetError(`${name} preprocesses to ${img.width}x${img.height} but the model takes ${expectSize}x${expectSize} (check preprocessor_config.json crop_size)`);
    }
    normaliseInto(img, out, i * per, t);
  }
  return out;
}
