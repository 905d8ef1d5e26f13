/**
 * Spike monitors: layers report, per forward pass, how many input elements they saw, how many
 * were non-zero (spikes), and their fan-out, so synaptic operations can be counted exactly.
 * Layers call `ctx.monitor?.observe(...)`: with no monitor attached nothing is computed.
 */
import * as tf from '@tensorflow/tfjs';

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
  /** Operations each non-zero input element triggers (output connections per input element). */
  fanOut: number;
  /** Dense FLOPs (multiply-accumulates) per sample and time step. */
  flopsPerStep: number;
  /** Time steps per forward pass. */
  timeSteps: number;
  /** Samples observed (summed over calls). */
  samples: number;
  /** Forward calls observed. */
  calls: number;
}

export interface ObserveInfo {
  kind: OpKind;
  fanOut: number;
  flopsPerStep: number;
  timeSteps: number;
  /** Samples in this forward pass (batch size B). */
  samples: number;
}

export class SpikeMonitor {
  private readonly records = new Map<string, LayerObservation>();

  /** Records one forward pass of a layer over `input` (any shape, all time steps and samples). */
  observe(layer: string, input: tf.Tensor, info: ObserveInfo): void {
    const nonZero = tf.tidy(() => tf.sum(tf.cast(tf.notEqual(input, 0), 'float32')).dataSync()[0]);
    const prev = this.records.get(layer);
    if (prev) {
      prev.inputElements += input.size;
      prev.nonZero += nonZero;
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
