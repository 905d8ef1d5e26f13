/**
 * Gradient of GatherV2 (embedding lookups) without the identity transposes.
 *
 * tfjs-core's gradient transposes dy and the result around UnsortedSegmentSum even when the
 * permutation is the identity (gather on axis 0), and backends copy on an identity transpose:
 * for a 49408x512 token embedding that is an extra copy of the whole 100 MB dense gradient
 * every step. For axis 0 without batch dims this computes
 * unsortedSegmentSum(reshape(dy, [numIndices, ...inner]), flatIndices, numRows) directly;
 * every other case goes to the gradient that was registered before (tfjs-core's).
 * Ops only: correct on every backend.
 */
import * as tf from '../../tf';
import type { GradConfig, NamedAttrMap, Tensor } from '../../tf';

let previous: GradConfig | undefined;

/** The gradient this one falls back to (captured when it is installed). */
export function setPreviousGatherGradient(g: GradConfig | undefined): void {
  if (g && g.gradFunc !== gatherGradConfig.gradFunc) previous = g;
}

export const gatherGradConfig: GradConfig = {
  kernelName: tf.GatherV2,
  inputsToSave: ['x', 'indices'],
  gradFunc: (dyIn: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const dy = dyIn as Tensor;
    const [x, indices] = saved;
    const { axis, batchDims } = attrs as unknown as tf.GatherV2Attrs;
    const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0];
    if (parsedAxis !== 0 || (batchDims ?? 0) !== 0 || x.rank < 1) {
      if (!previous) throw new Error('GatherV2 gradient: no fallback gradient registered');
      return previous.gradFunc(dyIn, saved, attrs);
    }
    return {
      x: () => {
        const inner = x.shape.slice(1);
        const values = tf.reshape(dy, [indices.size, ...inner]);
        return tf.unsortedSegmentSum(values, tf.reshape(indices, [indices.size]) as tf.Tensor1D, x.shape[0]);
      },
      indices: () => indices,
    };
  },
};
