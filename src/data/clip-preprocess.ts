/**
 * CLIP image preprocessing as a Hugging Face `preprocessor_config.json` (CLIPImageProcessor)
 * describes it: resize the shortest side to `size.shortest_edge` (resample 3 = bicubic), centre
 * crop `crop_size`, rescale by `rescale_factor` (1/255), normalise with `image_mean` /
 * `image_std`. Defaults are CLIP's (224, bicubic, CLIP mean/std).
 *
 * The geometry is the data layer's teacher view (./transforms.ts: sharp's 'cubic' kernel, which
 * is Catmull-Rom, the cubic PIL's BICUBIC uses, with sharp's antialiasing when shrinking as PIL
 * does; HF's floor-based crop box), so `embed` and training see identical pixels. Pixels may
 * still differ from PIL's by a unit or two of rounding.
 */
import sharp from 'sharp';
import { CLIP_MEAN, CLIP_STD, centreCropBox, decodeImage, normalisationTables, normaliseInto, resizeCentreCrop, shortestSideSize } from './transforms';
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

async function geometry(src: ImageSource, c: ClipPreprocessConfig): Promise<RgbImage> {
  // The common case (CLIP): square crop of the shortest-edge size, bicubic: the data layer's teacher view.
  if (c.doResize && c.doCenterCrop && c.resample === 3 && c.cropHeight === c.shortestEdge && c.cropWidth === c.shortestEdge) {
    return resizeCentreCrop(src, c.shortestEdge);
  }
  const img = await decodeImage(src);
  let cur = img;
  if (c.doResize) {
    const r = shortestSideSize(img.width, img.height, c.shortestEdge);
    if (r.width !== img.width || r.height !== img.height) {
      const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
        .resize(r.width, r.height, { fit: 'fill', kernel: c.resample === 3 ? 'cubic' : 'linear' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      cur = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
    }
  }
  if (c.doCenterCrop) {
    const box = centreCropBox(cur.width, cur.height, c.cropWidth, c.cropHeight);
    const out = new Uint8Array(box.width * box.height * 3);
    for (let y = 0; y < box.height; y++) {
      const from = ((box.top + y) * cur.width + box.left) * 3;
      out.set(cur.data.subarray(from, from + box.width * 3), y * box.width * 3);
    }
    cur = { width: box.width, height: box.height, data: out };
  }
  return cur;
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
