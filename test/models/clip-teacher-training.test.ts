/**
 * The CLIP teacher is trainable (`pretrain --part clip --target teacher`): gradients through
 * encodeImage / encodeText reach every parameter, finite, and agree with finite differences
 * (cpu, a micro config) and with the cpu backend (wasm, with the project's training kernels);
 * a few Adam steps of a symmetric InfoNCE loss lower it, without leaking tensors.
 *
 * The loss here is a test-local InfoNCE (the training code has its own); it is written with
 * logSoftmax because tf.losses.softmaxCrossEntropy trips TF.js's kernel leak check under
 * IS_TEST (its customGrad keeps a tensor).
 */
import * as tf from '../../src/tf';
import { initBackend, releaseBackend } from '../../src/backend';
import { installTrainingKernels } from '../../src/backend/gradients';
import { ClipActivation, ClipConfig } from '../../src/models/clip-config';
import { clipPresetConfig, ClipPreset } from '../../src/models/clip-presets';
import { createTeacher } from '../../src/models/clip-init';
import { ClipTeacher } from '../../src/models/clip-teacher';
import { Adam } from '../../src/train/optimizer';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, env: {} }, [installTrainingKernels]);
});

afterAll(() => {
  releaseBackend();
});

/** A custom preset: width `d`, 2 layers per tower, images of `4 * grid` pixels in 4-pixel patches. */
function small(act: ClipActivation, d: number, grid: number, vocabSize: number): ClipConfig {
  const preset: ClipPreset = {
    description: 'test',
    vision: { imageSize: 4 * grid, patchSize: 4, hiddenSize: d, intermediateSize: 2 * d, numLayers: 2, numHeads: 2, hiddenAct: act },
    text: { maxPositions: 6, hiddenSize: d, intermediateSize: 2 * d, numLayers: 2, numHeads: 2, hiddenAct: act },
    projectionDim: 6,
  };
  return clipPresetConfig(preset, { vocabSize });
}

/** Deterministic uniform [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 4294967296) * 2 - 1;
  });
}

/** Rows `<start> tokens... <end> <end>...` of varying lengths, ids below start. */
function textIds(batch: number, length: number, vocabSize: number, seed: number): Int32Array {
  const r = rand(batch * length, seed);
  const ids = new Int32Array(batch * length).fill(vocabSize - 1);
  for (let b = 0; b < batch; b++) {
    const n = 1 + (b % (length - 2));
    ids[b * length] = vocabSize - 2;
    for (let i = 1; i <= n; i++) ids[b * length + i] = Math.floor(((r[b * length + i] + 1) / 2) * (vocabSize - 2));
  }
  return ids;
}

function infoNce(image: tf.Tensor2D, text: tf.Tensor2D, logitScale: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const norm = (x: tf.Tensor2D): tf.Tensor2D => tf.div(x, tf.norm(x, 2, -1, true));
    const logits = tf.mul(tf.matMul(norm(image), norm(text), false, true), tf.exp(logitScale));
    const eye = tf.eye(image.shape[0]);
    const ce = (l: tf.Tensor): tf.Tensor => tf.neg(tf.mean(tf.sum(tf.mul(eye, tf.logSoftmax(l, -1)), -1)));
    return tf.div(tf.add(ce(logits), ce(tf.transpose(logits))), 2) as tf.Scalar;
  });
}

interface Batch {
  images: tf.Tensor4D;
  ids: Int32Array;
  batch: number;
  length: number;
}

function makeBatch(c: ClipConfig, batch: number, seed: number): Batch {
  const s = c.vision.imageSize;
  return { images: tf.tensor4d(rand(batch * s * s * 3, seed), [batch, s, s, 3]), ids: textIds(batch, c.text.maxPositions, c.text.vocabSize, seed + 1), batch, length: c.text.maxPositions };
}

function lossOf(t: ClipTeacher, b: Batch): tf.Scalar {
  return tf.tidy(() => infoNce(t.encodeImage(b.images), t.encodeText({ ids: b.ids, batch: b.batch, length: b.length }), t.logit_scale));
}

function gradients(t: ClipTeacher, b: Batch): { value: number; grads: Map<string, Float32Array> } {
  const params = t.namedParameters();
  const { value, grads } = tf.variableGrads(() => lossOf(t, b), params.map(([, v]) => v));
  const out = new Map<string, Float32Array>();
  for (const [name, v] of params) {
    const g = grads[v.name];
    if (g) out.set(name, g.dataSync() as Float32Array);
  }
  const v = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { value: v, grads: out };
}

function expectEveryGradientFinite(t: ClipTeacher, grads: Map<string, Float32Array>): void {
  const problems: string[] = [];
  for (const [name] of t.namedParameters()) {
    const g = grads.get(name);
    if (!g) {
      problems.push(`${name}: no gradient`);
      continue;
    }
    if (!g.every(Number.isFinite)) problems.push(`${name}: non-finite`);
    // k_proj.bias adds q.b to every score of a row, which softmax ignores: its gradient is 0 up to rounding
    else if (!name.endsWith('k_proj.bias') && g.every((x) => x === 0)) problems.push(`${name}: all zero`);
  }
  expect(problems).toEqual([]);
}

