/**
 * Weight initialisers with reproducible seeds.
 *
 * `InitRng` hands out one seed per tensor (splitmix32 over a base seed), so a model built twice
 * from the same seed gets identical weights. The initialisers follow PyTorch's defaults, so
 * that a freshly built model matches a freshly built reference model in distribution.
 */
import * as tf from '@tensorflow/tfjs';

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

/** U(-bound, bound). */
export function uniformInit(shape: number[], bound: number, rng: InitRng): tf.Tensor {
  return tf.randomUniform(shape, -bound, bound, 'float32', rng.next());
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
  return tf.tidy(() => tf.clipByValue(tf.randomNormal(shape, 0, std, 'float32', rng.next()), -2, 2));
}

/** Normal(0, std) (CLIP's embedding initialisation). */
export function normalInit(shape: number[], std: number, rng: InitRng): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', rng.next());
}

/** Joins a dotted layer name: `join('image.block.0', 'attn')` = `image.block.0.attn`. */
export function joinName(prefix: string, local: string): string {
  return prefix === '' ? local : `${prefix}.${local}`;
}
