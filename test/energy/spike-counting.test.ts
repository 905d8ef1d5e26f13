/**
 * Exact synaptic-operation counting of the SpikeMonitor against an independent brute force that
 * loops over every spike and every output connection it drives.
 */
import * as tf from '../../src/tf';
import { Conv2d, InitRng, Linear, SpikeMonitor, countOps, convFanOutMap, tapsPerIndex } from '../../src/snn';
import type { LayerObservation } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic 0/1 pattern with about `p` ones. */
function spikes(shape: number[], p: number, seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 < p ? 1 : 0;
  }
  return tf.tensor(data, shape);
}

/**
 * Brute force for a k x k convolution over NHWC input (PyTorch-style zero padding `pad`):
 * every non-zero input element x[n, y, x, c] drives, for every output position (oy, ox) whose
 * window covers it, C_out multiply-accumulates.
 */
function bruteConv(x: tf.Tensor, outH: number, outW: number, k: number, stride: number, pad: number, cOut: number): number {
  const [n, h, w, c] = x.shape;
  const d = x.dataSync();
  let ops = 0;
  for (let b = 0; b < n; b++)
    for (let yy = 0; yy < h; yy++)
      for (let xx = 0; xx < w; xx++)
        for (let ci = 0; ci < c; ci++) {
          if (d[((b * h + yy) * w + xx) * c + ci] === 0) continue;
          for (let oy = 0; oy < outH; oy++)
            for (let ox = 0; ox < outW; ox++) {
              const ky = yy - (oy * stride - pad);
              const kx = xx - (ox * stride - pad);
              if (ky >= 0 && ky < k && kx >= 0 && kx < k) for (let co = 0; co < cOut; co++) ops++;
            }
        }
  return ops;
}

function observeConv(conv: Conv2d, x: tf.Tensor4D, kind: 'ac' | 'mac' = 'ac'): LayerObservation {
  const monitor = new SpikeMonitor();
  tf.tidy(() => {
    conv.forward(x, { training: false, monitor }, { kind, timeSteps: 1, samples: x.shape[0] });
  });
  return monitor.observations()[0];
}

describe('tapsPerIndex / convFanOutMap', () => {
  test('3x3, stride 1, padding 1: 2 taps on the border rows, 3 inside', () => {
    expect(tapsPerIndex(5, 5, 3, 1, 1)).toEqual([2, 3, 3, 3, 2]);
    const m = convFanOutMap(4, 4, 4, 4, 3, 1, 1, 10);
    expect(Array.from(m.values)).toEqual([40, 60, 60, 40, 60, 90, 90, 60, 60, 90, 90, 60, 40, 60, 60, 40]);
  });

  test('stride 2 and valid padding', () => {
    // 5 inputs, k 3, stride 2, pad 1 -> 3 outputs at starts -1, 1, 3
    expect(tapsPerIndex(5, 3, 3, 2, 1)).toEqual([1, 2, 1, 2, 1]);
    expect(tapsPerIndex(5, 3, 3, 1, 0)).toEqual([1, 2, 3, 2, 1]);
  });
});

