import * as tf from '../../src/tf';
import {
  SURROGATE_DEFAULT_ALPHA,
  heaviside,
  spikeFn,
  surrogateDerivative,
  surrogatePrimitive,
  validateSurrogate,
  NeuronConfigError,
} from '../../src/snn/surrogate';
import { SURROGATE_NAMES, type SurrogateConfig } from '../../src/snn/neuron-config';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic PRNG (mulberry32) so random points are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Surrogate gradient of sum(dy * spike(x)) with respect to x. */
function backward(cfg: SurrogateConfig, xs: number[], dy?: number[]): number[] {
  return tf.tidy(() => {
    const f = spikeFn(cfg);
    const x = tf.tensor1d(xs);
    const w = dy ? tf.tensor1d(dy) : tf.onesLike(x);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);
    return Array.from(g.dataSync());
  });
}

function forward(cfg: SurrogateConfig, xs: number[]): Float32Array {
  return tf.tidy(() => spikeFn(cfg)(tf.tensor1d(xs)).dataSync() as Float32Array);
}

function expectClose(actual: number[], expected: number[], atol: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    if (Math.abs(a - expected[i]) > atol) {
      throw new Error(`index ${i}: got ${a}, expected ${expected[i]} (atol ${atol})`);
    }
  });
}

const ALL: SurrogateConfig[] = SURROGATE_NAMES.map((name) => ({ name, alpha: SURROGATE_DEFAULT_ALPHA[name] }));

describe('forward is exactly Heaviside', () => {
  const xs = [-3, -1, -1e-7, -0, 0, 1e-7, 0.5, 1, 42];
  const expected = [0, 0, 0, 1, 1, 1, 1, 1, 1];
  test.each(ALL.map((c) => [c.name, c] as const))('%s', (_n, cfg) => {
    const y = forward(cfg, xs);
    expect(Array.from(y)).toEqual(expected);
    const t = tf.tidy(() => spikeFn(cfg)(tf.tensor1d(xs)).dtype);
    expect(t).toBe('float32');
  });
  test('heaviside() helper agrees, x = 0 fires', () => {
    const y = tf.tidy(() => Array.from(heaviside(tf.tensor1d([-0.5, 0, 0.5])).dataSync()));
    expect(y).toEqual([0, 1, 1]);
  });
  test('works on any shape', () => {
    const y = tf.tidy(() => spikeFn(ALL[0])(tf.tensor3d([[[-1, 2]], [[0, -0.1]]])));
    expect(y.shape).toEqual([2, 1, 2]);
    expect(Array.from(y.dataSync())).toEqual([0, 1, 1, 0]);
    y.dispose();
  });
});

