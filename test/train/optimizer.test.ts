import * as tf from '../../src/tf';
import { Adam, cosineLr } from '../../src/train/optimizer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Independent scalar Adam/AMSGrad (torch.optim.Adam's update written out) for the comparison. */
function scalarAdam(grads: number[], p0: number, lr: number, amsgrad: boolean, wd = 0): number[] {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  let p = p0, m = 0, v = 0, vmax = 0;
  const out: number[] = [];
  grads.forEach((g0, i) => {
    const t = i + 1;
    const g = g0 + wd * p;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    vmax = Math.max(vmax, v);
    const denom = Math.sqrt(amsgrad ? vmax : v) / Math.sqrt(1 - b2 ** t) + eps;
    p -= (lr / (1 - b1 ** t)) * (m / denom);
    out.push(p);
  });
  return out;
}

describe('Adam / AMSGrad', () => {
  it('first step moves each parameter by lr against the gradient sign', () => {
    // t=1: m = 0.1 g, v = 0.001 g^2 -> m_hat / sqrt(v_hat) = sign(g) (eps negligible)
    const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
    const opt = new Adam([['p', p]], { lr: 0.01 });
    opt.applyGradients({ p: tf.tensor1d([3, -0.2, 0]) });
    const got = Array.from(p.dataSync());
    expect(got[0]).toBeCloseTo(0.99, 6);
    expect(got[1]).toBeCloseTo(-1.99, 6);
    expect(got[2]).toBeCloseTo(0.5, 7);
    opt.dispose();
    p.dispose();
  });

  it('per-parameter learning-rate scales: lr x scale, 0 freezes (no moments kept); bad scales refused', () => {
    const grads = [0.5, -1.5, 2, 0.25];
    const a = tf.variable(tf.scalar(1));
    const b = tf.variable(tf.scalar(1));
    const c = tf.variable(tf.scalar(1));
    const opt = new Adam([['a', a], ['b', b], ['c', c]], { lr: 0.01 }, new Map([['b', 0.1], ['c', 0]]));
    for (const g of grads) opt.applyGradients({ a: tf.scalar(g), b: tf.scalar(g), c: tf.scalar(g) });
    expect(a.dataSync()[0]).toBeCloseTo(scalarAdam(grads, 1, 0.01, true)[3], 6);
    expect(b.dataSync()[0]).toBeCloseTo(scalarAdam(grads, 1, 0.001, true)[3], 6);
    expect(c.dataSync()[0]).toBe(1);
    expect([...opt.stateTensors().keys()].some((k) => k.startsWith('c.'))).toBe(false);
    expect(() => new Adam([['a', a]], { lr: 0.01 }, new Map([['z', 1]]))).toThrow(/unknown parameter z/);
    expect(() => new Adam([['a', a]], { lr: 0.01 }, new Map([['a', -1]]))).toThrow(/non-negative/);
    opt.dispose();
    tf.dispose([a, b, c]);
  });

  it.each([true, false])('matches the written-out update over a gradient sequence (amsgrad=%s)', (amsgrad) => {
    // a large gradient followed by small ones: AMSGrad keeps the large second moment, Adam lets it
    // decay; the two oracles differ by ~1e-4 by step 4, far above the 5e-6 tolerance, so a mode mix-up fails
    const grads = [5, 0.1, 0.1, -0.2, 0.05, 0.3];
    const expected = scalarAdam(grads, 0.7, 0.05, amsgrad);
    const p = tf.variable(tf.scalar(0.7));
    const opt = new Adam([['p', p]], { lr: 0.05, amsgrad });
    const got: number[] = [];
    for (const g of grads) {
      tf.tidy(() => opt.applyGradients({ p: tf.scalar(g) }));
      got.push(p.dataSync()[0]);
    }
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    opt.dispose();
    p.dispose();
  });

  it('applies L2 weight decay like PyTorch', () => {
    const expected = scalarAdam([0.5, 0.5], 2, 0.1, true, 0.1);
    const p = tf.variable(tf.scalar(2));
    const opt = new Adam([['p', p]], { lr: 0.1, weightDecay: 0.1 });
    opt.applyGradients({ p: tf.scalar(0.5) });
    opt.applyGradients({ p: tf.scalar(0.5) });
    expect(p.dataSync()[0]).toBeCloseTo(expected[1], 5);
  });

  it('resumes exactly from saved state', () => {
    const grads = [1, -0.5, 0.25, 2, -1];
    const run = (splitAt: number): number => {
      const p = tf.variable(tf.tensor1d([0.3, -0.3]));
      let opt = new Adam([['w', p]], { lr: 0.02 });
      grads.forEach((g, i) => {
        if (i === splitAt) {
          const state = opt.stateTensors();
          const step = opt.step;
          opt.dispose();
          opt = new Adam([['w', p]], { lr: 0.02 });
          opt.loadStateTensors(state, step);
        }
        tf.tidy(() => opt.applyGradients({ w: tf.tensor1d([g, g / 2]) }));
      });
      const v = p.dataSync()[1];
      opt.dispose();
      p.dispose();
      return v;
    };
    expect(run(3)).toBe(run(-1));
  });

  it('leaks no tensors per step', () => {
    const p = tf.variable(tf.ones([4, 4]));
    const opt = new Adam([['p', p]], { lr: 0.01 });
    tf.tidy(() => opt.applyGradients({ p: tf.onesLike(p) }));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) tf.tidy(() => opt.applyGradients({ p: tf.onesLike(p) }));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects invalid settings', () => {
    const p = tf.variable(tf.scalar(0));
    expect(() => new Adam([['p', p]], { lr: -1 })).toThrow('invalid Adam settings');
    const opt = new Adam([['p', p]], { lr: 1 });
    expect(() => {
      opt.lr = Number.NaN;
    }).toThrow('learning rate must be a non-negative number');
  });
});

describe('cosine annealing', () => {
  it('follows CosineAnnealingLR at known points', () => {
    expect(cosineLr(0, 5e-3, 5e-4, 2000)).toBeCloseTo(5e-3, 12);
    expect(cosineLr(1000, 5e-3, 5e-4, 2000)).toBeCloseTo(2.75e-3, 12);
    expect(cosineLr(2000, 5e-3, 5e-4, 2000)).toBeCloseTo(5e-4, 12);
    expect(cosineLr(25, 5e-3, 5e-4, 50)).toBeCloseTo(2.75e-3, 12);
    expect(() => cosineLr(0, 1, 0, 0)).toThrow('T_max > 0');
  });
});
