/**
 * src/tf.ts: spikeclip depends on tfjs-core, tfjs-backend-cpu, tfjs-backend-wasm (and tfjs-layers
 * for its gradient registrations) instead of the umbrella @tensorflow/tfjs. This proves that
 * nothing was lost: every gradient tfjs-core ships is registered, and a whole SpikeCLIP training
 * step (image and text encoders, LIF and PLIF neurons, Adam) gets a finite gradient for every
 * trainable variable on each backend, with our training kernels installed as the CLI does.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../src/tf';
import { initBackend, releaseBackend } from '../src/backend';
import { installTrainingKernels } from '../src/backend/gradients';
import { SpikeClip, type SpikeClipConfig } from '../src/models';
import { DEFAULT_NEURON, TRAINING } from '../src/snn';
import { alignmentLoss } from '../src/train/losses';
import { sourceFiles as sources } from './helpers/sources';

const ROOT = path.resolve(__dirname, '..');

/** Kernel names of the gradient configs in tfjs-core's sources (dist/gradients/*_grad.js). */
function tfjsCoreGradientKernels(): string[] {
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist', 'gradients');
  const names: string[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('_grad.js'))) {
    const m = /kernelName:\s*([A-Za-z0-9_]+)/.exec(fs.readFileSync(path.join(dir, f), 'utf8'));
    if (!m) throw new Error(`no kernelName in ${f}`);
    const name = (tf as unknown as Record<string, unknown>)[m[1]];
    if (typeof name !== 'string') throw new Error(`${f}: ${m[1]} is not a kernel name exported by tfjs-core`);
    names.push(name);
  }
  return names;
}

test('every gradient tfjs-core ships is registered', () => {
  const kernels = tfjsCoreGradientKernels();
  expect(kernels.length).toBeGreaterThan(90);
  expect(kernels.filter((k) => tf.getGradient(k) === undefined)).toEqual([]);
});

function tinyConfig(): SpikeClipConfig {
  const lif = { ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } };
  const plif = { ...lif, kind: 'plif' as const, surrogate: { name: 'atan' as const, alpha: 2 } };
  return {
    image: { embedDim: 16, depth: 1, heads: 2, mlpRatio: 2, timeSteps: 2, imageSize: 8, inChannels: 3, outputDim: 8, neuron: plif, attnThreshold: 0.5, attnScale: 0.125 },
    text: { contextLength: 4, vocabSize: 30, width: 8, maxPositions: 6, hidden: 16, outputDim: 8, timeSteps: 2, neuron: lif },
  };
}

describe.each(['cpu', 'wasm'])('a SpikeCLIP training step on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, env: {} }, [installTrainingKernels]);
  });
  afterAll(() => releaseBackend());

  it('gives every trainable variable a finite gradient, and Adam applies them', () => {
    const model = new SpikeClip(tinyConfig(), { seed: 3 });
    const images = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 5);
    const ids = tf.tensor2d([[1, 5, 9, 2], [3, 3, 7, 0]], [2, 4], 'int32');
    const teacherImg = tf.randomNormal([2, 8], 0, 1, 'float32', 6);
    const teacherTxt = tf.randomNormal([2, 8], 0, 1, 'float32', 7);
    const vars = model.trainableVariables();
    expect(vars.length).toBeGreaterThan(10);
    const loss = (): tf.Scalar =>
      tf.add(alignmentLoss(model.encodeImage(images, TRAINING), teacherImg), alignmentLoss(model.encodeText(ids, TRAINING), teacherTxt)) as tf.Scalar;
    const { value, grads } = tf.variableGrads(loss, vars);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    for (const v of vars) {
      const g = grads[v.name];
      expect(g).toBeDefined();
      expect(g.dataSync().every(Number.isFinite)).toBe(true);
    }
    // the projections are reached by every path: their gradients cannot all be zero
    const nonZero = vars.filter((v) => grads[v.name].dataSync().some((x) => x !== 0)).length;
    expect(nonZero).toBeGreaterThan(vars.length / 2);
    const opt = tf.train.adam(1e-2);
    const before = vars[0].dataSync().slice();
    opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
    expect(Array.from(vars[0].dataSync())).not.toEqual(Array.from(before));
    tf.dispose([value, images, ids, teacherImg, teacherTxt, ...Object.values(grads)]);
    opt.dispose();
    model.dispose();
  });
});

describe('TF.js comes through src/tf.ts only', () => {
  it('no source, test or bench imports the umbrella @tensorflow/tfjs, or tfjs-core by value outside src/tf.ts', () => {
    const bad: string[] = [];
    for (const file of ['src', 'test', 'bench'].flatMap((d) => sources(path.join(ROOT, d)))) {
      const rel = path.relative(ROOT, file);
      const text = fs.readFileSync(file, 'utf8');
      if (/['"]@tensorflow\/tfjs['"]/.test(text.replace(/^\s*(\/\/|\*).*$/gm, ''))) bad.push(`${rel}: @tensorflow/tfjs`);
      if (rel === path.join('src', 'tf.ts') || rel === path.join('test', 'tf.test.ts')) continue;
      for (const m of text.matchAll(/^\s*import\s+(?!type\b)[^;]*?from\s+'@tensorflow\/tfjs-core'/gm)) bad.push(`${rel}: ${m[0].trim()}`);
      if (/require\(\s*'@tensorflow\/tfjs-core'\s*\)/.test(text)) bad.push(`${rel}: require('@tensorflow/tfjs-core')`);
    }
    expect(bad).toEqual([]);
  });
});
