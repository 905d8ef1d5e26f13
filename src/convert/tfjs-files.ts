/**
 * Node side of the TF.js export: read a folder written by `convert export --format tfjs` from disk
 * and decode it with TF.js's own `tf.io.decodeWeights` (the browser uses `loadSpikeClipFromUrl`).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import type { SpikeClip } from '../models/spikeclip';
import { parseTfjsModelJson, spikeClipFromTfjs, TfjsModelError, type SpikeclipTfjsModelJson } from './tfjs-format';
import { readSettingsTextSync } from '../io/bounded-read';

/** model.json and the decoded weights (tensors the caller disposes). */
export function readTfjsFolder(dir: string): { modelJson: SpikeclipTfjsModelJson; weights: tf.NamedTensorMap } {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new TfjsModelError(`${dir}: no model.json (not a TF.js model folder)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readSettingsTextSync(file, (m) => new TfjsModelError(m)));
  } catch (e) {
    if (e instanceof TfjsModelError) throw e;
    throw new TfjsModelError(`${file}: invalid JSON (${(e as Error).message})`);
  }
  const modelJson = parseTfjsModelJson(raw, file);
  const weights: tf.NamedTensorMap = {};
  for (const group of modelJson.weightsManifest) {
    const buffers = group.paths.map((p) => {
      if (p.includes('/') || p.includes('\\') || p.startsWith('.')) throw new TfjsModelError(`${file}: invalid shard path ${JSON.stringify(p)}`);
      const b = fs.readFileSync(path.join(dir, p));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    });
    Object.assign(weights, tf.io.decodeWeights(buffers, group.weights));
  }
  return { modelJson, weights };
}

/** Rebuilds the student from a TF.js export folder on disk. */
export function loadTfjsFolder(dir: string, opts: { seed?: number } = {}): SpikeClip {
  const { modelJson, weights } = readTfjsFolder(dir);
  return spikeClipFromTfjs(modelJson, weights, opts);
}
