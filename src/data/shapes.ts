/**
 * `shapes`: the built-in synthetic dataset. Coloured geometric shapes (circle, square, triangle,
 * star, hexagon, cross, ...) on solid, gradient or noise backgrounds, at a random position, size
 * and rotation, generated from a seed with no download. Every image is an SVG document rendered
 * by sharp (librsvg) to raw RGB, so the same seed gives byte-identical pixels and any size
 * (32x32 for the student, 224x224 for the teacher) is drawn natively, not resampled.
 *
 * Classes are colour-shape combinations ("red circle"); captions read "a photo of a red circle.".
 * A held-out set of combinations never appears in `train` or `val` (only in `test`), so zero-shot
 * transfer can be measured: by default the diagonal of the colour x shape grid (colour k with
 * shape k mod #shapes), i.e. red circle, orange square, yellow triangle, green star, blue hexagon
 * and purple cross. Every colour and every shape still appears in train, in other combinations.
 *
 * Sample i of a split depends only on (seed, split, i) and the class list, not on the split's
 * size, and can be regenerated on its own in any order.
 */
import sharp from 'sharp';
import { DatasetError, DatasetSplit, ImageSource, RgbImage, Sample } from './types';
import { encodePngRgb } from './png';
import { randInt, Rng, rngOf, uniform } from './rng';

/** Version of the generator; part of the fingerprint, so a change invalidates caches. */
export const SHAPES_VERSION = 1;

export const SHAPE_COLOURS: ReadonlyArray<{ name: string; rgb: readonly [number, number, number] }> = [
  { name: 'red', rgb: [220, 30, 30] },
  { name: 'orange', rgb: [245, 135, 20] },
  { name: 'yellow', rgb: [240, 215, 25] },
  { name: 'green', rgb: [30, 160, 50] },
  { name: 'blue', rgb: [30, 70, 220] },
  { name: 'purple', rgb: [135, 40, 185] },
  { name: 'cyan', rgb: [20, 190, 210] },
  { name: 'pink', rgb: [240, 100, 180] },
];

export const SHAPE_KINDS = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

export const SHAPES_DEFAULT_COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'];
export const SHAPES_DEFAULT_KINDS: ShapeKind[] = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross'];
export const SHAPES_DEFAULT_SIZES: Readonly<Record<ShapesBaseSplit, number>> = { train: 1200, val: 300, test: 360 };
export const SHAPES_SPLITS = ['train', 'val', 'test', 'trainval'] as const;
export type ShapesSplitName = (typeof SHAPES_SPLITS)[number];
type ShapesBaseSplit = 'train' | 'val' | 'test';

export type ShapesRenderMode = 'auto' | 'rgb' | 'svg' | 'lazy';

export interface ShapesOptions {
  /** Seed of every random choice (default 0). */
  seed?: number;
  /** Image side in pixels (default 32; 224 for the teacher view). */
  size?: number;
  /** Split sizes (defaults: train 1200, val 300, test 360). */
  sizes?: Partial<Record<ShapesBaseSplit, number>>;
  /** Colour names, a subset of SHAPE_COLOURS (default: the first six). */
  colours?: string[];
  /** Shape names, a subset of SHAPE_KINDS (default: the first six). */
  kinds?: string[];
  /**
   * Colour-shape combinations never shown in train/val: 'diagonal' (default; colour k with shape
   * k mod #kinds, needs >= 2 colours and >= 2 kinds), 'none', or explicit class names.
   */
  heldOut?: 'diagonal' | 'none' | string[];
  /**
   * 'rgb': render every image up front (decoded pixels); 'svg': hand out each image's SVG document
   * as encoded bytes (decoded lazily by the loader, cached like any image file); 'auto' (default):
   * 'rgb' while the split's pixels fit in 64 MiB, else 'svg'; 'lazy': open at once with SVG
   * sources and render the pixels when `prepare()` is called (the loader does), if they fit.
   * Either way the pixels are the same (tested).
   */
  render?: ShapesRenderMode;
  /**
   * How much the drawings vary (default 'full'): 'full' puts each shape at a random position, size
   * (radius 16-34 of 100) and rotation on a solid, gradient or noise background; 'simple' draws it
   * upright, centred, at radius 27-33, on a solid muted background. Colours and classes are the
   * same. 'simple' is what a small model learns shape from in minutes on a CPU (`shapes-simple`).
   */
  variant?: ShapesVariant;
}