describe('exact conv SOPs equal the brute force', () => {
  const cases: Array<{ name: string; h: number; k: number; stride: number; pad: number | 'same' | 'valid'; torchPad: number }> = [
    { name: '3x3 pad 1 (the tokenizer)', h: 6, k: 3, stride: 1, pad: 1, torchPad: 1 },
    { name: '3x3 stride 2 pad 1', h: 7, k: 3, stride: 2, pad: 1, torchPad: 1 },
    { name: '3x3 valid', h: 6, k: 3, stride: 1, pad: 'valid', torchPad: 0 },
    { name: '3x3 same (symmetric at stride 1)', h: 5, k: 3, stride: 1, pad: 'same', torchPad: 1 },
    { name: '5x5 pad 2', h: 6, k: 5, stride: 1, pad: 2, torchPad: 2 },
  ];
  test.each(cases)('$name', ({ h, k, stride, pad, torchPad }) => {
    const conv = new Conv2d({ name: 'c', inChannels: 3, outChannels: 4, kernelSize: k, stride, padding: pad, bias: false, rng: new InitRng(1) });
    const x = spikes([2, h, h, 3], 0.3, 7 + h) as tf.Tensor4D;
    const rec = observeConv(conv, x);
    const [, ho, wo] = tf.tidy(() => conv.forward(x).shape);
    const brute = bruteConv(x, ho, wo, k, stride, torchPad, 4);
    expect(brute).toBeGreaterThan(0);
    expect(rec.synapticOps).toBe(brute);
    expect(rec.nonZero).toBe(tf.sum(x).dataSync()[0]);
    // same-size output: fanOut = C_out * k * k, the dense estimate counts the padding taps and is never below the exact count
    if (ho === h) expect(rec.nonZero * rec.fanOut).toBeGreaterThanOrEqual(rec.synapticOps);
    x.dispose();
    conv.dispose();
  });

  test('hand-placed spikes: a corner pixel drives 4 x C_out, an edge pixel 6 x C_out, an inner one 9 x C_out', () => {
    const conv = new Conv2d({ name: 'c', inChannels: 1, outChannels: 5, kernelSize: 3, padding: 1, bias: false });
    const one = (y: number, x: number) => {
      const buf = tf.buffer([1, 4, 4, 1]);
      buf.set(1, 0, y, x, 0);
      return buf.toTensor() as tf.Tensor4D;
    };
    for (const [y, x, taps] of [
      [0, 0, 4],
      [0, 2, 6],
      [2, 1, 9],
      [3, 3, 4],
    ]) {
      const t = one(y, x);
      expect(observeConv(conv, t).synapticOps).toBe(taps * 5);
      t.dispose();
    }
    conv.dispose();
  });

  test('all ones: SOPs = every real tap; all zeros: 0; the dense count is the FLOPs', () => {
    const conv = new Conv2d({ name: 'c', inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, bias: false });
    const ones = tf.ones([2, 8, 8, 2]) as tf.Tensor4D;
    const rec = observeConv(conv, ones);
    // per sample: C_in * C_out * (3H - 2) * (3W - 2) real taps, against C_in * C_out * 9 * H * W FLOPs
    expect(rec.synapticOps).toBe(2 * 2 * 3 * 22 * 22);
    expect(rec.connections).toBe(rec.synapticOps);
    expect(rec.nonZero * rec.fanOut).toBe(rec.flopsPerStep * 2);
    expect(rec.flopsPerStep).toBe(8 * 8 * 3 * 2 * 9);
    const zeros = tf.zeros([2, 8, 8, 2]) as tf.Tensor4D;
    const z = observeConv(conv, zeros);
    expect(z.synapticOps).toBe(0);
    expect(z.nonZero).toBe(0);
    expect(z.connections).toBe(rec.connections);
    tf.dispose([ones, zeros]);
    conv.dispose();
  });

  test('real-valued (MAC) input is counted the same way (non-zero values, not just ones)', () => {
    const conv = new Conv2d({ name: 'c', inChannels: 3, outChannels: 2, kernelSize: 3, padding: 1, bias: false });
    const x = tf.tidy(() => tf.mul(spikes([1, 5, 5, 3], 0.5, 3), tf.randomUniform([1, 5, 5, 3], 0.5, 2, 'float32', 4))) as tf.Tensor4D;
    const rec = observeConv(conv, x, 'mac');
    expect(rec.kind).toBe('mac');
    expect(rec.synapticOps).toBe(bruteConv(x, 5, 5, 3, 1, 1, 2));
    x.dispose();
    conv.dispose();
  });
});

describe('Linear and the generic counter', () => {
  test('Linear: SOPs = spikes x out features (brute force over rows)', () => {
    const lin = new Linear({ name: 'l', inFeatures: 7, outFeatures: 5 });
    const x = spikes([2, 3, 7], 0.4, 11);
    const monitor = new SpikeMonitor();
    tf.tidy(() => {
      lin.forward(x, { training: false, monitor }, { kind: 'ac', timeSteps: 2, samples: 3 });
    });
    const [rec] = monitor.observations();
    let brute = 0;
    const d = x.dataSync();
    for (let r = 0; r < 6; r++) for (let i = 0; i < 7; i++) if (d[r * 7 + i] !== 0) for (let o = 0; o < 5; o++) brute++;
    expect(rec.synapticOps).toBe(brute);
    expect(rec.connections).toBe(6 * 7 * 5);
    x.dispose();
    lin.dispose();
  });

  test('countOps with a map over permuted axes matches a per-element loop', () => {
    const x = spikes([2, 3, 4], 0.5, 5);
    // fan-out depends on axes [2, 0] (in that order): values[i2 * 2 + i0]
    const values = Array.from({ length: 8 }, (_, i) => i + 1);
    const r = countOps(x, 1, { axes: [2, 0], values });
    const d = x.dataSync();
    let brute = 0;
    let all = 0;
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 3; b++)
        for (let c = 0; c < 4; c++) {
          const f = values[c * 2 + a];
          all += f;
          if (d[(a * 3 + b) * 4 + c] !== 0) brute += f;
        }
    expect(r.synapticOps).toBe(brute);
    expect(r.connections).toBe(all);
    expect(() => countOps(x, 1, { axes: [1], values: [1, 2] })).toThrow(/does not fit/);
    x.dispose();
  });

  test('the binary fast path (spikes summed) gives the same counts as testing every element', () => {
    const x = spikes([3, 5, 5, 4], 0.35, 9);
    const map = convFanOutMap(5, 5, 5, 5, 3, 1, 1, 6);
    expect(countOps(x, 6, undefined, true)).toEqual(countOps(x, 6, undefined, false));
    expect(countOps(x, 54, map, true)).toEqual(countOps(x, 54, map, false));
    // a map over axes that include the last one
    const values = Array.from({ length: 20 }, (_, i) => (i % 7) + 1);
    expect(countOps(x, 1, { axes: [1, 3], values }, true)).toEqual(countOps(x, 1, { axes: [1, 3], values }, false));
    x.dispose();
  });

  test('no tensors are left behind by observing', () => {
    const conv = new Conv2d({ name: 'c', inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, bias: false });
    const x = spikes([1, 6, 6, 2], 0.3, 2) as tf.Tensor4D;
    observeConv(conv, x);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) observeConv(conv, x);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    conv.dispose();
  });
});
