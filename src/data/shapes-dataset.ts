/**
 * Registers the built-in synthetic `shapes` set with the dataset registry, so that
 * `openDataset('shapes', {split, seed})` and `datasetInfo('shapes')` work like any other dataset.
 * Importing this module is enough (commands that take --dataset import it).
 *
 * Splits: train, val, test, trainval (own, fixed sizes; nothing is carved). The registry's `seed`
 * is the generator's seed. Splits open instantly ('lazy'): the pixels are rendered when the loader
 * prepares the split.
 */
import { DatasetOpener, registerDataset } from './registry';
import { openShapes, SHAPES_DEFAULT_SIZES, SHAPES_SPLITS } from './shapes';

export const SHAPES_OPENER: DatasetOpener = {
  usage: 'shapes',
  title:
    `built-in synthetic shapes (36 colour-shape classes, 32x32, generated from the seed; no files, no download; ` +
    `train ${SHAPES_DEFAULT_SIZES.train} / val ${SHAPES_DEFAULT_SIZES.val} / test ${SHAPES_DEFAULT_SIZES.test}, held-out combinations only in test)`,
  officialSplits: () => [...SHAPES_SPLITS],
  carveValidation: false,
  open: (split, ctx) => openShapes(split, { seed: ctx.seed, render: 'lazy' }),
  files: () => [],
};

registerDataset('shapes', SHAPES_OPENER);