export const SHAPES_VARIANTS = ['full', 'simple'] as const;
export type ShapesVariant = (typeof SHAPES_VARIANTS)[number];

export type ShapesBackground =
  | { kind: 'solid'; rgb: [number, number, number] }
  | { kind: 'gradient'; from: [number, number, number]; to: [number, number, number]; angle: number }
  | { kind: 'noise'; grid: number; pixels: Uint8Array };

/** Everything needed to draw one image (coordinates in a 100x100 view box). */
export interface ShapeSpec {
  label: number;
  colour: string;
  kind: ShapeKind;
  fill: [number, number, number];
  cx: number;
  cy: number;
  /** Circumradius. */
  r: number;
  /** Degrees. */
  rotation: number;
  background: ShapesBackground;
}

/** A shapes split: a DatasetSplit plus the zero-shot bookkeeping. */
export interface ShapesSplit extends DatasetSplit {
  /** Image side in pixels. */
  imageSize: number;
  /** Class names that never occur in train/val. */
  heldOut: string[];
  /** Their labels. */
  heldOutLabels: number[];
  /** Labels that occur in train/val. */
  seenLabels: number[];
  /** How the pixels are handed out now ('svg' until a lazy split is prepared). */
  readonly render: 'rgb' | 'svg';
  /** The drawing parameters of sample i. */
  spec(i: number): ShapeSpec;
  /** The SVG document of sample i. */
  svg(i: number): string;
}

/** The resolved, validated class layout of a shapes configuration. */
export interface ShapesLayout {
  colours: string[];
  kinds: ShapeKind[];
  classNames: string[];
  heldOutLabels: number[];
  seenLabels: number[];
}

function err(msg: string): DatasetError {
  return new DatasetError(`shapes: ${msg}`);
}

/** Resolves colours, kinds and the held-out set; throws DatasetError on unknown names. */
export function shapesLayout(opts: Pick<ShapesOptions, 'colours' | 'kinds' | 'heldOut'> = {}): ShapesLayout {
  const colours = opts.colours ?? SHAPES_DEFAULT_COLOURS;
  const kinds = (opts.kinds ?? SHAPES_DEFAULT_KINDS) as string[];
  const knownColours = SHAPE_COLOURS.map((c) => c.name);
  for (const c of colours) if (!knownColours.includes(c)) throw err(`unknown colour "${c}" (known: ${knownColours.join(', ')})`);
  for (const k of kinds) if (!(SHAPE_KINDS as readonly string[]).includes(k)) throw err(`unknown shape "${k}" (known: ${SHAPE_KINDS.join(', ')})`);
  if (colours.length === 0 || kinds.length === 0) throw err('need at least one colour and one shape');
  if (new Set(colours).size !== colours.length || new Set(kinds).size !== kinds.length) throw err('colours and shapes must not repeat');
  const classNames: string[] = [];
  for (const c of colours) for (const k of kinds) classNames.push(`${c} ${k}`);
  const heldOutSpec = opts.heldOut ?? 'diagonal';
  let heldOutLabels: number[];
  if (heldOutSpec === 'none') heldOutLabels = [];
  else if (heldOutSpec === 'diagonal') {
    heldOutLabels = [];
    if (colours.length >= 2 && kinds.length >= 2) {
      for (let c = 0; c < colours.length; c++) heldOutLabels.push(c * kinds.length + (c % kinds.length));
    }
  } else {
    heldOutLabels = heldOutSpec.map((name) => {
      const i = classNames.indexOf(name);
      if (i < 0) throw err(`held-out class "${name}" is not one of the classes (${classNames.join(', ')})`);
      return i;
    });
    heldOutLabels = [...new Set(heldOutLabels)].sort((a, b) => a - b);
  }
  const held = new Set(heldOutLabels);
  const seenLabels = classNames.map((_, i) => i).filter((i) => !held.has(i));
  if (seenLabels.length === 0) throw err('every class is held out: nothing left to train on');
  return { colours: [...colours], kinds: kinds as ShapeKind[], classNames, heldOutLabels, seenLabels };
}

// ---------------------------------------------------------------------------------------------
// Drawing parameters

function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

