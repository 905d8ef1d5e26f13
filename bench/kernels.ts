/**
 * Kernel benchmarks (issue 7): the fused multi-step LIF against the composed tensor ops, and
 * (later suites) event-driven against dense products. Each case runs ours and the baseline
 * interleaved in the same process, so the ratio holds under the machine's load at the time.
 */
import * as tf from '@tensorflow/tfjs';
import { setFusedKernels } from '../src/snn/fused';
import { MultiStepNeuron, validateNeuronConfig } from '../src/snn/neuron';
import { BenchResult, median } from './common';

/** Times `a` and `b` alternately (`reps` each, after one warm-up each); medians in seconds. */
export async function interleaved(a: () => void, b: () => void, reps: number): Promise<[number, number]> {
  a();
  b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < reps; i++) {
    for (const [f, out] of [[a, ta], [b, tb]] as const) {
      const t0 = process.hrtime.bigint();
      f();
      out.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
  return [median(ta), median(tb)];
}

export interface KernelBenchOptions {
  quick: boolean;
  reps: number;
}

/** Multi-step LIF (reference setting), T = 4 over [B*N*C] neurons: forward and forward+backward. */
export async function benchLif(o: KernelBenchOptions): Promise<BenchResult[]> {
  const T = 4;
  const neurons = o.quick ? 131072 : 524288;
  const n = new MultiStepNeuron(validateNeuronConfig({}));
  const x = tf.randomNormal([T, neurons], 0.8, 1, 'float32', 1);
  const w = tf.randomNormal([T, neurons], 0, 1, 'float32', 2);
  const reps = Math.max(o.reps, 5);
  const fwd = (fused: boolean) => () => {
    setFusedKernels(fused);
    tf.tidy(() => {
      n.forward(x).dataSync();
    });
  };
  const fwdBwd = (fused: boolean) => () => {
    setFusedKernels(fused);
    tf.tidy(() => {
      tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(n.forward(xx), w)))(x).dataSync();
    });
  };
  const out: BenchResult[] = [];
  try {
    for (const [label, mk] of [['forward', fwd], ['forward+backward', fwdBwd]] as const) {
      const [fused, composed] = await interleaved(mk(true), mk(false), reps);
      out.push({
        name: `lif-${label}/T${T}/${neurons}`,
        unit: 'neuron-steps',
        perSecond: (T * neurons) / fused,
        secondsPerRep: fused,
        reps,
        details: { fusedMs: +(fused * 1e3).toFixed(2), composedMs: +(composed * 1e3).toFixed(2), speedup: +(composed / fused).toFixed(2) },
      });
    }
  } finally {
    setFusedKernels(true);
    tf.dispose([x, w]);
    n.dispose();
  }
  return out;
}
