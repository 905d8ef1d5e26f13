import sharp from 'sharp';
import {
  openShapes,
  renderShapes,
  renderSvg,
  shapesCaption,
  shapesLayout,
  shapeSvg,
  SHAPES_DEFAULT_SIZES,
} from '../../src/data/shapes';
import { encodePngRgb, crc32 } from '../../src/data/png';
import { DatasetError, RgbImage } from '../../src/data/types';
import '../../src/data/shapes-dataset';
import { knownDatasets, openDataset } from '../../src/data/registry';

const SMALL = { train: 60, val: 20, test: 72 };

function pixels(split: { size: number; source(i: number): unknown }): RgbImage[] {
  const out: RgbImage[] = [];
  for (let i = 0; i < split.size; i++) {
    const s = split.source(i) as { kind: string; image: RgbImage };
    expect(s.kind).toBe('rgb');
    out.push(s.image);
  }
  return out;
}

describe('shapes dataset', () => {
  it('has 36 colour-shape classes, a diagonal held-out set and captions', () => {
    const l = shapesLayout();
    expect(l.classNames).toHaveLength(36);
    expect(l.classNames[0]).toBe('red circle');
    expect(l.heldOutLabels.map((i) => l.classNames[i])).toEqual([
      'red circle',
      'orange square',
      'yellow triangle',
      'green star',
      'blue hexagon',
      'purple cross',
    ]);
    expect(l.seenLabels).toHaveLength(30);
    expect(shapesCaption('red circle')).toBe('a photo of a red circle.');
    expect(shapesCaption('orange star')).toBe('a photo of an orange star.');
    expect(SHAPES_DEFAULT_SIZES).toEqual({ train: 1200, val: 300, test: 360 });
  });

  it('same seed gives byte-identical images; another seed differs', async () => {
    const a = await openShapes('train', { seed: 3, sizes: SMALL });
    const b = await openShapes('train', { seed: 3, sizes: SMALL });
    const c = await openShapes('train', { seed: 4, sizes: SMALL });
    expect(a.size).toBe(60);
    expect(a.render).toBe('rgb');
    const pa = pixels(a);
    const pb = pixels(b);
    const pc = pixels(c);
    let differing = 0;
    for (let i = 0; i < a.size; i++) {
      expect(pa[i].width).toBe(32);
      expect(pa[i].height).toBe(32);
      expect(pa[i].data).toHaveLength(32 * 32 * 3);
      expect(Buffer.compare(Buffer.from(pa[i].data), Buffer.from(pb[i].data))).toBe(0);
      if (Buffer.compare(Buffer.from(pa[i].data), Buffer.from(pc[i].data)) !== 0) differing++;
      expect(a.svg(i)).toBe(b.svg(i));
    }
    expect(differing).toBe(a.size);
    // The labels are the same layout, independent of the seed.
    expect(a.sample(5).label).toBe(c.sample(5).label);
    expect(a.fingerprint).not.toBe(c.fingerprint);
  });

  it('sample i does not depend on the split size', async () => {
    const a = await openShapes('val', { sizes: { val: 10 } });
    const b = await openShapes('val', { sizes: { val: 25 } });
    for (let i = 0; i < 10; i++) expect(b.svg(i)).toBe(a.svg(i));
  });

  it('keeps held-out combinations out of train and val, and shows every class in test', async () => {
    const train = await openShapes('train', { sizes: SMALL, render: 'svg' });
    const val = await openShapes('val', { sizes: SMALL, render: 'svg' });
    const test = await openShapes('test', { sizes: SMALL, render: 'svg' });
    const held = new Set(train.heldOutLabels);
    const trainLabels = new Set<number>();
    for (let i = 0; i < train.size; i++) trainLabels.add(train.sample(i).label);
    for (let i = 0; i < val.size; i++) expect(held.has(val.sample(i).label)).toBe(false);
    for (const l of trainLabels) expect(held.has(l)).toBe(false);
    expect(trainLabels.size).toBe(30);
    // Every colour and every shape is still seen in training.
    const names = [...trainLabels].map((l) => train.classNames[l]);
    for (const c of ['red', 'orange', 'yellow', 'green', 'blue', 'purple']) expect(names.some((n) => n.startsWith(`${c} `))).toBe(true);
    for (const k of ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross']) expect(names.some((n) => n.endsWith(` ${k}`))).toBe(true);
    const testLabels = new Set<number>();
    for (let i = 0; i < test.size; i++) testLabels.add(test.sample(i).label);
    expect(testLabels.size).toBe(36);
    // Captions and ids
    const s = test.sample(0);
    expect(s.caption).toBe(`a photo of a ${test.classNames[s.label]}.`);
    expect(s.id).toBe('shapes:test/000000');
    // The spec agrees with the label.
    const spec = test.spec(7);
    expect(`${spec.colour} ${spec.kind}`).toBe(test.classNames[test.sample(7).label]);
  });

  it('trainval is train followed by val', async () => {
    const tv = await openShapes('trainval', { sizes: SMALL, render: 'svg' });
    const tr = await openShapes('train', { sizes: SMALL, render: 'svg' });
    const va = await openShapes('val', { sizes: SMALL, render: 'svg' });
    expect(tv.size).toBe(80);
    expect(tv.svg(3)).toBe(tr.svg(3));
    expect(tv.svg(60 + 4)).toBe(va.svg(4));
    expect(tv.sample(64).label).toBe(va.sample(4).label);
  });

  it('sprite-sheet rendering equals rendering each document on its own (32, 48 and 224 px)', async () => {
    for (const size of [32, 48, 224]) {
      const split = await openShapes('test', { size, sizes: { test: size === 224 ? 4 : 24 }, render: 'svg' });
      const specs = Array.from({ length: split.size }, (_, i) => split.spec(i));
      const sprite = await renderShapes(specs, size);
      for (let i = 0; i < split.size; i++) {
        const single = await renderSvg(shapeSvg(specs[i], size));
        expect(single.width).toBe(size);
        expect(Buffer.compare(Buffer.from(single.data), Buffer.from(sprite[i].data))).toBe(0);
      }
    }
  });

  it("'svg' mode hands out SVG bytes that decode to the 'rgb' mode's pixels", async () => {
    const rgb = await openShapes('val', { sizes: { val: 6 }, render: 'rgb' });
    const svg = await openShapes('val', { sizes: { val: 6 }, render: 'svg' });
    expect(svg.render).toBe('svg');
    for (let i = 0; i < 6; i++) {
      const src = svg.source(i);
      if (src.kind !== 'bytes') throw new Error('expected bytes');
      expect(src.name).toBe(`shapes/val/${String(i).padStart(6, '0')}.svg`);
      const { data } = await sharp(Buffer.from(src.bytes)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const r = rgb.source(i);
      if (r.kind !== 'rgb') throw new Error('expected rgb');
      expect(Buffer.compare(data, Buffer.from(r.image.data))).toBe(0);
    }
  });

  it("'lazy' opens at once with SVG sources and renders the same pixels on prepare()", async () => {
    const lazy = await openShapes('val', { sizes: { val: 6 }, render: 'lazy' });
    const rgb = await openShapes('val', { sizes: { val: 6 }, render: 'rgb' });
    expect(lazy.render).toBe('svg');
    expect(lazy.source(0).kind).toBe('bytes');
    await lazy.prepare!();
    expect(lazy.render).toBe('rgb');
    for (let i = 0; i < 6; i++) {
      const a = lazy.source(i);
      const b = rgb.source(i);
      if (a.kind !== 'rgb' || b.kind !== 'rgb') throw new Error('expected pixels');
      expect(Buffer.compare(Buffer.from(a.image.data), Buffer.from(b.image.data))).toBe(0);
    }
    expect(lazy.fingerprint).toBe(rgb.fingerprint);
    // Too big to hold: no prepare, SVG sources stay.
    expect((await openShapes('train', { size: 224, sizes: { train: 2000 }, render: 'lazy' })).prepare).toBeUndefined();
  });

  it("'auto' renders small splits to pixels and big ones to SVG", async () => {
    expect((await openShapes('test', { sizes: { test: 2 } })).render).toBe('rgb');
    const big = await openShapes('train', { size: 224, sizes: { train: 2000 } });
    expect(big.render).toBe('svg');
    expect(big.size).toBe(2000);
    expect(big.imageSize).toBe(224);
  });

  it('supports other colour and shape lists and explicit held-out classes', async () => {
    const s = await openShapes('train', { colours: ['red', 'blue'], kinds: ['circle', 'ring'], heldOut: ['blue ring'], sizes: { train: 9 }, render: 'svg' });
    expect(s.classNames).toEqual(['red circle', 'red ring', 'blue circle', 'blue ring']);
    expect(s.heldOut).toEqual(['blue ring']);
    expect(new Set(Array.from({ length: 9 }, (_, i) => s.sample(i).label))).toEqual(new Set([0, 1, 2]));
    const none = shapesLayout({ heldOut: 'none' });
    expect(none.heldOutLabels).toEqual([]);
    expect(shapesLayout({ colours: ['red'] }).heldOutLabels).toEqual([]);
  });

  it('rejects bad options with DatasetError', async () => {
    await expect(openShapes('holdout')).rejects.toThrow(/unknown split "holdout" \(shapes has train, val, test, trainval\)/);
    await expect(openShapes('train', { colours: ['mauve'] })).rejects.toThrow(DatasetError);
    await expect(openShapes('train', { kinds: ['blob'] })).rejects.toThrow(/unknown shape "blob"/);
    await expect(openShapes('train', { size: 4 })).rejects.toThrow(/size must be an integer from 8/);
    await expect(openShapes('train', { sizes: { train: -1 } })).rejects.toThrow(/sizes.train/);
    await expect(openShapes('train', { render: 'png' as never })).rejects.toThrow(/render must be auto, rgb, svg or lazy/);
    await expect(openShapes('train', { heldOut: ['red moon'] })).rejects.toThrow(/held-out class "red moon"/);
    const s = await openShapes('val', { sizes: { val: 2 }, render: 'svg' });
    expect(() => s.sample(2)).toThrow(/out of range/);
    expect(() => s.source(-1)).toThrow(/out of range/);
  });

  it('generates quickly (reports images/s)', async () => {
    const t0 = process.hrtime.bigint();
    const s = await openShapes('train', { seed: 11, sizes: { train: 512 } });
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const rate = s.size / sec;
    // eslint-disable-next-line no-console
    console.log(`shapes 32x32: ${rate.toFixed(0)} images/s`);
    expect(rate).toBeGreaterThan(100);
  });
});

describe("the 'simple' variant (shapes-simple)", () => {
  it('draws the same classes and fills upright, centred, at radius 27-33, on a solid background', async () => {
    const full = await openShapes('train', { seed: 3, render: 'svg' });
    const simple = await openShapes('train', { seed: 3, render: 'svg', variant: 'simple' });
    expect(simple.dataset).toBe('shapes-simple');
    expect(simple.classNames).toEqual(full.classNames);
    expect(simple.fingerprint).not.toBe(full.fingerprint);
    expect(simple.sample(7).id).toBe('shapes-simple:train/000007');
    for (let i = 0; i < 60; i++) {
      const a = full.spec(i);
      const b = simple.spec(i);
      expect([b.label, b.kind, b.fill]).toEqual([a.label, a.kind, a.fill]);
      expect([b.cx, b.cy, b.rotation]).toEqual([50, 50, 0]);
      expect(b.r).toBeGreaterThanOrEqual(27);
      expect(b.r).toBeLessThanOrEqual(33);
      expect(b.background.kind).toBe('solid');
    }
    // the default variant's fingerprint is the one it had before variants existed
    expect(full.fingerprint).not.toMatch(/variant/);
  });

  it('is a dataset of its own in the registry and refuses unknown variants', async () => {
    expect(knownDatasets()).toEqual(expect.arrayContaining(['shapes', 'shapes-simple']));
    const a = await openDataset('shapes-simple', { split: 'val', seed: 2 });
    const b = await openShapes('val', { seed: 2, render: 'svg', variant: 'simple' });
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.dataset).toBe('shapes-simple');
    await expect(openShapes('train', { variant: 'wobbly' as 'simple' })).rejects.toThrow(/variant must be full or simple/);
  });
});

describe('shapes in the dataset registry', () => {
  it('opens through openDataset with the seed as the generator seed', async () => {
    expect(knownDatasets()).toContain('shapes');
    const a = await openDataset('shapes', { split: 'test', seed: 5 });
    const b = await openShapes('test', { seed: 5, render: 'svg' });
    expect(a.size).toBe(360);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.source(3).kind).toBe('bytes'); // lazy until prepared
    await a.prepare!();
    expect(a.source(3).kind).toBe('rgb');
    await expect(openDataset('shapes', { split: 'holdout' })).rejects.toThrow(/valid splits: train, val, test, trainval/);
  });
});

describe('png encoder', () => {
  it('round-trips through sharp and has the standard CRC', async () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const rgb = new Uint8Array(5 * 3 * 3).map((_, i) => (i * 37) % 256);
    const png = encodePngRgb(5, 3, rgb);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([5, 3, 3]);
    expect(Buffer.compare(data, Buffer.from(rgb))).toBe(0);
    expect(() => encodePngRgb(2, 2, new Uint8Array(3))).toThrow(/expected 12 bytes/);
  });
});
