/**
 * Fixtures for the eval tests: a micro student checkpoint (a few thousand parameters, with a small
 * byte-level CLIP vocabulary whose size is the text encoder's embedding size) and temporary
 * folders.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../../src/tf';
import sharp from 'sharp';
import { SpikeClip } from '../../src/models/spikeclip';
import { SpikeClipConfig, validateConfig } from '../../src/models/config';
import { DEFAULT_NEURON } from '../../src/snn/neuron-config';
import { saveStudentCheckpoint } from '../../src/student/checkpoint';
import { smallClipVocab, VocabFiles } from './clip-vocab';

/** Words of the shapes classes and the shapes/CIFAR templates, so prompts tokenize to a few tokens. */
export const EVAL_WORDS = [
  'a', 'photo', 'of', 'the', 'drawing', 'rendering',
  'red', 'orange', 'yellow', 'green', 'blue', 'purple',
  'circle', 'square', 'triangle', 'star', 'hexagon', 'cross',
];

export function tmpDir(prefix = 'eval-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function microStudentConfig(vocabSize: number, opts: { outputDim?: number; timeSteps?: number } = {}): SpikeClipConfig {
  const neuron = { ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } };
  const T = opts.timeSteps ?? 2;
  const D = opts.outputDim ?? 12;
  return validateConfig({
    image: { embedDim: 16, depth: 1, heads: 2, mlpRatio: 2, timeSteps: T, imageSize: 32, inChannels: 3, outputDim: D, neuron, attnThreshold: 0.5, attnScale: 0.125 },
    text: { contextLength: 20, vocabSize, width: 16, maxPositions: 77, hidden: 64, outputDim: D, timeSteps: T, neuron: { ...neuron } },
  });
}

export interface MicroStudent {
  dir: string;
  config: SpikeClipConfig;
  vocab: VocabFiles;
}

/**
 * Scales a freshly initialised micro student so that it spikes: at initialisation almost no
 * membrane reaches the threshold, every image (and every prompt) then gets the same embedding and
 * the tests would see nothing. Image BatchNorm gains x8, token/position embeddings x75 (std about
 * 1.5), the text encoder's first Linear x16.
 */
export function makeItSpike(model: SpikeClip): void {
  for (const [name, v] of model.namedParameters()) {
    let gain = 1;
    if (/^image\..*bn\.weight$/.test(name)) gain = 8;
    else if (/^text\.clip_embedding\.(token|position)_embedding\.weight$/.test(name)) gain = 75;
    else if (name === 'text.fc1.weight') gain = 16;
    if (gain !== 1) v.assign(tf.mul(v, gain));
  }
}

/**
 * Writes a micro student checkpoint (seeded weights, scaled to spike unless `spiking: false`) to
 * `dir`, with tokenizer files unless `tokenizer: false`.
 */
export async function writeMicroStudent(dir: string, opts: { seed?: number; tokenizer?: boolean; words?: string[]; timeSteps?: number; outputDim?: number; spiking?: boolean } = {}): Promise<MicroStudent> {
  const vocab = smallClipVocab(opts.words ?? EVAL_WORDS);
  const config = microStudentConfig(vocab.vocab.size, { timeSteps: opts.timeSteps, outputDim: opts.outputDim });
  const model = new SpikeClip(config, { seed: opts.seed ?? 3 });
  if (opts.spiking !== false) makeItSpike(model);
  const enc = new TextEncoder();
  const tokenizerFiles = opts.tokenizer === false ? undefined : new Map([['vocab.json', enc.encode(vocab.vocabJson)], ['merges.txt', enc.encode(vocab.mergesTxt)]]);
  try {
    await saveStudentCheckpoint(dir, model, { tokenizerFiles });
  } finally {
    model.dispose();
  }
  return { dir, config, vocab };
}

/** A patterned RGB PNG of `w` x `h` (seeded), so that images differ from each other. */
export async function patternPng(file: string, w: number, h: number, seed: number): Promise<string> {
  const data = Buffer.alloc(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * (seed + 3) + seed * 31 + ((i / 3) | 0) * 7 + ((i * seed) % 13) * 11) & 0xff;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
  return file;
}

/**
 * An image folder `root/test/<class>/<k>.png` with `perClass` patterned images per class (sizes
 * vary, so the views resize and crop). Returns the files in the folder dataset's order (classes
 * sorted, files sorted within a class).
 */
export async function writeImageFolder(root: string, classes: string[], perClass: number): Promise<{ file: string; label: number }[]> {
  const out: { file: string; label: number }[] = [];
  const sorted = [...classes].sort();
  for (let c = 0; c < sorted.length; c++) {
    for (let k = 0; k < perClass; k++) {
      const file = path.join(root, 'test', sorted[c], `${k}.png`);
      await patternPng(file, 30 + 7 * k, 40 - 3 * c, 10 * c + k + 1);
      out.push({ file, label: c });
    }
  }
  return out;
}
