import * as tf from '../../src/tf';
import { SpikeClipTextEncoder, getPreset, textEncoderLayers, type TextEncoderConfig } from '../../src/models';
import { INFERENCE, SpikeMonitor, TRAINING } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const small = (): TextEncoderConfig => ({ ...getPreset('spikeclip-tiny').text, contextLength: 5, vocabSize: 30, width: 4, maxPositions: 7, hidden: 16, outputDim: 6, timeSteps: 3 });

function ids(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
}

describe('SpikeClipTextEncoder', () => {
  test('names and shapes follow the reference Language_Encoder', () => {
    const enc = new SpikeClipTextEncoder(small(), { seed: 1 });
    expect(enc.namedParameters().map(([n, v]) => `${n}:${v.shape.join('x')}`)).toEqual([
      'weights_tensor:3',
      'fc1.weight:20x16',
      'fc1.bias:16',
      'fc2.weight:16x6',
      'fc2.bias:6',
      'clip_embedding.token_embedding.weight:30x4',
      'clip_embedding.position_embedding.weight:7x4',
    ]);
    const x = ids([[1, 2, 3, 29, 29], [0, 0, 0, 0, 0]]);
    const y = enc.forward(x, INFERENCE);
    expect(y.shape).toEqual([2, 6]);
    expect(() => enc.forward(ids([[1, 2, 3]]))).toThrow(/expected token ids \[B, 5\], got \[1, 3\]/);
    tf.dispose([x, y]);
    enc.dispose();
  });

  test('initEmbeddings copies the teacher tables (all rows of a longer position table that fit)', () => {
    const cfg = small();
    const enc = new SpikeClipTextEncoder(cfg, { seed: 2 });
    const token = { shape: [30, 4], data: Float32Array.from({ length: 120 }, (_, i) => i) };
    const position = { shape: [9, 4], data: Float32Array.from({ length: 36 }, (_, i) => 1000 + i) };
    enc.initEmbeddings(token, position);
    expect(Array.from(enc.clip_embedding.position_embedding.weight.dataSync())).toEqual(Array.from(position.data.slice(0, 28)));
    const e = enc.clip_embedding.forward(ids([[2, 0, 0, 0, 1]]));
    // token 2 at position 0: 8..11 + 1000..1003; token 1 at position 4: 4..7 + 1016..1019
    expect(Array.from(e.dataSync().slice(0, 4))).toEqual([1008, 1010, 1012, 1014]);
    expect(Array.from(e.dataSync().slice(16, 20))).toEqual([1020, 1022, 1024, 1026]);
    expect(() => enc.initEmbeddings({ shape: [29, 4], data: new Float32Array(116) }, position)).toThrow(/token embedding must be \[30, 4\], got \[29, 4\]/);
    expect(() => enc.initEmbeddings(token, { shape: [4, 4], data: new Float32Array(16) })).toThrow(/position embedding must be \[P >= 5, 4\]/);
    e.dispose();
    enc.dispose();
  });

  test('monitor: fc1 counts the LIF spikes of the repeated embedding', () => {
    const cfg = small();
    const enc = new SpikeClipTextEncoder(cfg, { seed: 3 });
    // large embeddings so that the first LIF fires
    enc.initEmbeddings(
      { shape: [30, 4], data: Float32Array.from({ length: 120 }, (_, i) => ((i * 7919) % 13) / 3 - 1) },
      { shape: [7, 4], data: new Float32Array(28).fill(0.5) },
    );
    const x = ids([[1, 5, 9, 29, 3], [4, 4, 4, 4, 4]]);
    const monitor = new SpikeMonitor();
    enc.forward(x, { training: true, monitor }).dispose();
    const recs = monitor.observations();
    const expected = textEncoderLayers(cfg, 'text');
    expect(recs.map((r) => [r.layer, r.kind, r.fanOut, r.flopsPerStep, r.timeSteps])).toEqual(expected.map((l) => [l.name, l.kind, l.fanOut, l.flopsPerStep, l.timeSteps]));
    const manual = tf.tidy(() => {
      const e = tf.reshape(enc.clip_embedding.forward(x), [1, 2, 20]);
      return tf.sum(enc.mlp_lif1.forward(tf.tile(e, [3, 1, 1]))).dataSync()[0];
    });
    expect(manual).toBeGreaterThan(0);
    expect(recs[0].nonZero).toBe(manual);
    expect(recs[0].inputElements).toBe(3 * 2 * 20);
    x.dispose();
    enc.dispose();
  });

  test('gradients reach the embeddings, fc layers and readout', () => {
    const enc = new SpikeClipTextEncoder(small(), { seed: 4 });
    enc.initEmbeddings({ shape: [30, 4], data: Float32Array.from({ length: 120 }, (_, i) => (i % 5) - 1) }, { shape: [7, 4], data: new Float32Array(28) });
    const x = ids([[1, 2, 3, 4, 5]]);
    const target = tf.randomNormal([1, 6], 0, 1, 'float32', 9);
    const vars = enc.trainableVariables();
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(enc.forward(x, TRAINING), target)) as tf.Scalar, vars);
    for (const v of vars) expect(grads[v.name]).toBeDefined();
    const tokGrad = tf.tidy(() => tf.sum(tf.abs(grads[enc.clip_embedding.token_embedding.weight.name])).dataSync()[0]);
    expect(tokGrad).toBeGreaterThan(0);
    tf.dispose([value, x, target, ...Object.values(grads)]);
    enc.dispose();
  });
});