describe('gradients of the CLIP teacher', () => {
  it.each(['quick_gelu', 'gelu'] as const)('match central finite differences along a random direction per parameter (cpu, %s)', async (act) => {
    await tf.setBackend('cpu');
    const c = small(act, 8, 2, 24);
    const t = new ClipTeacher(c, { seed: 3 });
    // lively layer norms and a non-trivial temperature, so no gradient is trivially tiny
    for (const [name, v] of t.namedParameters()) {
      if (/norm\d?\.weight$|layrnorm\.weight$|layernorm\.weight$/.test(name)) v.assign(tf.add(1, tf.mul(0.3, tf.tensor(rand(v.size, name.length), v.shape))));
      if (/norm\d?\.bias$|layrnorm\.bias$|layernorm\.bias$/.test(name)) v.assign(tf.mul(0.2, tf.tensor(rand(v.size, name.length + 1), v.shape)));
    }
    t.logit_scale.assign(tf.scalar(1.2));
    const b = makeBatch(c, 4, 11);
    const { grads } = gradients(t, b);
    expectEveryGradientFinite(t, grads);
    const eps = 1e-2;
    const report: string[] = [];
    let seed = 100;
    for (const [name, v] of t.namedParameters()) {
      const g = grads.get(name) as Float32Array;
      const u = rand(v.size, seed++);
      const un = Math.hypot(...u);
      const dir = u.map((x) => x / un);
      const analytic = g.reduce((s, x, i) => s + x * dir[i], 0);
      const orig = v.dataSync().slice();
      const at = (sign: number): number => {
        v.assign(tf.tensor(orig.map((x, i) => x + sign * eps * dir[i]), v.shape));
        return tf.tidy(() => lossOf(t, b).dataSync()[0]);
      };
      const fd = (at(1) - at(-1)) / (2 * eps);
      v.assign(tf.tensor(orig, v.shape));
      // float32 losses of ~1.4 differenced over 2e-2: about 1e-5 of noise; the derivatives are 1e-4..1e-2
      if (Math.abs(fd - analytic) > 3e-5 + 0.03 * Math.abs(analytic)) report.push(`${name}: analytic ${analytic}, finite difference ${fd}`);
    }
    expect(report).toEqual([]);
    b.images.dispose();
    t.dispose();
  });

  it.each(['quick_gelu', 'gelu'] as const)('on wasm (training kernels) equal those on cpu, for every parameter (width 32, 16x16 images, %s)', async (act) => {
    // wasm has no Erf kernel: 'gelu' runs through erfApprox there, through tf.erf on cpu
    const c = small(act, 32, 4, 300);
    await tf.setBackend('cpu');
    const ref = new ClipTeacher(c, { seed: 5 });
    const state = ref.stateDict();
    const cpuBatch = makeBatch(c, 3, 21);
    const cpu = gradients(ref, cpuBatch);
    cpuBatch.images.dispose();
    ref.dispose();
    await tf.setBackend('wasm');
    const t = new ClipTeacher(c, { seed: 99 });
    t.loadStateDict(state);
    const wasmBatch = makeBatch(c, 3, 21);
    const wasm = gradients(t, wasmBatch);
    expectEveryGradientFinite(t, wasm.grads);
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.value)));
    const off: string[] = [];
    for (const [name, g] of cpu.grads) {
      const w = wasm.grads.get(name) as Float32Array;
      let scale = 0;
      let err = 0;
      g.forEach((x, i) => {
        scale = Math.max(scale, Math.abs(x));
        err = Math.max(err, Math.abs(x - w[i]));
      });
      if (err > 1e-3 * scale + 1e-7) off.push(`${name}: max |wasm - cpu| ${err} (scale ${scale})`);
    }
    expect(off).toEqual([]);
    wasmBatch.images.dispose();
    t.dispose();
  });
});

describe('training the CLIP teacher', () => {
  it('8 Adam steps of symmetric InfoNCE lower the loss on a fixed batch (wasm, a fresh clip-tiny), tensors flat', async () => {
    await tf.setBackend('wasm');
    const t = createTeacher('clip-tiny', { vocabSize: 300, seed: 7 });
    const c = t.config;
    const b = makeBatch(c, 8, 31);
    const params = t.namedParameters();
    const opt = new Adam(params, { lr: 5e-4, amsgrad: false });
    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 8; step++) {
      const { value, grads } = tf.variableGrads(() => lossOf(t, b), params.map(([, v]) => v));
      losses.push(value.dataSync()[0]);
      opt.applyGradients(new Map(params.map(([name, v]) => [name, grads[v.name]])));
      tf.dispose([value, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    // 8 random pairs: chance is ln 8 = 2.08
    expect(losses[0]).toBeGreaterThan(1.5);
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    expect(losses[losses.length - 1]).toBeLessThan(0.25 * losses[0]);
    expect(new Set(counts.slice(1)).size).toBe(1);
    opt.dispose();
    b.images.dispose();
    t.dispose();
  });
});
