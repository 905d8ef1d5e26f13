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
 * agrees with the exact count by construction). For Linear layers and 1x1 convolutions this is
 * exact: every input element feeds exactly `fanOut` outputs. For a padded k x k convolution
 * fanOut = C_out * k * k, as if every input pixel had all k * k taps; pixels on the border
 * really have fewer (the taps that would land in the padding), so the count is an upper bound
 * there — the same convention as the dense FLOP count, which also counts padded taps.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module';
import type { OpKind } from '../monitor';

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
 * `flops` is the dense multiply-accumulate count of this call over all steps and samples.
 */
export function reportOps(
  ctx: ForwardContext | undefined,
  spec: ObserveSpec | undefined,
  layer: string,
  input: tf.Tensor,
  flops: number,
): void {
  if (!ctx?.monitor || !spec) return;
  const stepsTimesSamples = spec.timeSteps * spec.samples;
  ctx.monitor.observe(layer, input, {
    kind: spec.kind,
    fanOut: flops / input.size,
    flopsPerStep: flops / stepsTimesSamples,
    timeSteps: spec.timeSteps,
    samples: spec.samples,
  });
}
