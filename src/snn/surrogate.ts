/**
 * Surrogate spike functions (spikingjelly `activation_based/surrogate.py` definitions).
 *
 * Forward is the Heaviside step `x >= 0 ? 1 : 0` (so x = 0 fires); backward replaces the
 * Dirac delta by the derivative g'(x) of a smooth "primitive" g that rises from 0 to 1.
 * Every g' here integrates to 1 over the real line, and `alpha` is the sharpness
 * (larger alpha = narrower, taller g'). Each surrogate documents g, g' and the spikingjelly
 * class it matches, including that class's default alpha (used when a config names a
 * surrogate without an alpha).
 */
import { BadInputError } from '../errors';
import * as tf from '../tf';
import { SURROGATE_NAMES, type SurrogateConfig, type SurrogateName, DEFAULT_SURROGATE } from './neuron-config';

/** Raised for an invalid neuron or surrogate configuration; the message names the offending value. */
export class NeuronConfigError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_NEURON_CONFIG');
    this.name = 'NeuronConfigError';
  }
}

type Unary = (x: tf.Tensor) => tf.Tensor;

interface SurrogateDef {
  /** spikingjelly's default alpha for the matching class. */
  defaultAlpha: number;
  /** The smooth function g whose derivative is the surrogate gradient. */
  primitive: (x: tf.Tensor, alpha: number) => tf.Tensor;
  /** g'(x). */
  derivative: (x: tf.Tensor, alpha: number) => tf.Tensor;
}

const HALF_PI = Math.PI / 2;

/**
 * sigmoid — spikingjelly `surrogate.Sigmoid` (default alpha 4).
 *   g(x)  = sigmoid(alpha x) = 1 / (1 + exp(-alpha x))
 *   g'(x) = alpha * sigmoid(alpha x) * (1 - sigmoid(alpha x))      (peak alpha/4 at 0)
 */
const sigmoidDef: SurrogateDef = {
  defaultAlpha: 4,
  primitive: (x, a) => tf.sigmoid(tf.mul(x, a)),
  derivative: (x, a) => {
    const s = tf.sigmoid(tf.mul(x, a));
    return tf.mul(tf.mul(s, tf.sub(1, s)), a);
  },
};

/**
 * atan — spikingjelly `surrogate.ATan` (default alpha 2).
 *   g(x)  = atan(pi/2 * alpha x) / pi + 1/2
 *   g'(x) = (alpha / 2) / (1 + (pi/2 * alpha x)^2)                  (peak alpha/2 at 0)
 */
const atanDef: SurrogateDef = {
  defaultAlpha: 2,
  primitive: (x, a) => tf.add(tf.div(tf.atan(tf.mul(x, HALF_PI * a)), Math.PI), 0.5),
  derivative: (x, a) => tf.div(a / 2, tf.add(1, tf.square(tf.mul(x, HALF_PI * a)))),
};

/**
 * fast-sigmoid — spikingjelly `surrogate.SoftSign` (default alpha 2): the fast sigmoid /
 * SuperSpike shape 1/(1+alpha|x|)^2 normalised to integrate to 1.
 *   g(x)  = (alpha x / (1 + alpha|x|) + 1) / 2
 *   g'(x) = alpha / (2 (1 + alpha|x|)^2)                            (peak alpha/2 at 0)
 * Not spikingjelly's `SuperSpike` class, whose g' = alpha/(1+|x|)^2 uses alpha only as a
 * scale (integral 2 alpha) and has no primitive; Zenke & Ganguli's SuperSpike with steepness
 * beta is this function with alpha = beta, up to the constant factor beta/2.
 */
const fastSigmoidDef: SurrogateDef = {
  defaultAlpha: 2,
  primitive: (x, a) => {
    const ax = tf.mul(x, a);
    return tf.mul(tf.add(tf.div(ax, tf.add(1, tf.abs(ax))), 1), 0.5);
  },
  derivative: (x, a) => tf.div(a / 2, tf.square(tf.add(1, tf.mul(tf.abs(x), a)))),
};

/**
 * triangle — spikingjelly `surrogate.PiecewiseQuadratic` (default alpha 1); the same shape as
 * Bellec et al.'s (LSNN) pseudo-derivative, support |x| < 1/alpha.
 *   g'(x) = max(0, alpha - alpha^2 |x|) = alpha * max(0, 1 - alpha|x|)   (peak alpha at 0)
 *   g(x)  = 0 for x < -1/alpha;  1 for x > 1/alpha;
 *           -alpha^2/2 * |x| x + alpha x + 1/2 in between
 */
