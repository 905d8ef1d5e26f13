/**
 * Weight initialisers with reproducible seeds.
 *
 * `InitRng` hands out one seed per tensor (splitmix32 over a base seed), so a model built twice
 * from the same seed gets identical weights. The initialisers follow PyTorch's defaults, so
 * that a freshly built model matches a freshly built reference model in distribution.
 */
import * as tf from '../../tf';

export class InitRng {
  private state: number;

  /** `seed` undefined: a random base seed (non-reproducible). */
  constructor(seed?: number) {
    this.state = (seed ?? Math.floor(Math.random() * 0x7fffffff)) >>> 0;
  }

  /** The next 31-bit seed (splitmix32). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z & 0x7fffffff;
  }
}

/**
 * A fast uniform stream in [0, 1) (mulberry32), seeded per tensor. Filling typed arrays in plain
 * JS is an order of magnitude faster than tf.randomUniform / tf.randomNormal on the CPU backend,
 * which matters for the 25M-entry token embedding.
 */
// Math's functions bound once: global lookups are slow inside vm contexts (jest) and hot loops
const { imul, sqrt, log, cos, sin, min, max, PI } = Math;

function uniformStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** U(-bound, bound). */
export function uniformInit(shape: number[], bound: number, rng: InitRng): tf.Tensor {
  const next = uniformStream(rng.next());
  const out = new Float32Array(numel(shape));
  for (let i = 0; i < out.length; i++) out[i] = (2 * next() - 1) * bound;
  return tf.tensor(out, shape, 'float32');
}

/** N(0, std) by Box-Muller, optionally clipped to [lo, hi]. */
function normalArray(n: number, std: number, seed: number, lo = -Infinity, hi = Infinity): Float32Array {
  const next = uniformStream(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = sqrt(-2 * log(1 - next())) * std; // 1 - u in (0, 1]
    const th = 2 * PI * next();
    out[i] = min(hi, max(lo, r * cos(th)));
    if (i + 1 < n) out[i + 1] = min(hi, max(lo, r * sin(th)));
  }
  return out;
}

/**
 * PyTorch's default for nn.Linear / nn.ConvNd weights and biases (kaiming_uniform with a = sqrt(5)
 * for the weight, which reduces to the same bound as the bias): U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export function torchDefaultInit(shape: number[], fanIn: number, rng: InitRng): tf.Tensor {
  return uniformInit(shape, 1 / Math.sqrt(fanIn), rng);
}

/**
 * timm's `trunc_normal_(std)`: a normal with the given std truncated at the ABSOLUTE bounds
 * [-2, 2] (not at 2 std, unlike tf.truncatedNormal). With std 0.02 the truncation never bites,
 * so this is a normal draw clipped to [-2, 2].
 */
export function truncNormalInit(shape: number[], std: number, rng: InitRng): tf.Tensor {
  return tf.tensor(normalArray(numel(shape), std, rng.next(), -2, 2), shape, 'float32');
}

/** Normal(0, std) (CLIP's embedding initialisation). */
export function normalInit(shape: number[], std: number, rng: InitRng): tf.Tensor {
  return tf.tensor(normalArray(numel(shape), std, rng.next()), shape, 'float32');
}

/** Joins a dotted layer name: `join('image.block.0', 'attn')` = `image.block.0.attn`. */
export function joinName(prefix: string, local: string): string {
  return prefix === '' ? local : `${prefix}.${local}`;
}
