/**
 * Spike monitors: layers report, per forward pass, how many input elements they saw, how many
 * were non-zero (spikes), and their fan-out, so synaptic operations can be counted exactly.
 * Layers call `ctx.monitor?.observe(...)`: with no monitor attached nothing is computed.
 *
 * Exact counting. Every observation carries `synapticOps`: the sum, over the non-zero input
 * elements, of the operations each one triggers. For layers where every input element has the
 * same fan-out (Linear, 1x1 convolutions, the attention matmuls) that is `nonZero * fanOut`. A
 * layer whose fan-out depends on the position (a zero-padded k x k convolution: border pixels
 * have fewer taps, the taps that would land in the padding are not synapses) passes a
 * `fanOutMap` and the monitor counts the non-zero elements per position and weights them.
 * `fanOut` stays the dense average (FLOPs / input elements), so `nonZero * fanOut` is the
 * firing-rate estimate fr * T * FLOPs for every layer.
 *
 * Counts are reduced on the device (per row in float32, exact for 0/1 spikes; then in int32),
 * downloaded as per-position totals and summed in JavaScript doubles (exact up to 2^53). Inputs
 * of 'ac' layers must be binary spikes (0/1): they are counted by summing them.
 */
import * as tf from '../tf';

/** MAC: real-valued input (multiply-accumulate); AC: spike input (accumulate only). */
export type OpKind = 'mac' | 'ac';

export interface LayerObservation {
  /** Dotted layer name, e.g. `image.block.0.attn.q_conv`. */
  layer: string;
  kind: OpKind;
  /** Number of input elements over all time steps and samples observed. */
  inputElements: number;
  /** Non-zero input elements (spikes) over all time steps and samples observed. */
  nonZero: number;
  /**
   * Average operations per input element, FLOPs / input elements (for a padded convolution this
   * counts the taps that land in the padding, like the dense FLOP count).
   */
  fanOut: number;
  /** Dense FLOPs (multiply-accumulates) per sample and time step. */
  flopsPerStep: number;
  /** Time steps per forward pass. */
  timeSteps: number;
  /** Samples observed (summed over calls). */
  samples: number;
  /** Forward calls observed. */
  calls: number;
  /**
   * Exact synaptic operations over everything observed: the sum of the exact fan-out of every
   * non-zero input element (padding taps excluded). Equals `nonZero * fanOut` for layers with a
   * uniform fan-out.
   */
  synapticOps: number;
  /**
   * The same sum over every input element, zero or not: what an all-ones input would give.
   * Equals `inputElements * fanOut` (= FLOPs * T * samples) for layers with a uniform fan-out;
   * less for padded convolutions (no padding taps).
   */
  connections: number;
}

/**
 * A fan-out that varies over some input axes: `values[i]` (row-major over `axes`, in the order
 * given) is the number of operations one non-zero input element at that index triggers. Other
 * axes (batch, channels) do not change it. E.g. a 3x3 convolution with zero padding over NHWC
 * input: axes [1, 2] and values[y * W + x] = C_out * taps(y) * taps(x).
 */
export interface FanOutMap {
  axes: number[];
  values: ArrayLike<number>;
}

export interface ObserveInfo {
  kind: OpKind;
  fanOut: number;
  flopsPerStep: number;
  timeSteps: number;
  /** Samples in this forward pass (batch size B). */
  samples: number;
  /** Optional exact per-position fan-out (see {@link FanOutMap}); without it every element has `fanOut`. */
  fanOutMap?: FanOutMap;
}

/**
 * Per-element non-zero indicators, reduced over the last axis, as an int32 tensor of shape
 * input.shape[:-1]. For binary spike input (`binary`: every element 0 or 1, what 'ac' layers
 * receive) the values are summed directly over the last axis in float32, one pass over the
 * input and exact (each partial sum is an integer of at most the last dimension); otherwise
 * each element is tested against 0 first.
 */