const triangleDef: SurrogateDef = {
  defaultAlpha: 1,
  primitive: (x, a) => {
    // The quadratic evaluated at x clipped to [-1/alpha, 1/alpha]: it is 0 at -1/alpha and 1 at 1/alpha.
    const c = tf.clipByValue(x, -1 / a, 1 / a);
    return tf.add(tf.add(tf.mul(tf.mul(tf.abs(c), c), (-a * a) / 2), tf.mul(c, a)), 0.5);
  },
  derivative: (x, a) => tf.relu(tf.sub(a, tf.mul(tf.abs(x), a * a))),
};

/**
 * rectangular — spikingjelly `surrogate.Rect` (default alpha 1); the box of Wu et al. (STBP).
 *   g'(x) = alpha if |x| < 1/(2 alpha) else 0                        (width 1/alpha, height alpha)
 *   g(x)  = clamp(alpha x + 1/2, 0, 1)
 */
const rectangularDef: SurrogateDef = {
  defaultAlpha: 1,
  primitive: (x, a) => tf.clipByValue(tf.add(tf.mul(x, a), 0.5), 0, 1),
  derivative: (x, a) => tf.mul(tf.cast(tf.less(tf.abs(x), 0.5 / a), 'float32'), a),
};

const DEFS: Record<SurrogateName, SurrogateDef> = {
  sigmoid: sigmoidDef,
  atan: atanDef,
  'fast-sigmoid': fastSigmoidDef,
  triangle: triangleDef,
  rectangular: rectangularDef,
};

/** spikingjelly's default alpha per surrogate (what a config gets when it omits alpha). */
export const SURROGATE_DEFAULT_ALPHA: Readonly<Record<SurrogateName, number>> = Object.freeze(
  Object.fromEntries(SURROGATE_NAMES.map((n) => [n, DEFS[n].defaultAlpha])) as Record<SurrogateName, number>,
);

/** Heaviside step as float32: 1 where x >= 0 (including x = 0), else 0. */
export function heaviside(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.cast(tf.greaterEqual(x, 0), 'float32'));
}

/** The smooth primitive g of the surrogate (elementwise tensor op). */
export function surrogatePrimitive(cfg: SurrogateConfig): Unary {
  const def = DEFS[cfg.name];
  const a = cfg.alpha;
  return (x) => tf.tidy(() => def.primitive(x, a));
}

/** The surrogate gradient g'(x) (elementwise tensor op). */
export function surrogateDerivative(cfg: SurrogateConfig): Unary {
  const def = DEFS[cfg.name];
  const a = cfg.alpha;
  return (x) => tf.tidy(() => def.derivative(x, a));
}

/**
 * The spike function: forward Heaviside(x), backward dy * g'(x).
 * Create it once per neuron and reuse it; `cfg` is read when this is called.
 */
export function spikeFn(cfg: SurrogateConfig): Unary {
  const def = DEFS[cfg.name];
  if (!def) throw new NeuronConfigError(`unknown surrogate "${String(cfg.name)}"`);
  const a = cfg.alpha;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([x]);
    return {
      value: tf.cast(tf.greaterEqual(x, 0), 'float32'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, def.derivative(saved[0], a)),
    };
  });
  return (x) => f(x);
}

/** A value as an error message shows it (strings quoted). */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a surrogate setting and fills in defaults.
 * Accepts `undefined` (the default: sigmoid, alpha 4), a name (`"atan"`), or an object
 * `{name?, alpha?}`; a missing name means sigmoid, a missing alpha means that surrogate's
 * spikingjelly default. `where` prefixes error messages (e.g. `neuron.surrogate`).
 */
export function validateSurrogate(partial: unknown, where = 'surrogate'): SurrogateConfig {
  if (partial === undefined) return { ...DEFAULT_SURROGATE };
  const obj: Record<string, unknown> = typeof partial === 'string' ? { name: partial } : (partial as Record<string, unknown>);
  if (!isPlainObject(obj)) {
    throw new NeuronConfigError(`${where}: expected an object {name, alpha} or a surrogate name, got ${describeValue(partial)}`);
  }
  const unknownKeys = Object.keys(obj).filter((k) => k !== 'name' && k !== 'alpha');
  if (unknownKeys.length > 0) {
    throw new NeuronConfigError(`${where}: unknown key${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map((k) => `"${k}"`).join(', ')} (allowed: name, alpha)`);
  }
  const rawName = obj.name === undefined ? DEFAULT_SURROGATE.name : obj.name;
  if (typeof rawName !== 'string' || !(SURROGATE_NAMES as readonly string[]).includes(rawName)) {
    throw new NeuronConfigError(`${where}.name: unknown surrogate ${describeValue(rawName)}; choose one of ${SURROGATE_NAMES.join(', ')}`);
  }
  const name = rawName as SurrogateName;
  const alpha = obj.alpha === undefined ? DEFS[name].defaultAlpha : obj.alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    throw new NeuronConfigError(`${where}.alpha: must be a positive finite number, got ${describeValue(alpha)}`);
  }
  return { name, alpha };
}
