/** Lookup table: `weight` [num, dim]; ids (int32, any shape) -> [...ids.shape, dim]. */
import * as tf from '../../tf';
import { Module, ModuleError } from '../module';
import { InitRng, normalInit } from './init';

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly dim: number;
  readonly weight: tf.Variable;

  /** Initialised N(0, std) (CLIP uses 0.02 for tokens, 0.01 for positions). */
  constructor(numEmbeddings: number, dim: number, o: { std?: number; rng?: InitRng } = {}) {
    super();
    if (!Number.isInteger(numEmbeddings) || numEmbeddings < 1 || !Number.isInteger(dim) || dim < 1) {
      throw new ModuleError(`Embedding: sizes must be positive integers, got ${numEmbeddings} x ${dim}`);
    }
    this.numEmbeddings = numEmbeddings;
    this.dim = dim;
    this.weight = this.addParam('weight', normalInit([numEmbeddings, dim], o.std ?? 0.02, o.rng ?? new InitRng()));
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const flat = tf.reshape(ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32'), [-1]);
      return tf.reshape(tf.gather(this.weight, flat), [...ids.shape, this.dim]);
    });
  }

  /** Copies rows [0, rows) of `data` ([rows', dim], row-major) into the table. */
  setRows(data: Float32Array, rows: number): void {
    if (rows > this.numEmbeddings || data.length < rows * this.dim) {
      throw new ModuleError(`Embedding: cannot set ${rows} rows of ${this.dim} into a [${this.numEmbeddings}, ${this.dim}] table`);
    }
    tf.tidy(() => {
      const head = tf.tensor2d(data.subarray(0, rows * this.dim), [rows, this.dim]);
      const value = rows === this.numEmbeddings ? head : tf.concat([head, tf.slice(this.weight, [rows, 0], [-1, -1])], 0);
      this.weight.assign(value);
    });
  }
}
