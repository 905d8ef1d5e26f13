/**
 * The dataset layer's shared shapes. Every dataset (CIFAR, Flowers-102, Pets, folders, shapes)
 * yields splits of labelled images; transforms turn them into model inputs; the loader batches.
 */
import { BadInputError } from '../errors';

export const SPLIT_NAMES = ['train', 'val', 'test', 'trainval'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** A decoded image: interleaved RGB bytes, row-major, height x width x 3. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Where one sample's pixels come from. */
export type ImageSource =
  /** Already decoded pixels (CIFAR batches, generated shapes). */
  | { kind: 'rgb'; image: RgbImage }
  /** An encoded file on disk (jpg, png, webp). */
  | { kind: 'file'; path: string }
  /** Encoded bytes held in memory (e.g. a member of a tar archive). */
  | { kind: 'bytes'; bytes: Uint8Array; name: string };

export interface Sample {
  /** Index within the split. */
  index: number;
  /** Class index into `classNames`, or -1 for unlabelled (captioned) samples. */
  label: number;
  /** Caption for captioned sets (alignment pre-training on any image set). */
  caption?: string;
  /** Stable identifier (file name or `batch:row`), for error messages and cache keys. */
  id: string;
}

export interface DatasetSplit {
  /** Dataset name as the CLI spells it (`cifar10`, `folder:/data/x`, ...). */
  dataset: string;
  split: string;
  classNames: string[];
  size: number;
  sample(i: number): Sample;
  /** Pixels of sample i. */
  source(i: number): ImageSource;
  /** Files this split was read from (for `data info`). */
  files: string[];
  /**
   * Optional stable identity of the split's content (e.g. archive path + size + mtime, or a
   * generator's parameters). The loader's on-disk cache keys on it; without it the loader
   * fingerprints every sample's source itself (file path/size/mtime, or a hash of the bytes).
   */
  fingerprint?: string;
  /**
   * Optional: loads or renders the split's pixels into memory so that `source(i)` can hand out
   * decoded pixels (the synthetic shapes set renders itself here). Consumers that go through the
   * whole split (the loader) call it once first; `source(i)` is valid with or without it.
   */
  prepare?(): Promise<void>;
}

export class DatasetError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_DATASET');
    this.name = 'DatasetError';
  }
}
