import * as tf from '../../src/tf';
import { DEFAULT_NEURON, INFERENCE, SpikeMonitor, TRAINING } from '../../src/snn';
import { InitRng, SpikingMLP, SpikingSelfAttention } from '../../src/snn/layers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const T = 2;
const B = 2;
const N = 4;
const C = 8;
const H = 2;

function makeSsa(seed = 1): SpikingSelfAttention {
  const ssa = new SpikingSelfAttention({ name: 'image.block.0.attn', dim: C, heads: H, neuron: { ...DEFAULT_NEURON }, rng: new InitRng(seed) });
  // shift the q/k/v pre-activations up so that about half of the neurons fire (at init few do)
  for (const bn of [ssa.q_bn, ssa.k_bn, ssa.v_bn]) bn.bias.assign(tf.fill([C], 1.5));
  return ssa;
}

/** Input strong enough to make the LIFs fire often. */
function input(seed = 2): tf.Tensor {
  return tf.mul(tf.randomNormal([T, B, N, C], 0.5, 1, 'float32', seed), 3);
}

describe('SpikingSelfAttention', () => {
  test('names follow the reference, q/k/v convs have no bias, proj has one', () => {
    const ssa = makeSsa();
    expect(ssa.namedParameters().map(([n, v]) => `${n}:${v.shape.join('x')}`)).toEqual([
      'q_conv.weight:8x8',
      'q_bn.weight:8',
      'q_bn.bias:8',
      'k_conv.weight:8x8',
      'k_bn.weight:8',
      'k_bn.bias:8',
      'v_conv.weight:8x8',
      'v_bn.weight:8',
      'v_bn.bias:8',
      'proj_conv.weight:8x8',
      'proj_conv.bias:8',
      'proj_bn.weight:8',
      'proj_bn.bias:8',
    ]);
    expect(ssa.namedBuffers().map(([n]) => n)).toEqual(
      ['q_bn', 'k_bn', 'v_bn', 'proj_bn'].flatMap((b) => [`${b}.running_mean`, `${b}.running_var`]),
    );
    expect(ssa.attn_lif.config.vThreshold).toBe(0.5);
    expect(ssa.q_lif.config.vThreshold).toBe(1);
    expect(() => new SpikingSelfAttention({ name: 'x', dim: 8, heads: 3, neuron: { ...DEFAULT_NEURON } })).toThrow(/heads \(3\) must divide dim \(8\)/);
    ssa.dispose();
  });

  test('matches an independent per-head loop implementation (Q K^T V * 0.125, no softmax)', () => {
    const ssa = makeSsa(5);
    const x = input();
    const y = ssa.forward(x, INFERENCE);
    expect(y.shape).toEqual([T, B, N, C]);

    // recompute with the module's own sub-layers, then the attention with plain loops
    const ctx = INFERENCE;
    const s = tf.reshape(ssa.proj_lif.forward(x), [T * B * N, C]);
    const spikes = (conv: typeof ssa.q_conv, bn: typeof ssa.q_bn, lif: typeof ssa.q_lif) =>
      lif.forward(tf.reshape(bn.forward(conv.forward(s), ctx), [T, B, N, C])).arraySync() as number[][][][];
    const q = spikes(ssa.q_conv, ssa.q_bn, ssa.q_lif);
    const k = spikes(ssa.k_conv, ssa.k_bn, ssa.k_lif);
    const v = spikes(ssa.v_conv, ssa.v_bn, ssa.v_lif);
    const d = C / H;
    const o: number[] = [];
    for (let t = 0; t < T; t++)
      for (let b = 0; b < B; b++)
        for (let i = 0; i < N; i++)
          for (let c = 0; c < C; c++) {
            const h = Math.floor(c / d);
            let acc = 0;
            for (let j = 0; j < N; j++) {
              let score = 0;
              for (let e = h * d; e < (h + 1) * d; e++) score += q[t][b][i][e] * k[t][b][j][e];
              acc += score * v[t][b][j][c];
            }
            o.push(acc * 0.125);
          }
    const a = ssa.attn_lif.forward(tf.tensor4d(o, [T, B, N, C]));
    const expected = tf.reshape(ssa.proj_bn.forward(ssa.proj_conv.forward(tf.reshape(a, [T * B * N, C])), ctx), [T, B, N, C]);
    const diff = tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0];
    expect(diff).toBeLessThan(1e-5);
    // the test is only meaningful if the attention LIF fired
    expect(tf.sum(a).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, y, s, a, expected]);
    ssa.dispose();
  });

  test('monitor: every conv and both matmuls, counts equal manual spike counts', () => {
    const ssa = makeSsa(7);
    const x = input(3);
    const monitor = new SpikeMonitor();
    ssa.forward(x, { training: true, monitor }).dispose();
    const recs = new Map(monitor.observations().map((r) => [r.layer.replace('image.block.0.attn.', ''), r]));
    expect([...recs.keys()]).toEqual(['q_conv', 'k_conv', 'v_conv', 'qk_matmul', 'av_matmul', 'proj_conv']);
    for (const r of recs.values()) {
      expect(r.kind).toBe('ac');
      expect(r.timeSteps).toBe(T);
      expect(r.samples).toBe(B);
    }
    // q/k/v all see the proj_lif spikes
    const sCount = tf.sum(ssa.proj_lif.forward(x)).dataSync()[0];
    for (const n of ['q_conv', 'k_conv', 'v_conv']) {
      expect(recs.get(n)!.nonZero).toBe(sCount);
      expect(recs.get(n)!.fanOut).toBe(C);
      expect(recs.get(n)!.flopsPerStep).toBe(N * C * C);
      expect(recs.get(n)!.inputElements).toBe(T * B * N * C);
    }
    // the matmuls: Q and V spike counts, fanOut N, FLOPs N*N*C per step and sample
    for (const n of ['qk_matmul', 'av_matmul']) {
      expect(recs.get(n)!.fanOut).toBe(N);
      expect(recs.get(n)!.flopsPerStep).toBe(N * N * C);
      expect(recs.get(n)!.inputElements).toBe(T * B * N * C);
    }
    tf.dispose(x);
    ssa.dispose();
  });

  test('trains: gradients reach every parameter; no tensors leak', () => {
    const ssa = makeSsa(9);
    const x = input(4);
    const vars = ssa.trainableVariables();
    // (a squared-output loss would be constant: the last BN normalises in training mode)
    const probe = tf.randomNormal([T, B, N, C], 0, 1, 'float32', 11);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(ssa.forward(x, TRAINING), probe)) as tf.Scalar, vars);
    for (const v of vars) {
      expect(grads[v.name]).toBeDefined();
      expect(grads[v.name].shape).toEqual(v.shape);
    }
    // the q projection gets a non-zero gradient through the surrogate
    expect(tf.tidy(() => tf.sum(tf.abs(grads[ssa.q_conv.weight.name])).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, probe]);
    ssa.dispose();
  });
});

