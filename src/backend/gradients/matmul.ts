/**
 * Gradient of BatchMatMul that also handles broadcast batch dimensions.
 *
 * tfjs-core 4.22's own gradient returns gradients with the broadcast output's batch shape, so
 * `tf.grad` through matMul([B,M,K], [K,N]) (a 3-D activation times a 2-D weight) throws
 * "The gradient of input 'b' has shape 'B,K,N', which does not match ...". This one sums the
 * gradient over the broadcast dimensions. When `b` has batch size 1 (a weight), its gradient is
 * computed as one matMul over the folded batch ([B*M,K]^T x [B*M,N]) instead of B products and a
 * sum. Operands whose broadcast the kernels get wrong (see moduloBroadcastWorks) are broadcast
 * explicitly first. Without broadcasting it issues exactly the matMuls of tfjs-core's gradient, so it is
 * correct on every backend (it only composes ops); the speed on wasm comes from the BatchMatMul
 * kernel in ../kernels/batch-matmul.ts.
 */
import * as tf from '../../tf';
import type { GradConfig, NamedAttrMap, Tensor } from '../../tf';

function prod(xs: number[]): number {
  return xs.reduce((p, v) => p * v, 1);
}

/** Sums `g` (broadcast batch shape) down to `shape` (the input's shape). */
export function sumToShape(g: Tensor, shape: number[]): Tensor {
  if (tf.util.arraysEqual(g.shape, shape)) return g;
  const extra = g.rank - shape.length;
  let r = g;
  if (extra > 0) r = tf.sum(r, [...Array(extra).keys()]);
  const axes: number[] = [];
  for (let i = 0; i < shape.length - 2; i++) if (shape[i] === 1 && r.shape[i] !== 1) axes.push(i);
  if (axes.length > 0) r = tf.sum(r, axes, true);
  return tf.reshape(r, shape);
}

/**
 * Whether backends index an operand with batch shape `batch` correctly inside a product with
 * output batch shape `out`. The cpu kernel (and tfjs-backend-wasm's built-in) take batch entry
 * `i mod batchSize` of each operand, which is right only when the operand's batch shape, padded
 * with leading 1s, is 1s followed by the output's trailing batch dims: [3] or [1,3] against
 * [2,3], but not [2,1] against [2,3].
 */
export function moduloBroadcastWorks(batch: number[], out: number[]): boolean {
  const padded = [...Array(out.length - batch.length).fill(1), ...batch];
  let i = 0;
  while (i < padded.length && padded[i] === 1) i++;
  for (; i < padded.length; i++) if (padded[i] !== out[i]) return false;
  return true;
}

function explicitBatch(x: Tensor, out: number[]): Tensor {
  return moduloBroadcastWorks(x.shape.slice(0, -2), out) ? x : tf.broadcastTo(x, [...out, ...x.shape.slice(-2)]);
}

function lastTwoTransposed(x: Tensor): Tensor {
  const perm = [...Array(x.rank).keys()];
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return tf.transpose(x, perm);
}

export const batchMatMulGradConfig: GradConfig = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dyIn: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const dy = dyIn as Tensor;
    const [a0, b0] = saved;
    const outBatchShape = dy.shape.slice(0, -2);
    const a = explicitBatch(a0, outBatchShape);
    const b = explicitBatch(b0, outBatchShape);
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const batchB = prod(b.shape.slice(0, -2));
    const outBatch = prod(dy.shape.slice(0, -2));

    let da: () => Tensor;
    let db: () => Tensor;
    if (!transposeA && !transposeB) {
      da = () => tf.matMul(dy, b, false, true);
      db = () => tf.matMul(a, dy, true, false);
    } else if (!transposeA && transposeB) {
      da = () => tf.matMul(dy, b, false, false);
      db = () => tf.matMul(dy, a, true, false);
    } else if (transposeA && !transposeB) {
      da = () => tf.matMul(b, dy, false, true);
      db = () => tf.matMul(a, dy, false, false);
    } else {
      da = () => tf.matMul(b, dy, true, true);
      db = () => tf.matMul(dy, a, true, true);
    }

    if (batchB === 1 && outBatch > 1) {
      // b is shared by every batch entry (a weight): fold the batch into the rows.
      // (All of b's batch dims are 1, so a's batch is the output's: a2 and dy2 have B*M rows.)
      db = () => {
        const n = dy.shape[dy.rank - 1];
        const aOp = transposeA ? lastTwoTransposed(a) : a; // [.., M, K]
        const a2 = tf.reshape(aOp, [-1, aOp.shape[aOp.rank - 1]]);
        const dy2 = tf.reshape(dy, [-1, n]);
        const r = transposeB ? tf.matMul(dy2, a2, true, false) : tf.matMul(a2, dy2, true, false);
        return tf.reshape(r, b.shape);
      };
    }
    const daFull = da;
    const dbFull = db;
    return {
      a: () => sumToShape(daFull(), a0.shape),
      b: () => sumToShape(dbFull(), b0.shape),
    };
  },
};
