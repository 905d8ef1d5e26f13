/**
 * Real inputs for the energy report: `samples` images of a dataset split (a seeded random
 * subset, in the student view the models are trained on: `studentView`, CLIP-normalised), and
 * prompts for the text encoder: the dataset's class names in its CLIP templates, tokenized with
 * the checkpoint's own tokenizer when it has one; without one, seeded random token sequences
 * (stated in the report).
 */
import type { SpikeClipConfig } from '../models/config';
import { openDataset } from '../data/registry';
import { DataLoader } from '../data/loader';
import { rngOf } from '../data/rng';
import { studentView } from '../data/transforms';
import { ClipTokenizer } from '../text/tokenizer';
import { promptsFor, templatesFor } from '../text/templates';
import { syntheticTokenIds, tokenBatches, type ImageBatch, type TextBatch } from './inputs';
import { EnergyReportError } from './report';

export interface DatasetInputsOptions {
  dataset: string;
  dataDir?: string;
  split: string;
  samples: number;
  seed: number;
  config: SpikeClipConfig;
  batchSize: number;
  /** A CLIP tokenizer folder (vocab.json + merges.txt, or the OpenAI bpe gz): --tokenizer, or the checkpoint's tokenizer/. */
  tokenizerDir?: string;
  onWarning?: (message: string) => void;
  onNote?: (line: string) => void;
}

export interface DatasetInputs {
  images: AsyncIterable<ImageBatch>;
  texts: Iterable<TextBatch>;
  totalImages: number;
  totalPrompts: number;
  imageSource: string;
  textSource: string;
  close(): Promise<void>;
}

/** A seeded choice of k of n indices, in increasing order. */
function subset(n: number, k: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const rng = rngOf(seed, 'energy-prompts');
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}

export async function datasetInputs(o: DatasetInputsOptions): Promise<DatasetInputs> {
  // the built-in synthetic set registers itself on import
  await import('../data/shapes-dataset');
  const split = await openDataset(o.dataset, { dataDir: o.dataDir, split: o.split, seed: o.seed });
  if (split.size === 0) throw new Error(`${o.dataset} (${o.split}) has no images`);
  const total = Math.min(o.samples, split.size);
  o.onNote?.(`data: ${split.dataset} ${split.split}, ${total} of ${split.size} images (seeded random subset, seed ${o.seed})`);
  const loader = await DataLoader.open(split, {
    view: studentView({ size: o.config.image.imageSize }),
    batchSize: o.batchSize,
    shuffle: true,
    seed: o.seed,
    cache: false,
    onWarning: o.onWarning,
  });
  async function* images(): AsyncGenerator<ImageBatch> {
    let done = 0;
    for await (const b of loader.epoch(0)) {
      const take = Math.min(b.shape[0], total - done);
      const per = b.shape[1] * b.shape[2] * b.shape[3];
      yield { data: take === b.shape[0] ? b.images : b.images.slice(0, take * per), shape: [take, b.shape[1], b.shape[2], b.shape[3]] };
      done += take;
      if (done >= total) break;
    }
  }

  const t = o.config.text;
  let texts: Iterable<TextBatch>;
  let totalPrompts: number;
  let textSource: string;
  const base = split.dataset.split(':')[0];
  if (o.tokenizerDir && split.classNames.length > 0) {
    const tok = ClipTokenizer.fromDir(o.tokenizerDir);
    if (tok.vocabSize > t.vocabSize) {
      throw new EnergyReportError(`the tokenizer in ${o.tokenizerDir} has ${tok.vocabSize} tokens, more than the text encoder's ${t.vocabSize}: not this model's tokenizer`);
    }
    const templates = templatesFor(base);
    const prompts = promptsFor(split.classNames, templates);
    const chosen = subset(prompts.length, Math.min(o.samples, prompts.length), o.seed).map((i) => prompts[i]);
    const rows = chosen.map((p) => tok.encode(p, t.contextLength));
    texts = tokenBatches(rows, t.contextLength, o.batchSize);
    totalPrompts = rows.length;
    textSource = `${rows.length} of ${prompts.length} prompts (${split.classNames.length} class names x ${templates.length} templates for ${base}), seeded subset, tokenizer ${o.tokenizerDir}`;
  } else {
    totalPrompts = o.samples;
    texts = syntheticTokenIds(t, o.samples, o.batchSize, o.seed);
    const why =
      split.classNames.length === 0
        ? 'the dataset has no class names'
        : 'no tokenizer (give --tokenizer DIR, or a checkpoint with a tokenizer/ folder)';
    textSource = `synthetic: ${o.samples} seeded random token sequences (seed ${o.seed}; ${why})`;
    o.onWarning?.(`text encoder measured on random token sequences: ${why}`);
  }
  return {
    images: images(),
    texts,
    totalImages: total,
    totalPrompts,
    imageSource: `${split.dataset} ${split.split}: ${total} of ${split.size} images, seeded random subset (seed ${o.seed}), student view ${o.config.image.imageSize}x${o.config.image.imageSize}, CLIP-normalised`,
    textSource,
    close: () => loader.close(),
  };
}
