/**
 * The energy report service on a micro SpikeCLIP: exact SOPs against a brute force over the
 * recorded spike tensors, all-ones and all-zero spikes through the whole accounting, synthetic
 * inputs, checkpoint provenance, rates, and no tensor leaks over repeated runs.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../../src/tf';
import { energyConstants } from '../../src/energy/model';
import {
  measureSpikes,
  measurementsFromObservations,
  runEnergyReport,
  syntheticImages,
  syntheticTokenIds,
} from '../../src/energy/report';
import { checkpointHash } from '../../src/io/checkpoint';
import { SpikeClip, describeArchitecture, validateConfig, type SpikeClipConfig } from '../../src/models';
import { DEFAULT_NEURON, SpikeMonitor, type ObserveInfo } from '../../src/snn';
import { saveStudentCheckpoint } from '../../src/student/checkpoint';
import { smallClipVocab } from '../helpers/clip-vocab';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A SpikeCLIP small enough for brute-force loops: D 16, 1 block, 8x8 input, T 2; text 4 x 8 -> 16 -> 8. */
function microConfig(): SpikeClipConfig {
  const neuron = { ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } };
  return validateConfig({
    image: { embedDim: 16, depth: 1, heads: 2, mlpRatio: 2, timeSteps: 2, imageSize: 8, inChannels: 3, outputDim: 8, neuron, attnThreshold: 0.5, attnScale: 0.125 },
    text: { contextLength: 4, vocabSize: 50, width: 8, maxPositions: 6, hidden: 16, outputDim: 8, timeSteps: 2, neuron },
  });
}

/** BatchNorm biases of 2: in inference mode the LIFs after every BN then fire about half the time at step 0. */
function excite(model: SpikeClip): void {
  for (const [name, v] of model.namedParameters()) {
    if (/_bn\.bias$/.test(name)) v.assign(tf.fill(v.shape, 2.0));
  }
}

class RecordingMonitor extends SpikeMonitor {
  readonly inputs: Array<{ layer: string; shape: number[]; data: Float32Array; info: ObserveInfo }> = [];
  override observe(layer: string, input: tf.Tensor, info: ObserveInfo): void {
    this.inputs.push({ layer, shape: input.shape.slice(), data: Float32Array.from(input.dataSync()), info });
    super.observe(layer, input, info);
  }
}

/** Replaces every observed input by ones (or zeros) before counting. */
class ConstantMonitor extends SpikeMonitor {
  constructor(private readonly value: 0 | 1) {
    super();
  }
  override observe(layer: string, input: tf.Tensor, info: ObserveInfo): void {
    const c = this.value === 1 ? tf.onesLike(input) : tf.zerosLike(input);
    super.observe(layer, c, info);
    c.dispose();
  }
}

// ------------------------------------------------------------------------------------------
// Brute force: loop over every non-zero input element and every output connection it drives.

function bruteConv3x3(shape: number[], data: Float32Array, cOut: number): number {
  const [n, h, w, c] = shape;
  let ops = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ci = 0; ci < c; ci++) {
          if (data[((b * h + y) * w + x) * c + ci] === 0) continue;
          // output (oy, ox) reads input rows oy-1..oy+1 (stride 1, zero padding 1)
          for (let oy = 0; oy < h; oy++)
            for (let ox = 0; ox < w; ox++) {
              if (Math.abs(oy - y) <= 1 && Math.abs(ox - x) <= 1) for (let co = 0; co < cOut; co++) ops++;
            }
        }
  return ops;
}

function bruteLinear(shape: number[], data: Float32Array, outFeatures: number): number {
  let ops = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) for (let o = 0; o < outFeatures; o++) ops++;
  return ops;
}

/** Q K^T from Q [TB, H, N, d]: a spike Q[i, c] accumulates K[j, c] into A[i, j] for every key j. */
function bruteMatmul(shape: number[], data: Float32Array): number {
  const n = shape[2];
  let ops = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) for (let j = 0; j < n; j++) ops++;
  return ops;
}

