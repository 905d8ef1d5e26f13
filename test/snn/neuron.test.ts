import * as tf from '../../src/tf';
import { MultiStepNeuron, stopGradient, validateNeuronConfig } from '../../src/snn/neuron';
import { TRAINING } from '../../src/snn/module';
import type { NeuronConfig, NeuronKind, SurrogateConfig } from '../../src/snn/neuron-config';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

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

function neuron(partial: Partial<NeuronConfig>): MultiStepNeuron {
  return new MultiStepNeuron(validateNeuronConfig(partial));
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, what = ''): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= atol)) {
      throw new Error(`${what} index ${i}: got ${actual[i]}, expected ${expected[i]} (atol ${atol})\n got ${Array.from(actual).join(', ')}\nwant ${Array.from(expected).join(', ')}`);
    }
  }
}

/** Runs a neuron on a [T] sequence of one scalar neuron (input [T, 1]) and returns plain arrays. */
function trace(n: MultiStepNeuron, xs: number[]): { s: number[]; h: number[]; v: number[] } {
  const x = tf.tensor2d(xs, [xs.length, 1]);
  const r = n.forwardTrace(x);
  const out = { s: Array.from(r.spikes.dataSync()), h: Array.from(r.h.dataSync()), v: Array.from(r.v.dataSync()) };
  tf.dispose([x, r.spikes, r.h, r.v]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Forward: hand-computed sequences (tau 2 means 1/tau = 0.5; V_th = 1).
// ---------------------------------------------------------------------------------------------
describe('forward: hand-computed spike and membrane sequences', () => {
  const X = [2.4, 1.0, 1.5, 0.2, -0.6, 3.0];

  test('LIF, hard reset to 0 (the reference setting); H = V + (X - V)/2, x = 0 fires', () => {
    // t0 H = 0 + 2.4/2 = 1.2 fire -> 0;  t1 H = 0 + 1.0/2 = 0.5;  t2 H = 0.5 + (1.5-0.5)/2 = 1.0 fire -> 0
    // t3 H = 0.1 -> 0.1;  t4 H = 0.1 + (-0.6-0.1)/2 = -0.25;  t5 H = -0.25 + 3.25/2 = 1.375 fire -> 0
    for (const detachReset of [true, false]) {
      const r = trace(neuron({ kind: 'lif', tau: 2, vReset: 0, detachReset }), X);
      expect(r.s).toEqual([1, 0, 1, 0, 0, 1]);
      expectClose(r.h, [1.2, 0.5, 1.0, 0.1, -0.25, 1.375], 1e-6, 'H');
      expectClose(r.v, [0, 0.5, 0, 0.1, -0.25, 0], 1e-6, 'V');
    }
  });

  test('LIF, soft reset (vReset null): V = H - V_th S', () => {
    // t0 H 1.2 fire V 0.2;  t1 H = 0.2 + 0.8/2 = 0.6;  t2 H = 0.6 + 0.9/2 = 1.05 fire V 0.05
    // t3 H = 0.05 + 0.15/2 = 0.125;  t4 H = 0.125 - 0.725/2 = -0.2375;  t5 H = -0.2375 + 3.2375/2 = 1.38125 fire V 0.38125
    for (const detachReset of [true, false]) {
      const r = trace(neuron({ kind: 'lif', tau: 2, vReset: null, detachReset }), X);
      expect(r.s).toEqual([1, 0, 1, 0, 0, 1]);
      expectClose(r.h, [1.2, 0.6, 1.05, 0.125, -0.2375, 1.38125], 1e-6, 'H');
      expectClose(r.v, [0.2, 0.6, 0.05, 0.125, -0.2375, 0.38125], 1e-6, 'V');
    }
  });

  test('LIF, hard reset to -0.5: starts at V_reset (spikingjelly) and decays towards it', () => {
    // H = V + (X - (V + 0.5))/2, V(-1) = -0.5
    // t0 -0.5 + 2.4/2 = 0.7;  t1 0.7 + (1.0-1.2)/2 = 0.6;  t2 0.6 + (1.5-1.1)/2 = 0.8
    // t3 0.8 + (0.2-1.3)/2 = 0.25;  t4 0.25 + (-0.6-0.75)/2 = -0.425;  t5 -0.425 + (3.0-0.075)/2 = 1.0375 fire -> -0.5
    const r = trace(neuron({ kind: 'lif', tau: 2, vReset: -0.5 }), X);
    expect(r.s).toEqual([0, 0, 0, 0, 0, 1]);
    expectClose(r.h, [0.7, 0.6, 0.8, 0.25, -0.425, 1.0375], 1e-6, 'H');
    expectClose(r.v, [0.7, 0.6, 0.8, 0.25, -0.425, -0.5], 1e-6, 'V');
  });

  const XI = [0.4, 0.5, 0.3, -0.2, 1.1, 0.6];
  test('IF, hard reset: H = V + X', () => {
    // H: 0.4, 0.9, 1.2 fire, -0.2, 0.9, 1.5 fire
    for (const detachReset of [true, false]) {
      const r = trace(neuron({ kind: 'if', vReset: 0, detachReset }), XI);
      expect(r.s).toEqual([0, 0, 1, 0, 0, 1]);
      expectClose(r.h, [0.4, 0.9, 1.2, -0.2, 0.9, 1.5], 1e-6, 'H');
      expectClose(r.v, [0.4, 0.9, 0, -0.2, 0.9, 0], 1e-6, 'V');
    }
  });

  test('IF, soft reset', () => {
    // H: 0.4, 0.9, 1.2 fire (V 0.2), 0.0, 1.1 fire (V 0.1), 0.7
    for (const detachReset of [true, false]) {
      const r = trace(neuron({ kind: 'if', vReset: null, detachReset }), XI);
      expect(r.s).toEqual([0, 0, 1, 0, 1, 0]);
      expectClose(r.h, [0.4, 0.9, 1.2, 0.0, 1.1, 0.7], 1e-6, 'H');
      expectClose(r.v, [0.4, 0.9, 0.2, 0.0, 0.1, 0.7], 1e-6, 'V');
    }
  });

  test('IF, threshold 0.5', () => {
    // H: 0.4, 0.9 fire -> 0, 0.3, 0.1, 1.2 fire -> 0, 0.6 fire -> 0
    const r = trace(neuron({ kind: 'if', vThreshold: 0.5 }), XI);
    expect(r.s).toEqual([0, 1, 0, 0, 1, 1]);
    expectClose(r.v, [0.4, 0, 0.3, 0.1, 0, 0], 1e-6, 'V');
  });

  test('PLIF with tau0 = 3: w = -ln 2, 1/tau = sigmoid(w) = 1/3', () => {
    // t0 H = 1.8/3 = 0.6;  t1 0.6 + 0.6/3 = 0.8;  t2 0.8 + 0.1/3 = 0.833333;  t3 0.833333 + 1.266667/3 = 1.255556 fire
    for (const vReset of [0, null]) {
      const n = neuron({ kind: 'plif', tau: 3, vReset });
      const params = n.namedParameters();
      expect(params.map(([name]) => name)).toEqual(['w']);
      expect(params[0][1].shape).toEqual([]);
      expect(params[0][1].dataSync()[0]).toBeCloseTo(-Math.log(2), 6);
      const r = trace(n, [1.8, 1.2, 0.9, 2.1]);
      expect(r.s).toEqual([0, 0, 0, 1]);
      expectClose(r.h, [0.6, 0.8, 0.8333333, 1.2555556], 1e-6, 'H');
      expectClose(r.v, [0.6, 0.8, 0.8333333, vReset === null ? 0.2555556 : 0], 1e-6, 'V');
      n.dispose();
    }
  });

  test('PLIF with tau0 = 2 behaves like LIF tau 2; loading w changes the decay', () => {
    const n = neuron({ kind: 'plif', tau: 2 });
    expect(Object.is(n.w?.dataSync()[0], 0)).toBe(true); // +0, not -0
    expect(trace(n, X).s).toEqual([1, 0, 1, 0, 0, 1]);
    // w = ln 3: 1/tau = 3/4.  t0 H = 0.75*2.4 = 1.8 fire;  t1 H = 0.75*1.0 = 0.75;  t2 H = 0.75 + 0.75*(1.5-0.75) = 1.3125 fire
    n.loadStateDict(new Map([['w', { shape: [], data: new Float32Array([Math.log(3)]) }]]));
    const r = trace(n, [2.4, 1.0, 1.5]);
    expect(r.s).toEqual([1, 0, 1]);
    expectClose(r.h, [1.8, 0.75, 1.3125], 1e-6, 'H');
    n.dispose();
  });

  test('LIF and IF have no parameters', () => {
    expect(neuron({ kind: 'lif' }).namedParameters()).toEqual([]);
    expect(neuron({ kind: 'if' }).namedParameters()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Independent float64 scalar reference (used for random batches and finite differences).
// ---------------------------------------------------------------------------------------------
function primitive64(cfg: SurrogateConfig, x: number): number {
  const a = cfg.alpha;
  switch (cfg.name) {
    case 'sigmoid':
      return 1 / (1 + Math.exp(-a * x));
    case 'atan':
      return Math.atan((Math.PI / 2) * a * x) / Math.PI + 0.5;
    case 'fast-sigmoid':
      return 0.5 * ((a * x) / (1 + Math.abs(a * x)) + 1);
    case 'triangle': {
      const c = Math.max(-1 / a, Math.min(1 / a, x));
      return (-a * a * Math.abs(c) * c) / 2 + a * c + 0.5;
    }
    case 'rectangular':
      return Math.max(0, Math.min(1, a * x + 0.5));
  }
}

interface Frozen {
  /** Heaviside spikes of the unperturbed run. */
  s0: number[];
  /** s0 - g(H0 - V_th): makes the smooth run reproduce the spikes exactly at the unperturbed point. */
  offset: number[];
}

/**
 * One scalar neuron over time, in float64. Without `frozen` it spikes with the Heaviside.
 * With `frozen` it is the smooth stand-in whose true derivative is the surrogate gradient:
 * S[t] = g(H[t] - V_th) + offset[t] (same value at the unperturbed point, derivative g'),
 * and a detached reset uses the constant s0[t] instead of S[t].
 */
function scalarRun(cfg: NeuronConfig, xs: number[], w: number | null, frozen?: Frozen) {
  const k = cfg.kind === 'if' ? 0 : cfg.kind === 'lif' ? 1 / cfg.tau : 1 / (1 + Math.exp(-(w as number)));
  let v = cfg.vReset ?? 0;
  const s: number[] = [];
  const h: number[] = [];
  const vs: number[] = [];
  xs.forEach((x, t) => {
    let ht: number;
    if (cfg.kind === 'if') ht = v + x;
    else if (cfg.vReset === null) ht = v + (x - v) * k;
    else ht = v + (x - (v - cfg.vReset)) * k;
    const st = frozen ? primitive64(cfg.surrogate, ht - cfg.vThreshold) + frozen.offset[t] : ht - cfg.vThreshold >= 0 ? 1 : 0;
    const sr = frozen && cfg.detachReset ? frozen.s0[t] : st;
    v = cfg.vReset === null ? ht - cfg.vThreshold * sr : ht * (1 - sr) + cfg.vReset * sr;
    s.push(st);
    h.push(ht);
    vs.push(v);
  });
  return { s, h, v: vs };
}

function freeze(cfg: NeuronConfig, xs: number[], w: number | null): Frozen {
  const r = scalarRun(cfg, xs, w);
  return { s0: r.s, offset: r.s.map((s, t) => s - primitive64(cfg.surrogate, r.h[t] - cfg.vThreshold)) };
}

const KINDS: NeuronKind[] = ['lif', 'if', 'plif'];
const RESETS: (number | null)[] = [0, null, -0.3];
const COMBOS: NeuronConfig[] = [];
for (const kind of KINDS) {
  for (const vReset of RESETS) {
    for (const detachReset of [true, false]) {
      COMBOS.push(validateNeuronConfig({ kind, vReset, detachReset, tau: kind === 'lif' ? 2 : 1.6, vThreshold: vReset === -0.3 ? 0.8 : 1 }));
    }
  }
}
const comboName = (c: NeuronConfig) => `${c.kind} vReset=${c.vReset} detach=${c.detachReset}`;

/** Random input [T, B, N] and its per-neuron sequences; values cover sub- and supra-threshold drive. */
function randomInput(seed: number, T: number, B: number, N: number, margin: (xs: number[]) => boolean) {
  const rand = rng(seed);
  const seqs: number[][] = [];
  for (let i = 0; i < B * N; i++) {
    for (;;) {
      const xs = Array.from({ length: T }, () => rand() * 4 - 1);
      if (margin(xs)) {
        seqs.push(xs);
        break;
      }
    }
  }
  const data = new Float32Array(T * B * N);
  seqs.forEach((xs, i) => xs.forEach((x, t) => (data[t * B * N + i] = Math.fround(x))));
  return { seqs: seqs.map((xs) => xs.map(Math.fround)), x: tf.tensor3d(data, [T, B, N]) };
}

/** Reject sequences whose H comes within 1e-3 of the threshold (float32 vs float64 could disagree). */
function awayFromThreshold(cfg: NeuronConfig, w: number | null) {
  return (xs: number[]) => scalarRun(cfg, xs.map(Math.fround), w).h.every((h) => Math.abs(h - cfg.vThreshold) > 1e-3);
}

describe('forward: every neuron x reset x detach against the scalar reference', () => {
  test.each(COMBOS.map((c) => [comboName(c), c] as const))('%s', (_n, cfg) => {
    const n = new MultiStepNeuron(cfg);
    const w = n.w ? n.w.dataSync()[0] : null;
    const T = 5;
    const B = 2;
    const N = 4;
    const { seqs, x } = randomInput(7, T, B, N, awayFromThreshold(cfg, w));
    const r = n.forwardTrace(x);
    expect(r.spikes.shape).toEqual([T, B, N]);
    const s = r.spikes.dataSync();
    const h = r.h.dataSync();
    const v = r.v.dataSync();
    let fired = 0;
    seqs.forEach((xs, i) => {
      const ref = scalarRun(cfg, xs, w);
      for (let t = 0; t < T; t++) {
        expect(s[t * B * N + i]).toBe(ref.s[t]);
        expect(Math.abs(h[t * B * N + i] - ref.h[t])).toBeLessThan(1e-5);
        expect(Math.abs(v[t * B * N + i] - ref.v[t])).toBeLessThan(1e-5);
        fired += ref.s[t];
      }
    });
    // the inputs exercise both firing and silence
    expect(fired).toBeGreaterThan(T * B * N * 0.15);
    expect(fired).toBeLessThan(T * B * N * 0.85);
    tf.dispose([x, r.spikes, r.h, r.v]);
    n.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Gradients: hand-derived T = 2 scalar cases (sigmoid surrogate, alpha 4).
// sigma'(u) = 4 s (1 - s), s = sigmoid(4u):
//   sigma'(0.2) = 0.85563879, sigma'(-0.5) = 0.41997434, sigma'(-0.4) = 0.55905517, sigma'(-0.3) = 0.71157776
// Loss L = S[0] + S[1].
// ---------------------------------------------------------------------------------------------
function inputGrad(n: MultiStepNeuron, xs: number[]): number[] {
  return tf.tidy(() => {
    const x = tf.tensor2d(xs, [xs.length, 1]);
    return Array.from(tf.grad((v: tf.Tensor) => tf.sum(n.forward(v, TRAINING)))(x).dataSync());
  });
}

describe('gradients: hand-derived T = 2 cases', () => {
  test('LIF hard reset, x = [2.4, 1.0] (H0 = 1.2 fires, H1 = 0.5)', () => {
    // dL/dx1 = 0.5 sigma'(-0.5)
    // dL/dx0 = 0.5 sigma'(0.2) + sigma'(-0.5) * dH1/dV0 (= 0.5) * dV0/dH0 * 0.5
    //   detach:    dV0/dH0 = 1 - S0 = 0            -> 0.5 sigma'(0.2)
    //   no detach: dV0/dH0 = 1 - S0 - H0 sigma'(0.2) = -1.2 sigma'(0.2)
    //              -> 0.5 sigma'(0.2) + sigma'(-0.5) * 0.5 * (-1.2 sigma'(0.2)) * 0.5
    //               = 0.5 sigma'(0.2) - 0.3 sigma'(-0.5) sigma'(0.2)
    expectClose(inputGrad(neuron({ kind: 'lif', detachReset: true }), [2.4, 1.0]), [0.42781939, 0.20998717], 1e-6);
    expectClose(inputGrad(neuron({ kind: 'lif', detachReset: false }), [2.4, 1.0]), [0.32001549, 0.20998717], 1e-6);
  });

  test('LIF soft reset, x = [2.4, 1.0] (V0 = 0.2, H1 = 0.6)', () => {
    // dL/dx1 = 0.5 sigma'(-0.4)
    //   detach:    dV0/dH0 = 1               -> dL/dx0 = 0.5 sigma'(0.2) + 0.25 sigma'(-0.4)
    //   no detach: dV0/dH0 = 1 - sigma'(0.2) -> 0.5 sigma'(0.2) + 0.25 sigma'(-0.4) (1 - sigma'(0.2))
    expectClose(inputGrad(neuron({ kind: 'lif', vReset: null, detachReset: true }), [2.4, 1.0]), [0.56758318, 0.27952758], 1e-6);
    expectClose(inputGrad(neuron({ kind: 'lif', vReset: null, detachReset: false }), [2.4, 1.0]), [0.44799586, 0.27952758], 1e-6);
  });

  test('IF hard reset, x = [1.2, 0.5]', () => {
    // dL/dx1 = sigma'(-0.5);  dL/dx0 = sigma'(0.2) + sigma'(-0.5) dV0/dH0
    //   detach: 0 -> sigma'(0.2);  no detach: -1.2 sigma'(0.2) -> sigma'(0.2) (1 - 1.2 sigma'(-0.5))
    expectClose(inputGrad(neuron({ kind: 'if', detachReset: true }), [1.2, 0.5]), [0.85563879, 0.41997434], 1e-6);
    expectClose(inputGrad(neuron({ kind: 'if', detachReset: false }), [1.2, 0.5]), [0.42442318, 0.41997434], 1e-6);
  });

  test('IF soft reset, x = [1.2, 0.5] (V0 = 0.2, H1 = 0.7)', () => {
    // dL/dx1 = sigma'(-0.3);  dL/dx0 = sigma'(0.2) + sigma'(-0.3) dV0/dH0, dV0/dH0 = 1 or 1 - sigma'(0.2)
    expectClose(inputGrad(neuron({ kind: 'if', vReset: null, detachReset: true }), [1.2, 0.5]), [1.56721655, 0.71157776], 1e-6);
    expectClose(inputGrad(neuron({ kind: 'if', vReset: null, detachReset: false }), [1.2, 0.5]), [0.95836302, 0.71157776], 1e-6);
  });

  test('PLIF (tau0 2, w = 0) hard reset, x = [2.4, 1.0]: dL/dw and dL/dx', () => {
    // k = sigmoid(w) = 0.5, dk/dw = k (1 - k) = 0.25
    // dH0/dw = x0 dk/dw = 0.6;  dH1/dw = (x1 - V0) dk/dw + (1 - k) dV0/dw = 0.25 + 0.5 dV0/dw
    //   detach:    dV0/dw = 0                      -> dL/dw = 0.6 sigma'(0.2) + 0.25 sigma'(-0.5)
    //   no detach: dV0/dw = -H0 sigma'(0.2) * 0.6 -> dL/dw = 0.6 sigma'(0.2) + sigma'(-0.5) (0.25 - 0.36 sigma'(0.2))
    for (const [detachReset, dw, dx0] of [
      [true, 0.61837686, 0.42781939],
      [false, 0.48901218, 0.32001549],
    ] as const) {
      const n = neuron({ kind: 'plif', tau: 2, detachReset });
      const got = tf.tidy(() => {
        const x = tf.tensor2d([2.4, 1.0], [2, 1]);
        const { grads } = tf.variableGrads(() => tf.sum(n.forward(x)) as tf.Scalar, n.trainableVariables());
        const gx = tf.grad((v: tf.Tensor) => tf.sum(n.forward(v)))(x);
        return { dw: grads[(n.w as tf.Variable).name].dataSync()[0], dx: Array.from(gx.dataSync()) };
      });
      expect(Math.abs(got.dw - dw)).toBeLessThan(1e-6);
      expectClose(got.dx, [dx0, 0.20998717], 1e-6);
      n.dispose();
    }
  });

  test('stopGradient: identity forward, zero gradient', () => {
    const r = tf.tidy(() => {
      const x = tf.tensor1d([1, -2]);
      const y = stopGradient(x);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(v), v), v)))(x);
      return { y: Array.from(y.dataSync()), g: Array.from(g.dataSync()) };
    });
    expect(r.y).toEqual([1, -2]);
    expect(r.g).toEqual([2, -1]); // d/dv (c v + v) = c + 1 with c = v held constant
  });
});

// ---------------------------------------------------------------------------------------------
// Gradients: the whole backward-through-time path against finite differences of the smooth
// stand-in (float64 scalar loop), for every neuron x reset x detach and several surrogates.
// ---------------------------------------------------------------------------------------------
describe('gradients: finite differences through time', () => {
  const T = 5;
  const B = 2;
  const N = 3;
  const eps = 1e-5;
  // float32 autodiff against float64 central differences (error ~ eps^2 g''' ~ 1e-9): the
  // tolerance covers float32 rounding accumulated over T steps.
  const atol = 2e-5;
  const rtol = 1e-4;

  function check(cfg: NeuronConfig, seed: number): void {
    const n = new MultiStepNeuron(cfg);
    const w0 = n.w ? n.w.dataSync()[0] : null;
    const { seqs, x } = randomInput(seed, T, B, N, awayFromThreshold(cfg, w0));
    const rand = rng(seed + 1);
    const cw = Array.from({ length: T * B * N }, () => Math.fround(rand() * 2 - 1));
    const c = tf.tensor3d(cw, [T, B, N]);

    const got = tf.tidy(() => {
      const f = () => tf.sum(tf.mul(n.forward(x, TRAINING), c)) as tf.Scalar;
      const gx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(n.forward(v, TRAINING), c)))(x);
      const gw = n.w ? tf.variableGrads(f, [n.w]).grads[n.w.name].dataSync()[0] : 0;
      return { gx: Array.from(gx.dataSync()), gw };
    });

    const loss = (i: number, xs: number[], w: number | null, frozen: Frozen) =>
      scalarRun(cfg, xs, w, frozen).s.reduce((acc, s, t) => acc + s * cw[t * B * N + i], 0);
    let gwRef = 0;
    let gradNorm = 0;
    seqs.forEach((xs, i) => {
      const frozen = freeze(cfg, xs, w0);
      // the smooth stand-in reproduces the spikes at the unperturbed point
      expect(scalarRun(cfg, xs, w0, frozen).s.map((s) => Math.round(s * 1e9) / 1e9)).toEqual(frozen.s0);
      for (let t = 0; t < T; t++) {
        const up = xs.slice();
        const dn = xs.slice();
        up[t] += eps;
        dn[t] -= eps;
        const fd = (loss(i, up, w0, frozen) - loss(i, dn, w0, frozen)) / (2 * eps);
        const g = got.gx[t * B * N + i];
        gradNorm += Math.abs(fd);
        if (Math.abs(g - fd) > atol + rtol * Math.abs(fd)) {
          throw new Error(`${comboName(cfg)} ${cfg.surrogate.name}: dL/dx[t=${t}, neuron ${i}] = ${g}, finite difference ${fd}`);
        }
      }
      if (w0 !== null) gwRef += (loss(i, xs, w0 + eps, frozen) - loss(i, xs, w0 - eps, frozen)) / (2 * eps);
    });
    expect(gradNorm).toBeGreaterThan(0.1); // the check is not vacuous
    if (w0 !== null) expect(Math.abs(got.gw - gwRef)).toBeLessThan(atol * 10 + rtol * Math.abs(gwRef));
    tf.dispose([x, c]);
    n.dispose();
  }

  test.each(COMBOS.map((c) => [comboName(c), c] as const))('%s (sigmoid alpha 4)', (_n, cfg) => {
    check(cfg, 11);
    check(cfg, 12);
  });

  test.each(
    (['atan', 'fast-sigmoid', 'sigmoid'] as const).flatMap((name) =>
      COMBOS.filter((c) => c.vReset !== -0.3).map((c) => [`${comboName(c)} ${name}`, { ...c, surrogate: { name, alpha: name === 'sigmoid' ? 2 : 3 } }] as const),
    ),
  )('%s', (_n, cfg) => {
    check(cfg, 21);
  });

  test('detach makes a difference through the reset path', () => {
    // Same input, same surrogate: the two settings give different input gradients (see the
    // hand-derived cases), so the FD checks above really distinguish them.
    const a = inputGrad(neuron({ kind: 'lif', detachReset: true }), [2.4, 1.0, 0.9]);
    const b = inputGrad(neuron({ kind: 'lif', detachReset: false }), [2.4, 1.0, 0.9]);
    expect(Math.abs(a[0] - b[0])).toBeGreaterThan(1e-2);
  });
});

// ---------------------------------------------------------------------------------------------
// State independence, shapes and memory.
// ---------------------------------------------------------------------------------------------
describe('state and shapes', () => {
  test.each(COMBOS.map((c) => [comboName(c), c] as const))('%s: repeated calls and batching are independent', (_n, cfg) => {
    const n = new MultiStepNeuron(cfg);
    tf.tidy(() => {
      const rand = rng(3);
      const a = tf.tensor3d(Array.from({ length: 6 * 5 }, () => rand() * 3 - 0.8), [6, 1, 5]);
      const b = tf.tensor3d(Array.from({ length: 6 * 5 }, () => rand() * 3 - 0.8), [6, 1, 5]);
      const first = n.forward(a).dataSync();
      const second = n.forward(a).dataSync();
      expect(Array.from(second)).toEqual(Array.from(first));
      const both = n.forward(tf.concat([a, b], 1)); // [6, 2, 5]
      const [sa, sb] = tf.split(both, 2, 1);
      expect(Array.from(sa.dataSync())).toEqual(Array.from(first));
      expect(Array.from(sb.dataSync())).toEqual(Array.from(n.forward(b).dataSync()));
      // running b first does not change a's result
      expect(Array.from(n.forward(a).dataSync())).toEqual(Array.from(first));
    });
    n.dispose();
  });

  test('any rank >= 2: [T, B, C, H, W] in, same shape out', () => {
    const n = neuron({});
    tf.tidy(() => {
      const x = tf.randomNormal([3, 2, 4, 5, 5], 1, 1, 'float32', 5);
      const y = n.forward(x);
      expect(y.shape).toEqual([3, 2, 4, 5, 5]);
      expect(y.dtype).toBe('float32');
      const vals = new Set(Array.from(y.dataSync()));
      expect([...vals].every((v) => v === 0 || v === 1)).toBe(true);
      // 2-D input [T, B] is fine too; int32 input is cast
      expect(Array.from(n.forward(tf.tensor2d([[2], [1]], [2, 1], 'int32')).dataSync())).toEqual([1, 0]);
    });
  });

  test('rank < 2 is rejected with the shape in the message', () => {
    const n = neuron({});
    const x = tf.tensor1d([1, 2]);
    expect(() => n.forward(x)).toThrow('MultiStepNeuron expects input [T, B, ...] (rank >= 2), got shape [2]');
    x.dispose();
  });

  test('the constructor validates its config', () => {
    expect(() => new MultiStepNeuron({ ...validateNeuronConfig({}), tau: 0.5 })).toThrow(/tau: must be > 1 for LIF/);
  });
});

describe('no leaks', () => {
  test.each([['lif'], ['if'], ['plif']] as const)('%s: 100 forward + grad calls inside tidy keep numTensors', (kind) => {
    for (const detachReset of [true, false]) {
      const n = neuron({ kind, detachReset, vReset: kind === 'if' ? null : 0 });
      const x = tf.randomNormal([4, 2, 8], 1, 1, 'float32', 9);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 100; i++) {
        tf.tidy(() => {
          n.forward(x);
          tf.grad((v: tf.Tensor) => tf.sum(n.forward(v, TRAINING)))(x);
          if (n.w) tf.variableGrads(() => tf.sum(n.forward(x)) as tf.Scalar, [n.w]);
        });
      }
      expect(tf.memory().numTensors).toBe(before);
      // outside a tidy, forward leaves exactly its result, forwardTrace its three results
      const y = n.forward(x);
      expect(tf.memory().numTensors).toBe(before + 1);
      y.dispose();
      const r = n.forwardTrace(x);
      expect(tf.memory().numTensors).toBe(before + 3);
      tf.dispose([r.spikes, r.h, r.v]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      n.dispose();
    }
  });
});
