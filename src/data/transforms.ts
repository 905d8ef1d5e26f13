/**
 * Image preprocessing: the teacher view and the student view.
 *
 * Teacher (CLIP's image processor, as the reference code runs it through Hugging Face's
 * CLIPImageProcessor): shortest side to 224 with bicubic resampling (the long side becomes
 * floor(224 * long / short)), centre crop 224x224 (top = floor((h - 224) / 2), left likewise: HF's
 * rule; torchvision's CenterCrop rounds half to even instead and can sit one pixel further), rescale
 * to [0, 1] and normalise with CLIP's mean and std.
 *
 * Student (32x32), three documented ways:
 * - 'reference' (default): exactly what the reference code does: the teacher view, then PyTorch's
 *   `F.interpolate(x, 32, mode='bilinear', align_corners=False)` (no antialiasing). For 224 -> 32
 *   the sample points fall on whole pixels (7i + 3), so it picks every 7th pixel of the teacher view.
 * - 'antialias': the teacher view, then an antialiased bilinear (triangle-filter) reduction to 32.
 * - 'direct': shortest side straight to 32 (bicubic) and centre crop; identity for 32x32 inputs
 *   such as CIFAR, so it skips the 32 -> 224 -> 32 round trip.
 *
 * The geometric part (sharp decodes; resize and crop use the Pillow-exact resampler of
 * clip-preprocess.ts, so pixels equal Pillow's) works on uint8 pixels and is what the loader
 * caches; augmentation and normalisation run per batch on those bytes. Output is Float32 HWC,
 * batches NHWC (what TF.js convolutions take).
 */
import sharp from 'sharp';
import type { Sharp, SharpOptions } from 'sharp';
import { clipGeometry, defaultClipPreprocess } from './clip-preprocess';
import { DatasetError, ImageSource, RgbImage } from './types';

export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export type ViewName = 'teacher' | 'student';
export type StudentResize = 'reference' | 'antialias' | 'direct';
export const STUDENT_RESIZES: readonly StudentResize[] = ['reference', 'antialias', 'direct'];

/** What the geometric transform produces: a square `size` x `size` uint8 RGB image. */
export interface ViewSpec {
  view: ViewName;
  /** Output side (224 for the teacher, 32 for the student). */
  size: number;
  /** Side of the teacher view the student is derived from ('reference' and 'antialias'). */
  teacherSize: number;
  /** How the student view is made (ignored for the teacher). */
  studentResize: StudentResize;
}

export function teacherView(size = 224): ViewSpec {
  return checkView({ view: 'teacher', size, teacherSize: size, studentResize: 'reference' });
}

export function studentView(opts: { size?: number; resize?: StudentResize; teacherSize?: number } = {}): ViewSpec {
  return checkView({ view: 'student', size: opts.size ?? 32, teacherSize: opts.teacherSize ?? 224, studentResize: opts.resize ?? 'reference' });
}

export function checkView(v: ViewSpec): ViewSpec {
  for (const [k, x] of [['size', v.size], ['teacherSize', v.teacherSize]] as const) {
    if (!Number.isInteger(x) || x < 1 || x > 4096) throw new DatasetError(`view ${k} must be an integer from 1 to 4096, got ${x}`);
  }
  if (v.view !== 'teacher' && v.view !== 'student') throw new DatasetError(`view must be teacher or student, got ${String(v.view)}`);
  if (!STUDENT_RESIZES.includes(v.studentResize)) {
    throw new DatasetError(`student resize must be one of ${STUDENT_RESIZES.join(', ')}, got ${String(v.studentResize)}`);
  }
  return v;
}

/** A short stable name of a view (part of the loader's cache key). */
export function viewKey(v: ViewSpec): string {
  if (v.view === 'teacher') return `teacher${v.size}-pilbicubic-hfcrop`;
  if (v.studentResize === 'direct') return `student${v.size}-direct-pilbicubic-hfcrop`;
  return `student${v.size}-${v.studentResize}-from-teacher${v.teacherSize}`;
}

// ---------------------------------------------------------------------------------------------
// Geometry (pure functions; golden-tested)

/** Size after "shortest side to `short`": the long side is floor(short * long / shortSide) (HF and torchvision). */
export function shortestSideSize(width: number, height: number, short: number): { width: number; height: number } {
  if (width <= height) return { width: short, height: Math.floor((short * height) / width) };
  return { width: Math.floor((short * width) / height), height: short };
}

/** Hugging Face's centre crop box: top = floor((h - ch) / 2), left = floor((w - cw) / 2). */
export function centreCropBox(width: number, height: number, cw: number, ch: number): { left: number; top: number; width: number; height: number } {
  if (cw > width || ch > height) throw new DatasetError(`cannot centre-crop ${cw}x${ch} from ${width}x${height}`);
  return { left: Math.floor((width - cw) / 2), top: Math.floor((height - ch) / 2), width: cw, height: ch };
}

/**
 * PyTorch's `F.interpolate(mode='bilinear', align_corners=False, antialias=False)` of a uint8
 * image, rounded back to uint8 (exact when the sample points fall on whole pixels, as for 224 -> 32).
 */
export function torchBilinear(img: RgbImage, outW: number, outH: number): RgbImage {
  const { width: W, height: H, data } = img;
  const out = new Uint8Array(outW * outH * 3);
  const sx = W / outW;
  const sy = H / outH;
  for (let y = 0; y < outH; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), H - 1);
    const y1 = Math.min(y0 + 1, H - 1);
    const wy = fy - y0;
    for (let x = 0; x < outW; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), W - 1);
      const x1 = Math.min(x0 + 1, W - 1);
      const wx = fx - x0;
      const o = (y * outW + x) * 3;
      const a = (y0 * W + x0) * 3;
      const b = (y0 * W + x1) * 3;
      const c = (y1 * W + x0) * 3;
      const d = (y1 * W + x1) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v = (data[a + ch] * (1 - wx) + data[b + ch] * wx) * (1 - wy) + (data[c + ch] * (1 - wx) + data[d + ch] * wx) * wy;
        out[o + ch] = Math.round(v);
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

