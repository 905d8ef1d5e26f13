/**
 * Kernel benchmarks (issue 7): the fused multi-step LIF against the composed tensor ops, and
 * (later suites) event-driven against dense products. Each case runs ours and the baseline
 * interleaved in the same process, so the ratio holds under the machine's load at the time.
 */
import * as tf from '../src/tf';
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

/**
 * Event-driven vs dense spike products (Linear / 1x1 conv layers of the image encoder) as a
 * function of the firing rate: [rows, K] x [K, N] with rows = T*B*tokens.
 */
export async function benchEvent(o: KernelBenchOptions & { rows?: number }): Promise<BenchResult[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spikeConv2d, spikeMatMul } = require('../src/snn/fused/event') as typeof import('../src/snn/fused/event');
  const rows = o.rows ?? (o.quick ? 1024 : 4096);
  const rates = o.quick ? [0.05, 0.2] : [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5];
  const shapes: [string, number, number][] = [
    ['qkv/proj', 384, 384],
    ['mlp1', 384, 1536],
    ['mlp2', 1536, 384],
  ];
  const reps = Math.max(o.reps, 5);
  const out: BenchResult[] = [];
  for (const [label, k, n] of shapes) {
    const w = tf.randomNormal([k, n], 0, 0.05, 'float32', 7) as tf.Tensor2D;
    for (const rate of rates) {
      const s = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([rows, k], 0, 1, 'float32', 8), rate), 'float32')) as tf.Tensor2D;
      const event = () => {
        tf.tidy(() => {
          (spikeMatMul(s, w, 1) as tf.Tensor).dataSync();
        });
      };
      const dense = () => {
        tf.tidy(() => {
          tf.matMul(s, w).dataSync();
        });
      };
      const [te, td] = await interleaved(event, dense, reps);
      out.push({
        name: `event/${label}/${rows}x${k}x${n}/fr${rate}`,
        unit: 'rows',
        perSecond: rows / te,
        secondsPerRep: te,
        reps,
        details: { rate, eventMs: +(te * 1e3).toFixed(2), denseMs: +(td * 1e3).toFixed(2), speedup: +(td / te).toFixed(2) },
      });
      s.dispose();
    }
    w.dispose();
  }
  // 3x3 convolutions of the tokenizer (stage 2 and 4 inputs at T*B = 32)
  const convs: [string, number[], number][] = [
    ['conv2', [32, 32, 32, 96], 192],
    ['conv4', [32, 8, 8, 384], 384],
  ];
  for (const [label, shape, co] of convs) {
    const w = tf.randomNormal([3, 3, shape[3], co], 0, 0.05, 'float32', 9) as tf.Tensor4D;
    for (const rate of rates) {
      const x = tf.tidy(() => tf.cast(tf.less(tf.randomUniform(shape, 0, 1, 'float32', 10), rate), 'float32')) as tf.Tensor4D;
      const [te, td] = await interleaved(
        () => {
          tf.tidy(() => {
            (spikeConv2d(x, w, 1, 1) as tf.Tensor).dataSync();
          });
        },
        () => {
          tf.tidy(() => {
            tf.conv2d(x, w, 1, 1).dataSync();
          });
        },
        reps,
      );
      out.push({
        name: `event/${label}/${shape.join('x')}->${co}/fr${rate}`,
        unit: 'images',
        perSecond: shape[0] / te,
        secondsPerRep: te,
        reps,
        details: { rate, eventMs: +(te * 1e3).toFixed(2), denseMs: +(td * 1e3).toFixed(2), speedup: +(td / te).toFixed(2) },
      });
      x.dispose();
    }
    w.dispose();
  }
  return out;
}