/** A low-saturation background colour (so the saturated shape colours stay recognisable). */
function mutedColour(rng: Rng): [number, number, number] {
  const grey = uniform(rng, 25, 235);
  const tint = [uniform(rng, -22, 22), uniform(rng, -22, 22), uniform(rng, -22, 22)];
  return [clampByte(grey + tint[0]), clampByte(grey + tint[1]), clampByte(grey + tint[2])];
}

const NOISE_GRID = 16;

/** The drawing parameters of one sample; a pure function of (seed, split, index, label, colour, kind). */
export function shapeSpec(seed: number, split: ShapesBaseSplit, index: number, label: number, colour: string, kind: ShapeKind, variant: ShapesVariant = 'full'): ShapeSpec {
  const rng = rngOf(seed, 'shapes', SHAPES_VERSION, split, index);
  const base = SHAPE_COLOURS.find((c) => c.name === colour)!.rgb;
  const fill: [number, number, number] = [
    clampByte(base[0] + uniform(rng, -18, 18)),
    clampByte(base[1] + uniform(rng, -18, 18)),
    clampByte(base[2] + uniform(rng, -18, 18)),
  ];
  const r = uniform(rng, 16, 34);
  const margin = r + 3;
  const cx = uniform(rng, margin, 100 - margin);
  const cy = uniform(rng, margin, 100 - margin);
  const rotation = kind === 'circle' || kind === 'ring' ? 0 : uniform(rng, 0, 360);
  const bgKind = randInt(rng, 3);
  let background: ShapesBackground;
  if (bgKind === 0) background = { kind: 'solid', rgb: mutedColour(rng) };
  else if (bgKind === 1) background = { kind: 'gradient', from: mutedColour(rng), to: mutedColour(rng), angle: uniform(rng, 0, 360) };
  else {
    const baseBg = mutedColour(rng);
    const amp = uniform(rng, 20, 60);
    const pixels = new Uint8Array(NOISE_GRID * NOISE_GRID * 3);
    for (let p = 0; p < NOISE_GRID * NOISE_GRID; p++) {
      const shade = uniform(rng, -amp, amp);
      for (let ch = 0; ch < 3; ch++) pixels[p * 3 + ch] = clampByte(baseBg[ch] + shade + uniform(rng, -6, 6));
    }
    background = { kind: 'noise', grid: NOISE_GRID, pixels };
  }
  if (variant === 'simple') {
    // The same draws as 'full' (so the fill and the background tint are shared), then pinned.
    const simpleBackground: ShapesBackground = background.kind === 'solid' ? background : { kind: 'solid', rgb: mutedColour(rng) };
    return { label, colour, kind, fill, cx: 50, cy: 50, r: 27 + ((r - 16) / 18) * 6, rotation: 0, background: simpleBackground };
  }
  return { label, colour, kind, fill, cx, cy, r, rotation, background };
}

// ---------------------------------------------------------------------------------------------
// SVG

function f(v: number): string {
  // Fixed precision keeps the documents short and independent of float printing subtleties.
  return (Math.round(v * 1000) / 1000).toString();
}

function rgbStr(c: readonly number[]): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function polygon(points: Array<[number, number]>): string {
  return points.map(([x, y]) => `${f(x)},${f(y)}`).join(' ');
}

function regular(n: number, r: number, phase = -Math.PI / 2): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  for (let k = 0; k < n; k++) {
    const a = phase + (2 * Math.PI * k) / n;
    pts.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return pts;
}

function shapeElement(kind: ShapeKind, r: number, fill: string): string {
  switch (kind) {
    case 'circle':
      return `<circle cx="0" cy="0" r="${f(r * 0.9)}" fill="${fill}"/>`;
    case 'ring':
      return `<circle cx="0" cy="0" r="${f(r * 0.72)}" fill="none" stroke="${fill}" stroke-width="${f(r * 0.36)}"/>`;
    case 'square':
      return `<polygon points="${polygon(regular(4, r, -Math.PI / 4))}" fill="${fill}"/>`;
    case 'triangle':
      return `<polygon points="${polygon(regular(3, r))}" fill="${fill}"/>`;
    case 'hexagon':
      return `<polygon points="${polygon(regular(6, r))}" fill="${fill}"/>`;
    case 'star': {
      const pts: Array<[number, number]> = [];
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (Math.PI * k) / 5;
        const rr = k % 2 === 0 ? r : r * 0.45;
        pts.push([rr * Math.cos(a), rr * Math.sin(a)]);
      }
      return `<polygon points="${polygon(pts)}" fill="${fill}"/>`;
    }
    case 'cross': {
      const a = r * 0.3;
      const b = r * 0.92;
      const pts: Array<[number, number]> = [
        [-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a],
      ];
      return `<polygon points="${polygon(pts)}" fill="${fill}"/>`;
    }
    default: {
      const never: never = kind;
      throw err(`unknown shape ${String(never)}`);
    }
  }
}