describe('backward equals the formula at hand-picked points', () => {
  // Values computed by hand from the formulas in src/snn/surrogate.ts (and spikingjelly).
  test('sigmoid, alpha 4: g\'(x) = 4 s(1-s), s = sigmoid(4x)', () => {
    // x=0: 4*0.5*0.5 = 1; x=0.5: s=sigmoid(2)=0.880797 -> 0.4199743; x=-0.25: s=sigmoid(-1)=0.268941 -> 0.7864477
    expectClose(backward({ name: 'sigmoid', alpha: 4 }, [0, 0.5, -0.25, 6]), [1, 0.41997434, 0.78644773, 4.5e-10], 1e-6);
  });
  test('sigmoid, alpha 1: peak 1/4', () => {
    expectClose(backward({ name: 'sigmoid', alpha: 1 }, [0]), [0.25], 1e-7);
  });
  test('atan, alpha 2: g\'(x) = 1 / (1 + (pi x)^2)', () => {
    // x=0: 1; x=0.5: 1/(1+pi^2/4) = 0.2884004; x=-1: 1/(1+pi^2) = 0.0919997
    expectClose(backward({ name: 'atan', alpha: 2 }, [0, 0.5, -1]), [1, 0.28840044, 0.09199967], 1e-6);
  });
  test('atan, alpha 4: g\'(x) = 2 / (1 + (2 pi x)^2)', () => {
    // x=0: 2; x=0.25: 2/(1+pi^2/4) = 0.5768009
    expectClose(backward({ name: 'atan', alpha: 4 }, [0, 0.25]), [2, 0.57680088], 1e-6);
  });
  test('fast-sigmoid, alpha 2: g\'(x) = 1 / (1 + 2|x|)^2', () => {
    // x=0: 1; x=0.5: 1/4; x=-1: 1/9
    expectClose(backward({ name: 'fast-sigmoid', alpha: 2 }, [0, 0.5, -1]), [1, 0.25, 1 / 9], 1e-6);
  });
  test('fast-sigmoid, alpha 3: g\'(x) = 1.5 / (1 + 3|x|)^2', () => {
    // x=0.2: 1.5/1.6^2 = 0.5859375
    expectClose(backward({ name: 'fast-sigmoid', alpha: 3 }, [0.2, -0.2]), [0.5859375, 0.5859375], 1e-6);
  });
  test('triangle, alpha 1: g\'(x) = max(0, 1 - |x|)', () => {
    expectClose(backward({ name: 'triangle', alpha: 1 }, [0, 0.25, -0.5, 1.5, -2]), [1, 0.75, 0.5, 0, 0], 1e-6);
  });
  test('triangle, alpha 2: g\'(x) = max(0, 2 - 4|x|)', () => {
    expectClose(backward({ name: 'triangle', alpha: 2 }, [0, 0.25, -0.1, 0.6]), [2, 1, 1.6, 0], 1e-6);
  });
  test('rectangular, alpha 1: g\'(x) = 1 on |x| < 1/2', () => {
    expectClose(backward({ name: 'rectangular', alpha: 1 }, [0, 0.49, -0.3, 0.5, -0.5, 0.7]), [1, 1, 1, 0, 0, 0], 0);
  });
  test('rectangular, alpha 2: g\'(x) = 2 on |x| < 1/4', () => {
    expectClose(backward({ name: 'rectangular', alpha: 2 }, [0, 0.2, -0.24, 0.3]), [2, 2, 2, 0], 0);
  });
  test('the upstream gradient multiplies the surrogate', () => {
    // dy * g'(x): 3 * 1 and -2 * 0.41997434 (sigmoid alpha 4 at 0 and 0.5)
    expectClose(backward({ name: 'sigmoid', alpha: 4 }, [0, 0.5], [3, -2]), [3, -0.83994868], 1e-6);
  });
  test('surrogateDerivative() gives the same numbers as the backward pass', () => {
    const xs = [-1.3, -0.2, 0, 0.37, 2];
    for (const cfg of ALL) {
      const d = tf.tidy(() => Array.from(surrogateDerivative(cfg)(tf.tensor1d(xs)).dataSync()));
      expectClose(backward(cfg, xs), d, 1e-7);
    }
  });
});