describe('SpikingMLP', () => {
  test('names, shapes, monitor fan-outs', () => {
    const mlp = new SpikingMLP({ name: 'image.block.0.mlp', dim: C, hidden: 4 * C, neuron: { ...DEFAULT_NEURON }, rng: new InitRng(2) });
    expect(mlp.namedParameters().map(([n, v]) => `${n}:${v.shape.join('x')}`)).toEqual([
      'mlp1_conv.weight:8x32',
      'mlp1_conv.bias:32',
      'mlp1_bn.weight:32',
      'mlp1_bn.bias:32',
      'mlp2_conv.weight:32x8',
      'mlp2_conv.bias:8',
      'mlp2_bn.weight:8',
      'mlp2_bn.bias:8',
    ]);
    const x = input(6);
    const monitor = new SpikeMonitor();
    const y = mlp.forward(x, { training: true, monitor });
    expect(y.shape).toEqual([T, B, N, C]);
    const [r1, r2] = monitor.observations();
    expect(r1.layer).toBe('image.block.0.mlp.mlp1_conv');
    expect(r1.nonZero).toBe(tf.sum(mlp.mlp1_lif.forward(x)).dataSync()[0]);
    expect(r1.fanOut).toBe(4 * C);
    expect(r2.layer).toBe('image.block.0.mlp.mlp2_conv');
    expect(r2.fanOut).toBe(C);
    expect(r2.inputElements).toBe(T * B * N * 4 * C);
    tf.dispose([x, y]);
    mlp.dispose();
  });
});