// ---------------------------------------------------------------------------------------------
// sharp pipelines

function describe(src: ImageSource): string {
  if (src.kind === 'file') return src.path;
  if (src.kind === 'bytes') return src.name;
  return `${src.image.width}x${src.image.height} pixels`;
}

function sharpOf(src: ImageSource): Sharp {
  // failOn 'warning' (sharp's default, explicit here): a truncated or damaged JPEG is an error, as in
  // PIL, not a silently grey-filled image.
  const opts: SharpOptions = { failOn: 'warning', limitInputPixels: 268_402_689 };
  if (src.kind === 'rgb') {
    const { width, height, data } = src.image;
    if (data.length !== width * height * 3) throw new DatasetError(`RGB image of ${width}x${height} needs ${width * height * 3} bytes, has ${data.length}`);
    return sharp(data, { ...opts, raw: { width, height, channels: 3 } });
  }
  if (src.kind === 'file') return sharp(src.path, opts);
  return sharp(src.bytes, opts);
}

/** Any decode failure becomes a DatasetError naming the image (corrupt or unsupported file). */
function decodeError(src: ImageSource, e: unknown): DatasetError {
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  const err = new DatasetError(`cannot decode image ${describe(src)}: ${msg}`);
  (err as DatasetError & { corrupt?: boolean }).corrupt = true;
  return err;
}

async function toRgb(pipeline: Sharp, src: ImageSource): Promise<RgbImage> {
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new DatasetError(`image ${describe(src)} decoded to ${info.channels} channels, expected 3`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Decodes any source to RGB pixels (alpha dropped like PIL's convert('RGB'), grey expanded). */
export async function decodeImage(src: ImageSource): Promise<RgbImage> {
  if (src.kind === 'rgb') return src.image;
  try {
    return await toRgb(sharpOf(src), src);
  } catch (e) {
    throw decodeError(src, e);
  }
}

/**
 * Shortest side to `size` with Pillow's bicubic resampling, centre crop `size` x `size`: exactly
 * what Hugging Face's CLIPImageProcessor computes (clip-preprocess.ts re-implements Pillow's
 * resampler bit for bit; sharp's cubic differs by up to tens of levels on upscales such as
 * CIFAR's 32 -> 224), so teacher features seen in training equal those of `spikeclip embed`.
 * sharp only decodes.
 */
export async function resizeCentreCrop(src: ImageSource, size: number): Promise<RgbImage> {
  if (src.kind === 'rgb' && src.image.width === size && src.image.height === size) return src.image;
  const img = await decodeImage(src);
  if (img.width === size && img.height === size) return img;
  return clipGeometry(img, defaultClipPreprocess(size));
}

/** Antialiased bilinear (triangle filter) reduction of a square image to `size`. */
async function antialiasResize(img: RgbImage, size: number): Promise<RgbImage> {
  if (img.width === size && img.height === size) return img;
  const src: ImageSource = { kind: 'rgb', image: img };
  return toRgb(sharpOf(src).resize(size, size, { fit: 'fill', kernel: 'linear' }), src);
}

/** The geometric part of a view: decode, resize and crop to a `size` x `size` uint8 image. */
export async function applyView(src: ImageSource, v: ViewSpec): Promise<RgbImage> {
  if (v.view === 'teacher' || v.studentResize === 'direct') return resizeCentreCrop(src, v.size);
  const teacher = await resizeCentreCrop(src, v.teacherSize);
  if (v.studentResize === 'reference') {
    return teacher.width === v.size && teacher.height === v.size ? teacher : torchBilinear(teacher, v.size, v.size);
  }
  return antialiasResize(teacher, v.size);
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/** Per-channel lookup tables v -> (v / 255 - mean) / std. */
export function normalisationTables(mean: readonly number[] = CLIP_MEAN, std: readonly number[] = CLIP_STD): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v / 255 - mean[c]) / std[c];
    return t;
  });
}

const DEFAULT_TABLES = normalisationTables();

/** Writes the normalised float HWC pixels of `img` into `out` at `offset` (floats). */
export function normaliseInto(img: RgbImage, out: Float32Array, offset: number, tables: Float32Array[] = DEFAULT_TABLES): void {
  const d = img.data;
  const n = img.width * img.height * 3;
  if (d.length < n) throw new DatasetError(`image has ${d.length} bytes, expected ${n}`);
  if (offset + n > out.length) throw new DatasetError(`output buffer too small: ${out.length} < ${offset + n}`);
  const t0 = tables[0];
  const t1 = tables[1];
  const t2 = tables[2];
  for (let i = 0; i < n; i += 3) {
    out[offset + i] = t0[d[i]];
    out[offset + i + 1] = t1[d[i + 1]];
    out[offset + i + 2] = t2[d[i + 2]];
  }
}

/** The normalised float HWC pixels of one image. */
export function normalise(img: RgbImage, tables?: Float32Array[]): Float32Array {
  const out = new Float32Array(img.width * img.height * 3);
  normaliseInto(img, out, 0, tables);
  return out;
}

/** Geometric view + normalisation of one image: Float32 HWC [size, size, 3]. */
export async function preprocess(src: ImageSource, v: ViewSpec): Promise<Float32Array> {
  return normalise(await applyView(src, v));
}