describe('finite differences of the primitive match the backward pass', () => {
  // Kinks of the piecewise surrogates: central differences are only valid away from them.
  function kinks(cfg: SurrogateConfig): number[] {
    if (cfg.name === 'triangle') return [0, 1 / cfg.alpha, -1 / cfg.alpha];
    if (cfg.name === 'rectangular') return [0.5 / cfg.alpha, -0.5 / cfg.alpha];
    if (cfg.name === 'fast-sigmoid') return [0];
    return [];
  }
  const configs: SurrogateConfig[] = [
    ...ALL,
    { name: 'sigmoid', alpha: 2 },
    { name: 'atan', alpha: 5 },
    { name: 'fast-sigmoid', alpha: 10 },
    { name: 'triangle', alpha: 2.5 },
    { name: 'rectangular', alpha: 0.5 },
  ];
  // Central difference in float32 with a step h = 0.005/alpha that scales with the surrogate's
  // width. With u = alpha x and g(x) = G(u): truncation h^2/6 |g'''| = 4e-6 alpha |G'''| and
  // rounding ~6e-8/h = 1.2e-5 alpha, so an absolute tolerance of 2e-4 * max(1, alpha) holds
  // (|G'''| < 10 for all five shapes).
  test.each(configs.map((c) => [`${c.name} alpha ${c.alpha}`, c] as const))('%s', (_n, cfg) => {
    const h = 0.005 / cfg.alpha;
    const atol = 2e-4 * Math.max(1, cfg.alpha);
    const rand = rng(1234);
    const width = 3 / cfg.alpha;
    const xs: number[] = [];
    while (xs.length < 200) {
      const x = (rand() * 2 - 1) * width;
      if (kinks(cfg).every((k) => Math.abs(x - k) > 2 * h)) xs.push(x);
    }
    const g = surrogatePrimitive(cfg);
    const fd = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return Array.from(tf.div(tf.sub(g(tf.add(x, h)), g(tf.sub(x, h))), 2 * h).dataSync());
    });
    expectClose(backward(cfg, xs), fd, atol);
  });

  test.each(configs.map((c) => [`${c.name} alpha ${c.alpha}`, c] as const))(
    '%s: primitive rises from 0 to 1 (the surrogate integrates to 1)',
    (_n, cfg) => {
      const v = tf.tidy(() => Array.from(surrogatePrimitive(cfg)(tf.tensor1d([-1e7, 0, 1e7])).dataSync()));
      expectClose(v, [0, 0.5, 1], 1e-6);
    },
  );
});

describe('validateSurrogate', () => {
  test('defaults: sigmoid alpha 4; a missing alpha takes spikingjelly\'s default for that surrogate', () => {
    expect(validateSurrogate(undefined)).toEqual({ name: 'sigmoid', alpha: 4 });
    expect(validateSurrogate({})).toEqual({ name: 'sigmoid', alpha: 4 });
    expect(validateSurrogate({ name: 'atan' })).toEqual({ name: 'atan', alpha: 2 });
    expect(validateSurrogate('fast-sigmoid')).toEqual({ name: 'fast-sigmoid', alpha: 2 });
    expect(validateSurrogate({ name: 'triangle' })).toEqual({ name: 'triangle', alpha: 1 });
    expect(validateSurrogate({ name: 'rectangular', alpha: 0.5 })).toEqual({ name: 'rectangular', alpha: 0.5 });
    expect(validateSurrogate({ alpha: 8 })).toEqual({ name: 'sigmoid', alpha: 8 });
  });
  test('unknown name lists the choices', () => {
    expect(() => validateSurrogate({ name: 'relu' })).toThrow(NeuronConfigError);
    expect(() => validateSurrogate({ name: 'relu' })).toThrow(
      'surrogate.name: unknown surrogate "relu"; choose one of sigmoid, atan, fast-sigmoid, triangle, rectangular',
    );
    expect(() => validateSurrogate({ name: 3 })).toThrow(/unknown surrogate 3; choose one of/);
  });
  test.each([[0], [-1], [Infinity], [NaN], ['4'], [null]])('alpha %p is rejected', (alpha) => {
    expect(() => validateSurrogate({ name: 'atan', alpha })).toThrow(/surrogate\.alpha: must be a positive finite number, got/);
  });
  test('names the offending value and the place', () => {
    expect(() => validateSurrogate({ name: 'atan', alpha: -2 }, 'image.neuron.surrogate')).toThrow(
      'image.neuron.surrogate.alpha: must be a positive finite number, got -2',
    );
  });
  test('unknown keys and non-objects are rejected', () => {
    expect(() => validateSurrogate({ name: 'atan', beta: 1 })).toThrow('surrogate: unknown key "beta" (allowed: name, alpha)');
    expect(() => validateSurrogate(4)).toThrow(/expected an object \{name, alpha\} or a surrogate name, got 4/);
    expect(() => validateSurrogate([1])).toThrow(/got \[1\]/);
  });
});

describe('no leaks', () => {
  test('forward + backward inside tidy leaves no tensors behind', () => {
    const f = spikeFn({ name: 'atan', alpha: 2 });
    const x = tf.randomNormal([4, 5]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      tf.tidy(() => {
        tf.grad((v: tf.Tensor) => tf.sum(f(v)))(x);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
