/**
 * Image folders for tests: `files` maps relative paths to image specs; sharp encodes a tiny
 * solid-colour image in the format the extension names (jpg/jpeg, png, webp). Other files are
 * written as given text.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';

export type Rgb = [number, number, number];

export async function encodeImage(ext: string, rgb: Rgb, size = 6): Promise<Buffer> {
  const img = sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  switch (ext.toLowerCase()) {
    case '.png':
      return img.png().toBuffer();
    case '.webp':
      return img.webp({ lossless: true }).toBuffer();
    default:
      return img.jpeg({ quality: 95 }).toBuffer();
  }
}

/** Writes `files` under `root`: an Rgb value becomes an image, a string is written as text. */
export async function makeFolder(root: string, files: Record<string, Rgb | string>): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof spec === 'string') fs.writeFileSync(p, spec);
    else fs.writeFileSync(p, await encodeImage(path.extname(p), spec));
  }
}