/**
 * Background pixels at the output resolution, computed here (not by librsvg: its gradients and
 * scaled images round differently depending on where a tile sits in the canvas, which would make
 * sprite-sheet and single renders differ). Solid backgrounds return undefined (drawn as a rect).
 */
export function backgroundPixels(b: ShapesBackground, size: number): Uint8Array | undefined {
  if (b.kind === 'solid') return undefined;
  const out = new Uint8Array(size * size * 3);
  if (b.kind === 'gradient') {
    const a = (b.angle * Math.PI) / 180;
    const ux = Math.cos(a);
    const uy = Math.sin(a);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        // Pixel centre in the 100-unit box, projected on the gradient axis through the centre.
        const px = ((x + 0.5) * 100) / size - 50;
        const py = ((y + 0.5) * 100) / size - 50;
        const t = Math.max(0, Math.min(1, ((px * ux + py * uy) / 50 + 1) / 2));
        const o = (y * size + x) * 3;
        for (let ch = 0; ch < 3; ch++) out[o + ch] = Math.round(b.from[ch] + (b.to[ch] - b.from[ch]) * t);
      }
    }
    return out;
  }
  // Noise: bilinear interpolation of the grid (grid cell centres at ((k + 0.5) / grid) * size).
  const g = b.grid;
  for (let y = 0; y < size; y++) {
    const gy = Math.max(0, Math.min(g - 1, ((y + 0.5) * g) / size - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(g - 1, y0 + 1);
    const fy = gy - y0;
    for (let x = 0; x < size; x++) {
      const gx = Math.max(0, Math.min(g - 1, ((x + 0.5) * g) / size - 0.5));
      const x0 = Math.floor(gx);
      const x1 = Math.min(g - 1, x0 + 1);
      const fx = gx - x0;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v00 = b.pixels[(y0 * g + x0) * 3 + ch];
        const v01 = b.pixels[(y0 * g + x1) * 3 + ch];
        const v10 = b.pixels[(y1 * g + x0) * 3 + ch];
        const v11 = b.pixels[(y1 * g + x1) * 3 + ch];
        out[o + ch] = Math.round((v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy);
      }
    }
  }
  return out;
}

/** The body of one image in a 100x100 user space (background, then the shape). */
function svgBody(spec: ShapeSpec, size: number): string {
  const b = spec.background;
  let bg: string;
  const pixels = backgroundPixels(b, size);
  if (pixels === undefined) {
    bg = `<rect x="0" y="0" width="100" height="100" fill="${rgbStr((b as { rgb: number[] }).rgb)}"/>`;
  } else {
    const png = encodePngRgb(size, size, pixels, 1).toString('base64');
    bg = `<image x="0" y="0" width="100" height="100" preserveAspectRatio="none" href="data:image/png;base64,${png}"/>`;
  }
  return `${bg}<g transform="translate(${f(spec.cx)} ${f(spec.cy)}) rotate(${f(spec.rotation)})">${shapeElement(spec.kind, spec.r, rgbStr(spec.fill))}</g>`;
}

/** A standalone SVG document of one image, `size` x `size` pixels. */
export function shapeSvg(spec: ShapeSpec, size: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">${svgBody(spec, size)}</svg>`;
}

const SPRITE_COLUMNS = 16;
/**
 * Sprite sheets are used up to this size only: above it one big canvas is slower than separate
 * renders (measured at 224: ~10 ms vs ~5 ms per image). Both give byte-identical pixels (tested),
 * because backgrounds are rasterised here at the output resolution and librsvg only draws solid
 * rectangles, the pixel-aligned background image and the shape.
 */
export const SPRITE_MAX_SIZE = 64;

/**
 * Renders many specs in one SVG (a sprite sheet: one sharp call instead of one per image, ~3-6x
 * faster at 32x32) and cuts the result into images. The cells sit on whole-pixel offsets and are
 * clipped to their square, so each image is byte-identical to rendering its own document (tested).
 */
export async function renderShapes(specs: ShapeSpec[], size: number): Promise<RgbImage[]> {
  if (specs.length === 0) return [];
  const cols = Math.min(SPRITE_COLUMNS, specs.length);
  const rows = Math.ceil(specs.length / cols);
  let defs = '';
  let body = '';
  specs.forEach((spec, k) => {
    const x = (k % cols) * 100;
    const y = Math.floor(k / cols) * 100;
    defs += `<clipPath id="k${k}"><rect x="0" y="0" width="100" height="100"/></clipPath>`;
    body += `<g transform="translate(${x} ${y})"><g clip-path="url(#k${k})">${svgBody(spec, size)}</g></g>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size * cols}" height="${size * rows}" viewBox="0 0 ${100 * cols} ${100 * rows}"><defs>${defs}</defs>${body}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg), { limitInputPixels: false }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size * cols || info.height !== size * rows) {
    throw err(`sprite sheet rendered as ${info.width}x${info.height}x${info.channels}, expected ${size * cols}x${size * rows}x3`);
  }
  const rowBytes = info.width * 3;
  return specs.map((_, k) => {
    const x0 = (k % cols) * size;
    const y0 = Math.floor(k / cols) * size;
    const out = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      const start = (y0 + y) * rowBytes + x0 * 3;
      out.set(data.subarray(start, start + size * 3), y * size * 3);
    }
    return { width: size, height: size, data: out };
  });
}

/** Renders one standalone SVG document to raw RGB (the definition of an image's pixels). */
export async function renderSvg(svg: string): Promise<RgbImage> {
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

// ---------------------------------------------------------------------------------------------
// Splits

function checkSize(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw err(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/** Resolved split sizes. */
export function shapesSizes(opts: Pick<ShapesOptions, 'sizes'> = {}): Record<ShapesBaseSplit, number> {
  const s = { ...SHAPES_DEFAULT_SIZES, ...(opts.sizes ?? {}) };
  return {
    train: checkSize('sizes.train', s.train, 0, 10_000_000),
    val: checkSize('sizes.val', s.val, 0, 10_000_000),
    test: checkSize('sizes.test', s.test, 0, 10_000_000),
  };
}

/** The per-split stable identity of a configuration (the loader's cache key). */
export function shapesFingerprint(opts: ShapesOptions, split: string): string {
  const layout = shapesLayout(opts);
  const sizes = shapesSizes(opts);
  return [
    `shapes/v${SHAPES_VERSION}`,
    // absent for 'full', so caches of the default set made before variants existed stay valid
    ...(opts.variant === 'simple' ? ['variant=simple'] : []),
    `seed=${opts.seed ?? 0}`,
    `split=${split}`,
    `size=${opts.size ?? 32}`,
    `n=${sizes.train},${sizes.val},${sizes.test}`,
    `colours=${layout.colours.join(',')}`,
    `kinds=${layout.kinds.join(',')}`,
    `held=${layout.heldOutLabels.join(',')}`,
    // librsvg draws the shapes: another version may anti-alias edges differently.
    `rsvg=${sharp.versions.rsvg ?? 'unknown'}`,
  ].join(';');
}

/** "a photo of a red circle.", "a photo of an orange star." */
export function shapesCaption(className: string): string {
  return `a photo of ${/^[aeiou]/.test(className) ? 'an' : 'a'} ${className}.`;
}

const AUTO_RGB_BYTES = 64 * 1024 * 1024;
const RENDER_CHUNK = 64;
const RENDER_PARALLEL = 4;

/**
 * Opens one split of the shapes dataset. `train` and `val` hold only the seen combinations
 * (balanced: sample i has class seenLabels[i mod #seen]); `test` holds every combination
 * (class i mod #classes), held-out ones included; `trainval` is train followed by val.
 */
export async function openShapes(split: string, opts: ShapesOptions = {}): Promise<ShapesSplit> {
  if (!(SHAPES_SPLITS as readonly string[]).includes(split)) {
    throw err(`unknown split "${split}" (shapes has ${SHAPES_SPLITS.join(', ')})`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw err(`seed must be an integer, got ${seed}`);
  const size = checkSize('size', opts.size ?? 32, 8, 2048);
  const variant = opts.variant ?? 'full';
  if (!(SHAPES_VARIANTS as readonly string[]).includes(variant)) throw err(`variant must be ${SHAPES_VARIANTS.join(' or ')}, got ${String(variant)}`);
  const layout = shapesLayout(opts);
  const sizes = shapesSizes(opts);
  const parts: Array<{ split: ShapesBaseSplit; n: number }> =
    split === 'trainval' ? [{ split: 'train', n: sizes.train }, { split: 'val', n: sizes.val }] : [{ split: split as ShapesBaseSplit, n: sizes[split as ShapesBaseSplit] }];
  const n = parts.reduce((a, p) => a + p.n, 0);

  const locate = (i: number): { split: ShapesBaseSplit; j: number } => {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw err(`sample index ${i} is out of range 0..${n - 1} of split ${split}`);
    let j = i;
    for (const p of parts) {
      if (j < p.n) return { split: p.split, j };
      j -= p.n;
    }
    throw err('unreachable');
  };
  const labelOf = (base: ShapesBaseSplit, j: number): number =>
    base === 'test' ? j % layout.classNames.length : layout.seenLabels[j % layout.seenLabels.length];
  const spec = (i: number): ShapeSpec => {
    const { split: base, j } = locate(i);
    const label = labelOf(base, j);
    const colour = layout.colours[Math.floor(label / layout.kinds.length)];
    const kind = layout.kinds[label % layout.kinds.length];
    return shapeSpec(seed, base, j, label, colour, kind, variant);
  };
  const requested = opts.render ?? 'auto';
  if (!['auto', 'rgb', 'svg', 'lazy'].includes(requested)) throw err(`render must be auto, rgb, svg or lazy, got ${String(requested)}`);
  const fits = n * size * size * 3 <= AUTO_RGB_BYTES;

  let images: RgbImage[] | undefined;
  let rendering: Promise<void> | undefined;
  const renderAll = async (): Promise<void> => {
    const out = new Array<RgbImage>(n);
    const chunks: number[] = [];
    for (let s = 0; s < n; s += RENDER_CHUNK) chunks.push(s);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const start = chunks[next++];
        const end = Math.min(n, start + RENDER_CHUNK);
        if (size <= SPRITE_MAX_SIZE) {
          const specs: ShapeSpec[] = [];
          for (let i = start; i < end; i++) specs.push(spec(i));
          const imgs = await renderShapes(specs, size);
          imgs.forEach((img, k) => (out[start + k] = img));
        } else {
          for (let i = start; i < end; i++) out[i] = await renderSvg(shapeSvg(spec(i), size));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RENDER_PARALLEL, chunks.length) }, worker));
    images = out;
  };
  if (requested === 'rgb' || (requested === 'auto' && fits)) await renderAll();

  const fmt = (i: number): string => `${split}/${String(i).padStart(6, '0')}`;
  const classNames = layout.classNames;
  const dataset = variant === 'simple' ? 'shapes-simple' : 'shapes';
  const result: ShapesSplit = {
    dataset,
    split,
    classNames,
    size: n,
    files: [],
    fingerprint: shapesFingerprint({ ...opts, seed, size }, split),
    imageSize: size,
    heldOut: layout.heldOutLabels.map((l) => classNames[l]),
    heldOutLabels: [...layout.heldOutLabels],
    seenLabels: [...layout.seenLabels],
    get render(): 'rgb' | 'svg' {
      return images ? 'rgb' : 'svg';
    },
    sample(i: number): Sample {
      const { split: base, j } = locate(i);
      const label = labelOf(base, j);
      return { index: i, label, caption: shapesCaption(classNames[label]), id: `${dataset}:${fmt(i)}` };
    },
    source(i: number): ImageSource {
      if (images) {
        locate(i);
        return { kind: 'rgb', image: images[i] };
      }
      return { kind: 'bytes', bytes: Buffer.from(shapeSvg(spec(i), size)), name: `shapes/${fmt(i)}.svg` };
    },
    spec,
    svg: (i: number) => shapeSvg(spec(i), size),
  };
  if (requested === 'lazy' && fits) {
    result.prepare = () => (rendering ??= renderAll());
  }
  return result;
}