function nonZeroRows(input: tf.Tensor, binary: boolean): tf.Tensor {
  if (input.rank === 0) return tf.cast(tf.notEqual(input, 0), 'int32');
  if (binary) return tf.cast(tf.sum(input, -1), 'int32');
  return tf.sum(tf.cast(tf.notEqual(input, 0), 'int32'), -1);
}

/**
 * Exact counts of one observed input: non-zero elements and the two operation sums.
 * `binary` promises that the input holds only 0 and 1 (spikes), which makes counting cheaper;
 * for real-valued input leave it false.
 */
export function countOps(
  input: tf.Tensor,
  fanOut: number,
  map?: FanOutMap,
  binary = false,
): { nonZero: number; synapticOps: number; connections: number } {
  if (!map) {
    const nonZero = tf.tidy(() => tf.sum(nonZeroRows(input, binary)).dataSync()[0]);
    return { nonZero, synapticOps: nonZero * fanOut, connections: input.size * fanOut };
  }
  const axes = map.axes.map((a) => (a < 0 ? a + input.rank : a));
  const mapSize = axes.reduce((s, a) => s * input.shape[a], 1);
  if (axes.some((a) => a < 0 || a >= input.rank) || new Set(axes).size !== axes.length || map.values.length !== mapSize) {
    throw new Error(`fan-out map over axes [${map.axes.join(', ')}] with ${map.values.length} values does not fit an input of shape [${input.shape.join(', ')}]`);
  }
  const last = input.rank - 1;
  const others = input.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const perPosition = tf.tidy(() => {
    let c: tf.Tensor;
    let remaining = others;
    if (others.includes(last)) {
      c = nonZeroRows(input, binary);
      remaining = others.filter((a) => a !== last);
    } else {
      c = tf.cast(binary ? input : tf.notEqual(input, 0), 'int32');
    }
    // one axis at a time, innermost first: the tensors a later reduction transposes are smaller
    for (const a of [...remaining].sort((x, y) => y - x)) c = tf.sum(c, a);
    // the remaining axes are in increasing order; put them in the map's order
    const kept = [...axes].sort((a, b) => a - b);
    const perm = axes.map((a) => kept.indexOf(a));
    if (perm.some((p, i) => p !== i)) c = tf.transpose(c, perm);
    return c.dataSync();
  });
  let nonZero = 0;
  let synapticOps = 0;
  let total = 0;
  for (let i = 0; i < mapSize; i++) {
    nonZero += perPosition[i];
    synapticOps += perPosition[i] * map.values[i];
    total += map.values[i];
  }
  return { nonZero, synapticOps, connections: total * (input.size / mapSize) };
}

export class SpikeMonitor {
  private readonly records = new Map<string, LayerObservation>();

  /** Records one forward pass of a layer over `input` (any shape, all time steps and samples). */
  observe(layer: string, input: tf.Tensor, info: ObserveInfo): void {
    // 'ac' layers receive binary spikes (ObserveSpec): counted by summing them
    const { nonZero, synapticOps, connections } = countOps(input, info.fanOut, info.fanOutMap, info.kind === 'ac');
    const prev = this.records.get(layer);
    if (prev) {
      prev.inputElements += input.size;
      prev.nonZero += nonZero;
      prev.synapticOps += synapticOps;
      prev.connections += connections;
      prev.samples += info.samples;
      prev.calls += 1;
    } else {
      this.records.set(layer, {
        layer,
        kind: info.kind,
        inputElements: input.size,
        nonZero,
        fanOut: info.fanOut,
        flopsPerStep: info.flopsPerStep,
        timeSteps: info.timeSteps,
        samples: info.samples,
        calls: 1,
        synapticOps,
        connections,
      });
    }
  }

  /** Observations in the order layers were first seen. */
  observations(): LayerObservation[] {
    return [...this.records.values()].map((r) => ({ ...r }));
  }

  reset(): void {
    this.records.clear();
  }
}
