import * as tf from '../../src/tf';
import { ScratchClip, getPreset } from '../../src/models';
import { INFERENCE, SpikeMonitor } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ScratchClip (ANN twin)', () => {
  const cfg = () => ({ ...getPreset('spikeclip-tiny').image, embedDim: 32, heads: 4, imageSize: 16 });

  test('names follow the reference CLIPVisionTransformer', () => {
    const m = new ScratchClip(cfg(), { seed: 1 });
    const names = m.namedParameters().map(([n]) => n);
    expect(names.filter((n) => n.startsWith('embeddings.')).length).toBe(15); // 5 convs (no bias) + 5 BNs
    expect(names).toEqual(
      expect.arrayContaining([
        'embeddings.block0_conv.weight',
        'pre_layrnorm.weight',
        'encoder.layers.0.self_attn.k_proj.weight',
        'encoder.layers.0.self_attn.out_proj.bias',
        'encoder.layers.0.layer_norm1.bias',
        'encoder.layers.0.mlp.fc1.weight',
        'encoder.layers.0.mlp.fc2.bias',
        'encoder.layers.0.layer_norm2.weight',
        'post_layernorm.bias',
        'proj.weight',
        'proj.bias',
      ]),
    );
    expect(names.some((n) => n.includes('lif') || n.includes('weights_tensor'))).toBe(false);
    m.dispose();
  });

  test('forward shape, softmax attention scale, monitor records are all MACs at T = 1', () => {
    const m = new ScratchClip(cfg(), { seed: 2 });
    const x = tf.randomNormal([3, 16, 16, 3], 0, 1, 'float32', 1);
    const monitor = new SpikeMonitor();
    const y = m.forward(x, { training: false, monitor });
    expect(y.shape).toEqual([3, 512]);
    const recs = monitor.observations();
    expect(recs.every((r) => r.kind === 'mac' && r.timeSteps === 1 && r.samples === 3)).toBe(true);
    expect(recs.map((r) => r.layer)).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `ann.embeddings.block${i}_conv`),
      ...['q_proj', 'k_proj', 'v_proj', 'qk_matmul', 'av_matmul', 'out_proj'].map((n) => `ann.encoder.layers.0.self_attn.${n}`),
      'ann.encoder.layers.0.mlp.fc1',
      'ann.encoder.layers.0.mlp.fc2',
      'ann.proj',
    ]);
    const qk = recs.find((r) => r.layer.endsWith('qk_matmul'))!;
    expect(qk.flopsPerStep).toBe(16 * 16 * 32);

    // attention against a direct computation: softmax(q k^T / sqrt(d)) v per head
    const attn = m.encoder.layers.items[0].self_attn;
    const h = tf.randomNormal([1, 5, 32], 0, 1, 'float32', 3);
    const got = attn.forward(h, INFERENCE);
    const expected = tf.tidy(() => {
      const q = attn.q_proj.forward(h).arraySync() as number[][][];
      const k = attn.k_proj.forward(h).arraySync() as number[][][];
      const v = attn.v_proj.forward(h).arraySync() as number[][][];
      const d = 8;
      const o: number[] = [];
      for (let i = 0; i < 5; i++)
        for (let c = 0; c < 32; c++) {
          const hd = Math.floor(c / d);
          const s = [0, 1, 2, 3, 4].map((j) => {
            let acc = 0;
            for (let e = hd * d; e < hd * d + d; e++) acc += q[0][i][e] * k[0][j][e];
            return acc / Math.sqrt(d);
          });
          const mx = Math.max(...s);
          const p = s.map((z) => Math.exp(z - mx));
          const z = p.reduce((a, b) => a + b, 0);
          o.push(p.reduce((acc, pj, j) => acc + (pj / z) * v[0][j][c], 0));
        }
      return attn.out_proj.forward(tf.tensor3d(o, [1, 5, 32]));
    });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0])).toBeLessThan(1e-5);
    tf.dispose([x, y, h, got, expected]);
    m.dispose();
  });
});