function bruteForce(cfg: SpikeClipConfig, layer: string, shape: number[], data: Float32Array): number {
  const d = cfg.image.embedDim;
  const channels = [d / 8, d / 4, d / 2, d, d];
  const conv = /patch_embed\.block(\d)_conv$/.exec(layer);
  if (conv) return bruteConv3x3(shape, data, channels[Number(conv[1])]);
  if (/_matmul$/.test(layer)) return bruteMatmul(shape, data);
  const out: Record<string, number> = {
    q_conv: d,
    k_conv: d,
    v_conv: d,
    proj_conv: d,
    mlp1_conv: d * cfg.image.mlpRatio,
    mlp2_conv: d,
    proj: cfg.image.outputDim,
    fc1: cfg.text.hidden,
    fc2: cfg.text.outputDim,
  };
  const local = layer.split('.').pop() as string;
  if (out[local] === undefined) throw new Error(`no brute force for ${layer}`);
  return bruteLinear(shape, data, out[local]);
}

describe('exact SOPs on a micro model equal a brute force over its recorded spikes', () => {
  test('image and text encoders, every synaptic layer', () => {
    const cfg = microConfig();
    const model = new SpikeClip(cfg, { seed: 3 });
    const b = 3;
    const x = tf.randomNormal([b, 8, 8, 3], 0, 1.5, 'float32', 5);
    const ids = tf.tensor2d([1, 7, 9, 49, 1, 2, 49, 49, 3, 30, 31, 49], [b, 4], 'int32');
    const monitor = new RecordingMonitor();
    // training-mode BatchNorm (batch statistics) so the fresh model spikes everywhere
    tf.tidy(() => {
      model.image.forward(x, { training: true, monitor });
      model.text.forward(ids, { training: true, monitor });
    });
    const desc = describeArchitecture(cfg);
    const obs = monitor.observations();
    const image = measurementsFromObservations('image', desc.image.layers, obs.filter((o) => o.layer.startsWith('image.')));
    const text = measurementsFromObservations('text', desc.text.layers, obs.filter((o) => o.layer.startsWith('text.')));
    let spiking = 0;
    for (const m of [...image, ...text]) {
      const rec = monitor.inputs.filter((r) => r.layer === m.spec.name);
      expect(rec).toHaveLength(1);
      const brute = bruteForce(cfg, m.spec.name, rec[0].shape, rec[0].data);
      expect(m.exactSops! * b).toBe(brute);
      if (m.spec.kind === 'ac' && brute > 0) spiking++;
    }
    // the check is not vacuous: most spike-input layers saw spikes
    expect(spiking).toBeGreaterThanOrEqual(10);
    tf.dispose([x, ids]);
    model.dispose();
  });
});

describe('all-ones and all-zero spikes through the whole accounting', () => {
  const cfg = microConfig();
  const desc = describeArchitecture(cfg);

  function run(value: 0 | 1) {
    const model = new SpikeClip(cfg, { seed: 1 });
    const monitor = new ConstantMonitor(value);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 2);
    tf.tidy(() => {
      model.image.forward(x, { training: false, monitor });
    });
    x.dispose();
    model.dispose();
    return measurementsFromObservations('image', desc.image.layers, monitor.observations());
  }

  test('all ones: SOPs = T x FLOPs for dense layers; padded 3x3 convs lose exactly the padding taps', () => {
    const t = cfg.image.timeSteps;
    for (const m of run(1)) {
      expect(m.firingRate).toBe(1);
      const conv = /patch_embed\.block(\d)_conv$/.exec(m.spec.name);
      if (!conv) {
        expect(m.exactSops).toBe(m.spec.timeSteps * m.spec.flopsPerStep);
        continue;
      }
      // H x W input, stride 1, padding 1: (3H - 2)(3W - 2) real taps instead of 9HW
      const i = Number(conv[1]);
      const hw = i >= 4 ? 2 : i >= 3 ? 4 : 8;
      const ratio = ((3 * hw - 2) * (3 * hw - 2)) / (9 * hw * hw);
      expect(m.exactSops).toBeCloseTo(t * m.spec.flopsPerStep * ratio, 6);
      expect(m.connections).toBe(m.exactSops);
    }
  });

  test('all zeros: 0 SOPs everywhere', () => {
    for (const m of run(0)) {
      expect(m.firingRate).toBe(0);
      expect(m.exactSops).toBe(0);
    }
  });
});

