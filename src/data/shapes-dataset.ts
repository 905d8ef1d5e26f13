/**
 * Registers the built-in synthetic sets with the dataset registry, so that
 * `openDataset('shapes', {split, seed})` and `datasetInfo('shapes')` work like any other dataset:
 * - `shapes`: shapes at a random position, size and rotation on varied backgrounds;
 * - `shapes-simple`: the same classes drawn upright and centred on a plain background (what
 *   `spikeclip demo` trains on: a small model learns shape from it in minutes on a CPU).
 * Importing this module is enough (commands that take --dataset import it).
 *
 * Splits: train, val, test, trainval (own, fixed sizes; nothing is carved). The registry's `seed`
 * is the generator's seed. Splits open instantly ('lazy'): the pixels are rendered when the loader
 * prepares the split.
 */
import { DatasetOpener, registerDataset } from './registry';
import { openShapes, SHAPES_DEFAULT_SIZES, SHAPES_SPLITS, ShapesVariant } from './shapes';

function opener(name: string, variant: ShapesVariant, what: string): DatasetOpener {
  return {
    usage: name,
    title:
      `built-in synthetic shapes, ${what} (36 colour-shape classes, 32x32, generated from the seed; no files, no download; ` +
      `train ${SHAPES_DEFAULT_SIZES.train} / val ${SHAPES_DEFAULT_SIZES.val} / test ${SHAPES_DEFAULT_SIZES.test}, held-out combinations only in test)`,
    officialSplits: () => [...SHAPES_SPLITS],
    carveValidation: false,
    open: (split, ctx) => openShapes(split, { seed: ctx.seed, render: 'lazy', variant }),
    files: () => [],
  };
}

export const SHAPES_OPENER = opener('shapes', 'full', 'random position, size and rotation on varied backgrounds');
export const SHAPES_SIMPLE_OPENER = opener('shapes-simple', 'simple', 'upright and centred on a plain background');

registerDataset('shapes', SHAPES_OPENER);
registerDataset('shapes-simple', SHAPES_SIMPLE_OPENER);
