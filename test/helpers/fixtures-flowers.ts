/**
 * A tiny Oxford Flowers-102 in the official layout: `102flowers.tgz` holding `jpg/image_00001.jpg`
 * ... (or the extracted `jpg/` folder), `imagelabels.mat` (`labels`, 1xN double, values 1..102,
 * stored as miUINT8 like MATLAB does) and `setid.mat` (`trnid`, `valid`, `tstid`, 1xK double
 * stored as miUINT16), compressed (v7) or not. Images are small solid-colour JPEGs made with sharp;
 * image k's colour is a function of k so tests can tell them apart after decoding.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { MatVariable, writeMat } from './mat-writer';
import { WriterEntry, writeTarGz } from './tar-writer';

/** RGB colour of image k (1-based). */
export function flowerColour(k: number): [number, number, number] {
  return [(k * 40) % 256, (k * 90 + 30) % 256, (k * 150 + 60) % 256];
}

export async function tinyJpeg(rgb: [number, number, number], size = 8): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

export interface FlowersFixtureOptions {
  dir: string;
  /** Images as the archive or as the extracted jpg/ folder. */
  as: 'archive' | 'folder';
  /** labels[k-1] is image k's class (1..102); default 12 images over a few classes. */
  labels?: number[];
  trnid?: number[];
  valid?: number[];
  tstid?: number[];
  /** Write the .mat files compressed (MATLAB -v7). */
  compress?: boolean;
  /** Leave out these image numbers from the images. */
  missingImages?: number[];
  /** Raw variables for setid.mat / imagelabels.mat instead of the defaults. */
  setidVars?: MatVariable[];
  labelVars?: MatVariable[];
  /** Skip writing one of the three files. */
  skip?: Array<'images' | 'imagelabels.mat' | 'setid.mat'>;
}

export interface FlowersFixture {
  labels: number[];
  trnid: number[];
  valid: number[];
  tstid: number[];
}

export const DEFAULT_FLOWER_LABELS = [77, 77, 1, 102, 5, 1, 5, 77, 102, 1, 5, 77];

export async function makeFlowersFixture(opts: FlowersFixtureOptions): Promise<FlowersFixture> {
  const labels = opts.labels ?? DEFAULT_FLOWER_LABELS;
  const trnid = opts.trnid ?? [3, 1, 5, 4];
  const valid = opts.valid ?? [2, 7, 9];
  const tstid = opts.tstid ?? [12, 6, 8, 10, 11];
  const skip = new Set(opts.skip ?? []);
  fs.mkdirSync(opts.dir, { recursive: true });
  const compress = opts.compress ?? true;
  if (!skip.has('imagelabels.mat')) {
    const vars = opts.labelVars ?? [{ name: 'labels', value: { values: labels, stored: 'uint8' as const } }];
    fs.writeFileSync(path.join(opts.dir, 'imagelabels.mat'), writeMat(vars, { compress }));
  }
  if (!skip.has('setid.mat')) {
    const vars = opts.setidVars ?? [
      { name: 'trnid', value: { values: trnid, stored: 'uint16' as const } },
      { name: 'valid', value: { values: valid, stored: 'uint16' as const } },
      { name: 'tstid', value: { values: tstid, stored: 'uint16' as const } },
    ];
    fs.writeFileSync(path.join(opts.dir, 'setid.mat'), writeMat(vars, { compress }));
  }
  if (!skip.has('images')) {
    const missing = new Set(opts.missingImages ?? []);
    const images: Array<[string, Buffer]> = [];
    for (let k = 1; k <= labels.length; k++) {
      if (missing.has(k)) continue;
      images.push([`image_${String(k).padStart(5, '0')}.jpg`, await tinyJpeg(flowerColour(k))]);
    }
    if (opts.as === 'folder') {
      fs.mkdirSync(path.join(opts.dir, 'jpg'), { recursive: true });
      for (const [n, b] of images) fs.writeFileSync(path.join(opts.dir, 'jpg', n), b);
    } else {
      const entries: WriterEntry[] = [{ name: 'jpg/', type: 'directory' }, ...images.map(([n, b]) => ({ name: `jpg/${n}`, data: b }))];
      fs.writeFileSync(path.join(opts.dir, '102flowers.tgz'), writeTarGz(entries, { format: 'gnu' }));
    }
  }
  return { labels, trnid, valid, tstid };
}
