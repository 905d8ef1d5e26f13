/**
 * Event-driven spike products (src/snn/fused/event.ts, src/backend/simd/spike.wat): bit-identical
 * to the dense product on binary inputs (wasm), the dense fallback above the rate threshold or
 * for non-binary inputs, and the image encoder's embeddings and predictions unchanged.
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { eventDriven, spikeConv2d, spikeMatMul } from '../../src/snn/fused/event';
import { getPreset } from '../../src/models/config';
import { SpikeClipImageEncoder } from '../../src/models/image-encoder';
import { INFERENCE, TRAINING } from '../../src/snn/module';

function spikes(m: number, k: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(m * k);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 < rate ? 1 : 0;
  }
  return out;
}

function normals(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2;
  }
  return out;
}

function product(sv: Float32Array, m: number, k: number, n: number, seed: number, maxRate: number | 'dense'): Float32Array {
  return tf.tidy(() => {
    const s = tf.tensor2d(sv, [m, k]);
    const w = tf.tensor2d(normals(k * n, seed), [k, n]);
    const y = maxRate === 'dense' ? tf.matMul(s, w) : spikeMatMul(s, w, maxRate);
    if (!y) throw new Error('event path not taken');
    return y.dataSync().slice() as unknown as void;
  }) as unknown as Float32Array;
}

describe('event-driven spike products on wasm', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 2, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  const shapes: [number, number, number][] = [
    [64, 384, 384],
    [37, 96, 1536],
    [5, 40, 37], // columns not a multiple of 16
    [3, 7, 1],
  ];
  for (const [m, k, n] of shapes) {
    for (const rate of [0, 0.05, 0.25, 0.9]) {
      it(`[${m},${k}]x[${k},${n}] at firing rate ${rate}: bit-identical to the dense product`, () => {
        const sv = spikes(m, k, rate, m + k + n);
        const before = eventDriven.stats.event;
        const got = product(sv, m, k, n, 5, 1);
        expect(eventDriven.stats.event).toBe(before + 1);
        const want = product(sv, m, k, n, 5, 'dense');
        expect(Array.from(got)).toEqual(Array.from(want));
      });
    }
  }

  const convs: [number[], number, number, number][] = [
    [[2, 9, 7, 20], 3, 24, 1],
    [[1, 8, 8, 48], 3, 96, 1],
    [[2, 6, 5, 7], 3, 33, 0],
    [[3, 4, 4, 16], 1, 16, 0],
  ];
  for (const [shape, k, co, pad] of convs) {
    for (const rate of [0.05, 0.3]) {
      it(`conv ${k}x${k} pad ${pad} [${shape.join(',')}] -> ${co} at firing rate ${rate}: bit-identical to tf.conv2d`, () => {
        const n = shape.reduce((p, v) => p * v, 1);
        const sv = spikes(n, 1, rate, n + k + co);
        const run = (event: boolean) =>
          tf.tidy(() => {
            const x = tf.tensor4d(sv, shape as [number, number, number, number]);
            const w = tf.tensor4d(normals(k * k * shape[3] * co, 17), [k, k, shape[3], co]);
            const y = event ? spikeConv2d(x, w, pad, 1) : tf.conv2d(x, w, 1, pad);
            if (!y) throw new Error('event path not taken');
            return y.dataSync().slice() as unknown as void;
          }) as unknown as Float32Array;
        const before = eventDriven.stats.event;
        const got = run(true);
        expect(eventDriven.stats.event).toBe(before + 1);
        expect(Array.from(got)).toEqual(Array.from(run(false)));
      });
    }
  }

  for (const [shape, k, co, pad] of convs) {
    it(`conv ${k}x${k} pad ${pad} [${shape.join(',')}] -> ${co}: gradients under a tape equal the dense conv's`, () => {
      const n = shape.reduce((p, v) => p * v, 1);
      const sv = spikes(n, 1, 0.15, 7 * n + k);
      const run = (event: boolean) =>
        tf.tidy(() => {
          const x = tf.tensor4d(sv, shape as [number, number, number, number]);
          const w = tf.tensor4d(normals(k * k * shape[3] * co, 19), [k, k, shape[3], co]);
          const f = (xx: tf.Tensor, ww: tf.Tensor) => {
            const y = event ? spikeConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, pad) : tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, pad);
            if (!y) throw new Error('event path not taken');
            return tf.sum(tf.mul(y, tf.sin(y)));
          };
          const [gx, gw] = tf.grads(f)([x, w]);
          return [gx.dataSync().slice(), gw.dataSync().slice()] as unknown as void;
        }) as unknown as Float32Array[];
      const prev = eventDriven.maxRate;
      eventDriven.maxRate = 1;
      let got: Float32Array[];
      try {
        got = run(true);
      } finally {
        eventDriven.maxRate = prev;
      }
      const want = run(false);
      expect(Array.from(got[0])).toEqual(Array.from(want[0])); // input gradient: the same dense kernel
      let d = 0;
      let m = 1;
      for (let i = 0; i < want[1].length; i++) {
        d = Math.max(d, Math.abs(got[1][i] - want[1][i]));
        m = Math.max(m, Math.abs(want[1][i]));
      }
      expect(d).toBeLessThanOrEqual(1e-5 * m); // filter gradient: the same sums in another order
    });
  }

  it('falls back to the dense product above the rate threshold and for non-binary input', () => {
    const sv = spikes(16, 64, 0.5, 3);
    const dense0 = eventDriven.stats.dense;
    const got = product(sv, 16, 64, 32, 9, 0.2);
    expect(eventDriven.stats.dense).toBe(dense0 + 1);
    expect(Array.from(got)).toEqual(Array.from(product(sv, 16, 64, 32, 9, 'dense')));
    const real = normals(16 * 64, 4);
    const got2 = product(real, 16, 64, 32, 9, 1);
    expect(eventDriven.stats.dense).toBe(dense0 + 2);
    const want2 = product(real, 16, 64, 32, 9, 'dense');
    expect(Array.from(got2)).toEqual(Array.from(want2));
  });

  it('under a gradient tape gives the dense product and its gradients (wasm)', () => {
    const sv = spikes(16, 40, 0.2, 1);
    const run = (event: boolean) =>
      tf.tidy(() => {
        const s = tf.tensor2d(sv, [16, 40]);
        const w = tf.tensor2d(normals(40 * 24, 2), [40, 24]);
        const dyw = tf.tensor2d(normals(16 * 24, 3), [16, 24]);
        const f = (ss: tf.Tensor, ww: tf.Tensor) => {
          const y = event ? spikeMatMul(ss as tf.Tensor2D, ww as tf.Tensor2D) : tf.matMul(ss, ww);
          if (!y) throw new Error('event path not taken');
          return tf.sum(tf.mul(y, dyw));
        };
        const [gs, gw] = tf.grads(f)([s, w]);
        return [Array.from(gs.dataSync()), Array.from(gw.dataSync())] as unknown as void;
      }) as unknown as number[][];
    const before = eventDriven.stats.event;
    const got = run(true);
    expect(eventDriven.stats.event).toBe(before + 2); // the product and the weight gradient Sᵀ dY
    expect(got).toEqual(run(false));
    const prev = eventDriven.training;
    eventDriven.training = false;
    try {
      const s = tf.tensor2d(sv, [16, 40]);
      const w = tf.tensor2d(normals(40 * 24, 2), [40, 24]);
      let inside: tf.Tensor | null = null;
      tf.grad((ww: tf.Tensor) => {
        inside = spikeMatMul(s, ww as tf.Tensor2D);
        return tf.sum(tf.matMul(s, ww as tf.Tensor2D));
      })(w).dispose();
      expect(inside).toBeNull();
      tf.dispose([s, w]);
    } finally {
      eventDriven.training = prev;
    }
  });

  it('leaves the image encoder\'s training gradients unchanged (spikeclip-tiny)', () => {
    const cfg = getPreset('spikeclip-tiny').image;
    const enc = new SpikeClipImageEncoder(cfg, { seed: 5 });
    const x = tf.randomNormal([4, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 21);
    const grads = (on: boolean) => {
      const prev = { ...eventDriven };
      eventDriven.enabled = on;
      eventDriven.maxRate = 1;
      try {
        const vars = enc.trainableVariables();
        const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.square(enc.forward(x, TRAINING))) as tf.Scalar, vars);
        const out = vars.map((v) => Array.from(g[v.name].dataSync()));
        tf.dispose([value, ...Object.values(g)]);
        return out;
      } finally {
        Object.assign(eventDriven, { enabled: prev.enabled, maxRate: prev.maxRate });
      }
    };
    const dense = grads(false);
    const before = eventDriven.stats.event;
    const event = grads(true);
    expect(eventDriven.stats.event).toBeGreaterThan(before);
    // the conv filter gradients add the same terms in another order: within 1e-5 of the largest
    for (let v = 0; v < dense.length; v++) {
      let d = 0;
      let m = 1;
      for (let i = 0; i < dense[v].length; i++) {
        d = Math.max(d, Math.abs(event[v][i] - dense[v][i]));
        m = Math.max(m, Math.abs(dense[v][i]));
      }
      expect(d).toBeLessThanOrEqual(1e-5 * m);
    }
    x.dispose();
    enc.dispose();
  });

  it('leaves the image encoder\'s embeddings and predictions unchanged (spikeclip-tiny)', () => {
    const cfg = getPreset('spikeclip-tiny').image;
    const enc = new SpikeClipImageEncoder(cfg, { seed: 3 });
    const x = tf.randomNormal([6, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', 11);
    const classes = tf.randomNormal([cfg.outputDim, 10], 0, 1, 'float32', 12);
    const run = (on: boolean) => {
      const prev = { ...eventDriven };
      eventDriven.enabled = on;
      eventDriven.maxRate = 1; // every spike-input layer on the event path
      try {
        return tf.tidy(() => {
          const e = enc.forward(x, INFERENCE);
          const pred = tf.argMax(tf.matMul(e, classes), 1);
          return { e: e.dataSync().slice(), pred: Array.from(pred.dataSync()) } as unknown as void;
        }) as unknown as { e: Float32Array; pred: number[] };
      } finally {
        eventDriven.enabled = prev.enabled;
        eventDriven.maxRate = prev.maxRate;
      }
    };
    const dense = run(false);
    const before = eventDriven.stats.event;
    const event = run(true);
    expect(eventDriven.stats.event).toBeGreaterThan(before);
    let diff = 0;
    for (let i = 0; i < dense.e.length; i++) diff = Math.max(diff, Math.abs(event.e[i] - dense.e[i]));
    expect(diff).toBeLessThanOrEqual(1e-5);
    expect(event.pred).toEqual(dense.pred);
    tf.dispose([x, classes]);
    enc.dispose();
  });
});

describe('event-driven spike products on cpu (JS reference)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', env: {} });
  });
  it('equals the dense product within 1e-5', () => {
    const sv = spikes(9, 50, 0.2, 7);
    const got = product(sv, 9, 50, 21, 3, 1);
    const want = product(sv, 9, 50, 21, 3, 'dense');
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5);
  });
});

describe('the compiled kernels', () => {
  it('match their .wat sources (run node src/backend/simd/build.js after editing one)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { generate } = require('../../src/backend/simd/build.js') as { generate: () => Promise<string> };
    const fs = await import('fs');
    const path = await import('path');
    const current = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'backend', 'simd', 'modules.ts'), 'utf8');
    expect(await generate()).toBe(current);
  });
});