describe('measureSpikes and runEnergyReport', () => {
  test('synthetic inputs are seeded and CLIP-normalised; token ids well-formed', () => {
    const a = [...syntheticImages({ imageSize: 8, inChannels: 3 }, 5, 2, 7)];
    const b = [...syntheticImages({ imageSize: 8, inChannels: 3 }, 5, 3, 7)];
    expect(a.map((x) => x.shape[0])).toEqual([2, 2, 1]);
    const flat = (xs: typeof a) => Float32Array.from(xs.flatMap((x) => Array.from(x.data)));
    expect(flat(a)).toEqual(flat(b)); // the batch size does not change the images
    expect(flat(a)).not.toEqual(flat([...syntheticImages({ imageSize: 8, inChannels: 3 }, 5, 2, 8)]));
    const all = flat(a);
    expect(Math.min(...all)).toBeGreaterThanOrEqual(-0.48145466 / 0.26862954 - 1e-5);
    expect(Math.max(...all)).toBeLessThanOrEqual((1 - 0.40821073) / 0.26130258 + 1e-5);
    const [t] = [...syntheticTokenIds({ contextLength: 6, vocabSize: 49408 }, 3, 3, 1)];
    for (let r = 0; r < 3; r++) {
      const row = Array.from(t.ids.subarray(r * 6, r * 6 + 6));
      expect(row[0]).toBe(49406);
      const end = row.indexOf(49407);
      expect(end).toBeGreaterThanOrEqual(2);
      expect(row.slice(end).every((v) => v === 49407)).toBe(true);
      expect(row.slice(1, end).every((v) => v >= 0 && v < 49406)).toBe(true);
    }
  });

  test('inference-mode run: per-layer counts add up, and no tensors leak over repeated runs', async () => {
    const cfg = microConfig();
    const model = new SpikeClip(cfg, { seed: 2 });
    excite(model);
    const go = () =>
      measureSpikes(model, { images: syntheticImages(cfg.image, 5, 2, 1), texts: syntheticTokenIds(cfg.text, 4, 3, 1) }, { totalImages: 5, totalPrompts: 4 });
    const first = await go();
    expect(first.images).toBe(5);
    expect(first.prompts).toBe(4);
    expect(first.image.every((o) => o.samples === 5 && o.calls === 3)).toBe(true);
    const spiking = first.image.filter((o) => o.kind === 'ac' && o.nonZero > 0).length;
    expect(spiking).toBe(first.image.filter((o) => o.kind === 'ac').length);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const again = await go();
      expect(again.image.map((o) => o.synapticOps)).toEqual(first.image.map((o) => o.synapticOps));
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  test('from a checkpoint: its SHA-256, the inputs, T and constants are recorded; the model is released', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-ckpt-'));
    const cfg = microConfig();
    const model = new SpikeClip(cfg, { seed: 4 });
    excite(model);
    await saveStudentCheckpoint(dir, model);
    model.dispose();
    const before = tf.memory().numTensors;
    const notes: string[] = [];
    const progress: string[] = [];
    const r = await runEnergyReport({
      model: { kind: 'checkpoint', dir },
      energy: energyConstants('fp16'),
      inputs: { kind: 'synthetic', samples: 3, seed: 5 },
      batchSize: 2,
      onNote: (l) => notes.push(l),
      onProgress: (p) => progress.push(`${p.encoder}:${p.done}/${p.total}`),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.mode).toBe('measured');
    expect(r.weights).toMatchObject({ kind: 'checkpoint', sha256: await checkpointHash(dir) });
    expect(r.inputs).toMatchObject({ kind: 'synthetic', images: 3, prompts: 3, seed: 5 });
    expect(r.timeSteps).toEqual({ image: 2, text: 2 });
    expect(r.energy).toMatchObject({ preset: 'fp16', eMacPj: 1.5, eAcPj: 0.4 });
    expect(r.encoders.map((e) => e.encoder)).toEqual(['image', 'text']);
    expect(r.encoders[0].layers.map((l) => l.layer)).toEqual(describeArchitecture(cfg).image.layers.map((l) => l.name));
    expect(r.encoders[0].sops).toBeGreaterThan(0);
    expect(r.total.energyPj).toBeCloseTo(r.encoders[0].energyPj + r.encoders[1].energyPj, 6);
    expect(r.warnings).toEqual([]);
    expect(progress).toEqual(['image:2/3', 'image:3/3', 'text:2/3', 'text:3/3']);
    expect(notes.join('\n')).toMatch(/sha256/);
    // the same run again gives the same numbers (inference mode, seeded inputs)
    const r2 = await runEnergyReport({ model: { kind: 'checkpoint', dir }, energy: energyConstants('fp16'), inputs: { kind: 'synthetic', samples: 3, seed: 5 }, batchSize: 3 });
    expect(r2.encoders.map((e) => e.energyPj)).toEqual(r.encoders.map((e) => e.energyPj));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('fresh weights are recorded with their seed and a warning', async () => {
    const r = await runEnergyReport({ model: { kind: 'preset', name: 'spikeclip-tiny', seed: 9 }, energy: energyConstants(), inputs: { kind: 'synthetic', samples: 1, seed: 0 } });
    expect(r.weights).toMatchObject({ kind: 'fresh', seed: 9, description: 'fresh weights of spikeclip-tiny, seed 9' });
    expect(r.architecture).toBe('spikeclip-tiny');
    expect(r.warnings.join(' ')).toMatch(/untrained/);
    expect(r.encoders[0].ann.flops).toBe(describeArchitecture(r.config).image.flopsPerStep);
  });

  test('dataset inputs: a seeded subset of images, class prompts through the checkpoint tokenizer', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-ds-'));
    const vocab = smallClipVocab(['a', 'photo', 'of', 'the', 'red', 'blue', 'green', 'circle', 'square']);
    const base = microConfig();
    const cfg = validateConfig({ image: { ...base.image, imageSize: 32 }, text: { ...base.text, contextLength: 8, maxPositions: 8, vocabSize: vocab.vocab.size } });
    const model = new SpikeClip(cfg, { seed: 6 });
    excite(model);
    // embeddings large enough for the text LIFs to fire
    const emb = model.text.clip_embedding.token_embedding.weight;
    emb.assign(tf.randomNormal(emb.shape, 0, 3, 'float32', 8));
    const enc = new TextEncoder();
    await saveStudentCheckpoint(dir, model, { tokenizerFiles: new Map([['vocab.json', enc.encode(vocab.vocabJson)], ['merges.txt', enc.encode(vocab.mergesTxt)]]) });
    model.dispose();
    const run = () => runEnergyReport({ model: { kind: 'checkpoint', dir }, energy: energyConstants(), inputs: { kind: 'dataset', dataset: 'shapes', split: 'test', samples: 5, seed: 2 }, batchSize: 2 });
    const r = await run();
    expect(r.inputs).toMatchObject({ kind: 'dataset', dataset: 'shapes', split: 'test', images: 5, prompts: 5 });
    expect(r.inputs.imageSource).toMatch(/shapes test: 5 of 360 images, seeded random subset \(seed 2\)/);
    expect(r.inputs.textSource).toMatch(/^5 of \d+ prompts \(36 class names x \d+ templates for shapes\), seeded subset, tokenizer .*tokenizer$/);
    expect(r.warnings).toEqual([]);
    expect(r.encoders[1].sops).toBeGreaterThan(0);
    // seeded: the same images and prompts again
    expect((await run()).encoders.map((e) => e.energyPj)).toEqual(r.encoders.map((e) => e.energyPj));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
