/**
 * How a layer reports its synaptic operations to a SpikeMonitor.
 *
 * The caller knows what the layer's input is (spikes or real values) and how many time steps
 * and samples the input holds; the layer knows its own fan-out and dense FLOPs. Convention,
 * for every layer and for the attention matmuls:
 *
 *   fanOut = dense multiply-accumulates of the call / input elements of the call
 *
 * so that `nonZero * fanOut` is the synaptic-operation count and `inputElements * fanOut`
 * equals `flopsPerStep * timeSteps * samples` (the firing-rate estimate fr * T * FLOPs then
 * agrees with `nonZero * fanOut` by construction). For Linear layers and 1x1 convolutions this
 * is exact: every input element feeds exactly `fanOut` outputs. For a padded k x k convolution
 * fanOut = C_out * k * k on average over the dense FLOPs, as if every input pixel had all k * k
 * taps; pixels on the border really have fewer (the taps that would land in the padding are not
 * synapses). Such a layer also passes a per-position `fanOutMap` (see convFanOutMap), from which
 * the monitor counts the exact synaptic operations (`LayerObservation.synapticOps`); the
 * firing-rate estimate fr * T * FLOPs then over-counts at the borders, like the FLOP count.
 */
import * as tf from '../../tf';
import type { ForwardContext } from '../module';
import type { FanOutMap, OpKind } from '../monitor';

export interface ObserveSpec {
  /** 'ac' when the input is binary spikes, 'mac' when it is real-valued. */
  kind: OpKind;
  /** Time steps contained in the input tensor (its leading T*B rows come from T steps). */
  timeSteps: number;
  /** Samples (batch size B) in the input tensor. */
  samples: number;
}

/**
 * Reports `input` to the monitor of `ctx` (no-op without a monitor or spec).
 * `flops` is the dense multiply-accumulate count of this call over all steps and samples;
 * `fanOutMap`, when the fan-out varies with the position, the exact one per position.
 */
export function reportOps(
  ctx: ForwardContext | undefined,
  spec: ObserveSpec | undefined,
  layer: string,
  input: tf.Tensor,
  flops: number,
  fanOutMap?: FanOutMap | (() => FanOutMap),
): void {
  if (!ctx?.monitor || !spec) return;
  const stepsTimesSamples = spec.timeSteps * spec.samples;
  ctx.monitor.observe(layer, input, {
    kind: spec.kind,
    fanOut: flops / input.size,
    flopsPerStep: flops / stepsTimesSamples,
    timeSteps: spec.timeSteps,
    samples: spec.samples,
    ...(fanOutMap ? { fanOutMap: typeof fanOutMap === 'function' ? fanOutMap() : fanOutMap } : {}),
  });
}

/**
 * Output positions that read input index i along one axis (taps of a convolution per input
 * row or column): how many o in [0, outSize) have 0 <= i - (o * stride - padBefore) < kernel.
 */
export function tapsPerIndex(inSize: number, outSize: number, kernel: number, stride: number, padBefore: number): number[] {
  const out = new Array<number>(inSize).fill(0);
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - padBefore;
    for (let k = 0; k < kernel; k++) {
      const i = start + k;
      if (i >= 0 && i < inSize) out[i]++;
    }
  }
  return out;
}

/** Padding before the first row/column, PyTorch-style number or TF 'same' / 'valid'. */
export function padBefore(inSize: number, outSize: number, kernel: number, stride: number, padding: number | 'same' | 'valid'): number {
  if (typeof padding === 'number') return padding;
  if (padding === 'valid') return 0;
  return Math.floor(Math.max((outSize - 1) * stride + kernel - inSize, 0) / 2);
}

/**
 * Exact fan-out per input position of a k x k convolution over NHWC input [N, H, W, C_in]
 * producing [N, Ho, Wo, C_out]: values[y * W + x] = C_out * taps(y) * taps(x) over axes [1, 2]
 * (the taps that land in the zero padding are not counted). For stride 1, padding 1, k 3 that
 * is 9 * C_out inside, 6 * C_out on the edges and 4 * C_out in the corners.
 */
export function convFanOutMap(
  inH: number,
  inW: number,
  outH: number,
  outW: number,
  kernel: number,
  stride: number,
  padding: number | 'same' | 'valid',
  outChannels: number,
): FanOutMap {
  const ty = tapsPerIndex(inH, outH, kernel, stride, padBefore(inH, outH, kernel, stride, padding));
  const tx = tapsPerIndex(inW, outW, kernel, stride, padBefore(inW, outW, kernel, stride, padding));
  const values = new Float64Array(inH * inW);
  for (let y = 0; y < inH; y++) for (let x = 0; x < inW; x++) values[y * inW + x] = outChannels * ty[y] * tx[x];
  return { axes: [1, 2], values };
}
