#!/usr/bin/env node
/**
 * Micro-benchmark of the training kernels on the wasm backend: tfjs-backend-wasm's built-in
 * path vs ours (src/backend/gradients). Plain JS; it loads the TypeScript sources directly
 * (transpiled in memory with the project's own `typescript`, no type check, no build needed).
 *
 *   node bench/gradients.js            # everything (about a minute on one core)
 *   node bench/gradients.js conv mm    # only the named groups: conv, conv1x1, mm, linear3d, bmm, embed
 *   REPS=5 node bench/gradients.js     # more repetitions (the best run is reported)
 *
 * Results vary with machine load: the load average is printed first; run on a quiet machine.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ts = require('typescript');

// Load .ts sources by transpiling them in memory (CommonJS).
require.extensions['.ts'] = (module, filename) => {
  const src = fs.readFileSync(filename, 'utf8');
  const out = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};

const tf = require('../src/tf');
const root = path.join(__dirname, '..');
const { initBackend, releaseBackend } = require(path.join(root, 'src/backend/index.ts'));
const { installTrainingKernels, uninstallTrainingKernels } = require(path.join(root, 'src/backend/gradients/index.ts'));

const REPS = Number(process.env.REPS || 3);
const only = new Set(process.argv.slice(2));
const want = (g) => only.size === 0 || only.has(g);

/** Best wall time (ms) of `f` over `reps` runs (the minimum is the figure least disturbed by other load) (which returns tensors, read back to force the work). */
function time(f, reps = REPS) {
  const run = () => {
    const t0 = performance.now();
    tf.tidy(() => {
      const out = f();
      for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    });
    return performance.now() - t0;
  };
  run(); // warm-up (XNNPACK operator creation, heap growth)
  let best = Infinity;
  for (let i = 0; i < reps; i++) best = Math.min(best, run());
  return best;
}

function tryTime(f, reps) {
  try {
    return time(f, reps);
  } catch (e) {
    return String(e.message || e).split('\n')[0];
  }
}

const rows = [];
function report(name, flop, builtinMs, oursMs) {
  const fmt = (ms) => (typeof ms === 'number' ? `${ms.toFixed(1)} ms` : 'n/a');
  const gf = (ms) => (typeof ms === 'number' && flop ? `${(flop / ms / 1e6).toFixed(1)} GFLOP/s` : '');
  const ratio = typeof builtinMs === 'number' && typeof oursMs === 'number' ? `${(builtinMs / oursMs).toFixed(1)}x` : '';
  const line = [name.padEnd(44), fmt(builtinMs).padStart(11), gf(builtinMs).padStart(15), fmt(oursMs).padStart(11), gf(oursMs).padStart(15), ratio.padStart(7)].join(' ');
  console.log(line);
  if (typeof builtinMs === 'string') console.log(`    built-in: ${builtinMs}`);
  if (typeof oursMs === 'string') console.log(`    ours: ${oursMs}`);
  rows.push({ name, flop, builtinMs, oursMs });
}

/** Times `f` with the built-in kernels, then with ours. */
function both(name, flop, f, builtinReps = REPS) {
  uninstallTrainingKernels();
  const b = tryTime(f, builtinReps);
  installTrainingKernels({ tfName: 'wasm' });
  const o = tryTime(f);
  report(name, flop, b, o);
}

function rnd(shape) {
  return tf.randomNormal(shape);
}

async function main() {
  const info = await initBackend({ backend: 'wasm' }, [installTrainingKernels]);
  console.log(`wasm backend: SIMD=${info.simd}, threads=${info.threads}; node ${process.version}; ${os.cpus()[0].model}`);
  console.log(`load average: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; reps=${REPS} (best run)`);
  console.log(['case'.padEnd(44), 'built-in'.padStart(11), ''.padStart(15), 'ours'.padStart(11), ''.padStart(15), 'speedup'.padStart(7)].join(' '));

  if (want('conv')) {
    // conv 3x3, [32,32,32,64] -> 128, stride 1, 'same'
    const x = rnd([32, 32, 32, 64]);
    const w = rnd([3, 3, 64, 128]);
    const dy = rnd([32, 32, 32, 128]);
    const flop = 2 * 32 * 32 * 32 * 64 * 128 * 9;
    both('conv3x3 forward', flop, () => tf.conv2d(x, w, 1, 'same'));
    both('conv3x3 input grad (Conv2DBackpropInput)', flop, () => tf.conv2dTranspose(dy, w, x.shape, 1, 'same'), 1);
    both('conv3x3 forward + filter grad', 2 * flop, () =>
      tf.grad((ww) => tf.sum(tf.mul(tf.conv2d(x, ww, 1, 'same'), dy)))(w),
    );
    both('conv3x3 forward + backward (dx, dW)', 3 * flop, () => {
      const g = tf.grads((xx, ww) => tf.sum(tf.mul(tf.conv2d(xx, ww, 1, 'same'), dy)))([x, w]);
      return g;
    }, 1);
    // Small batch: the filter gradient runs as one matMul per filter tap.
    const x4 = rnd([4, 32, 32, 64]);
    const dy4 = rnd([4, 32, 32, 128]);
    both('conv3x3 batch 4 forward + backward', (3 * flop) / 8, () =>
      tf.grads((xx, ww) => tf.sum(tf.mul(tf.conv2d(xx, ww, 1, 'same'), dy4)))([x4, w]),
    );
    tf.dispose([x4, dy4]);
    // Stride 2 (not used by our models; zero-dilated dy costs 4x the FLOPs in the input gradient).
    const x2 = rnd([32, 32, 32, 64]);
    const dy2 = rnd([32, 16, 16, 128]);
    both('conv3x3 stride 2 forward + backward', (3 * flop) / 4, () =>
      tf.grads((xx, ww) => tf.sum(tf.mul(tf.conv2d(xx, ww, 2, 'same'), dy2)))([x2, w]),
    1);
    tf.dispose([x, w, dy, x2, dy2]);
  }

  if (want('conv1x1')) {
    // 1x1 conv as in the SSA / MLP blocks: T*B = 128 frames of 8x8 tokens, 384 -> 384.
    const x = rnd([128, 8, 8, 384]);
    const w = rnd([1, 1, 384, 384]);
    const dy = rnd([128, 8, 8, 384]);
    const flop = 2 * 128 * 64 * 384 * 384;
    both('conv1x1 [128,8,8,384]->384 forward', flop, () => tf.conv2d(x, w, 1, 'same'));
    both('conv1x1 forward + backward (dx, dW)', 3 * flop, () =>
      tf.grads((xx, ww) => tf.sum(tf.mul(tf.conv2d(xx, ww, 1, 'same'), dy)))([x, w]),
    1);
    tf.dispose([x, w, dy]);
  }

  if (want('mm')) {
    const a = rnd([1024, 1024]);
    const b = rnd([1024, 1024]);
    const flop = 2 * 1024 ** 3;
    both('matMul 1024^3 forward', flop, () => tf.matMul(a, b));
    both('matMul 1024^3 transposeA', flop, () => tf.matMul(a, b, true, false), 1);
    both('matMul 1024^3 transposeB', flop, () => tf.matMul(a, b, false, true), 1);
    both('matMul 1024^3 gradient (dA and dB)', 2 * flop, () => tf.grads((aa, bb) => tf.sum(tf.matMul(aa, bb)))([a, b]), 1);
    tf.dispose([a, b]);
  }

  if (want('linear3d')) {
    // A Linear layer applied to a 3-D activation: [8,1024,384] x [384,384].
    const x = rnd([8, 1024, 384]);
    const w = rnd([384, 384]);
    const flop = 2 * 8 * 1024 * 384 * 384;
    both('Linear on [8,1024,384] forward', flop, () => tf.matMul(x, w), 1);
    // The built-in gradient cannot do this at all (broadcast b): ours only, gradients on.
    installTrainingKernels({ tfName: 'wasm' });
    report('Linear on [8,1024,384] forward + backward', 3 * flop, 'n/a', tryTime(() => tf.grads((xx, ww) => tf.sum(tf.matMul(xx, ww)))([x, w])));
    tf.dispose([x, w]);
  }

  if (want('bmm')) {
    // Attention-style batched products: T*B*heads = 256 of [64,48] x [48,64].
    const q = rnd([256, 64, 48]);
    const k = rnd([256, 64, 48]);
    const flop = 2 * 256 * 64 * 64 * 48;
    both('batched Q K^T [256,64,48]x[256,48,64]^T', flop, () => tf.matMul(q, k, false, true));
    both('batched Q K^T forward + backward', 3 * flop, () => tf.grads((qq, kk) => tf.sum(tf.matMul(qq, kk, false, true)))([q, k]));
    tf.dispose([q, k]);
  }

  if (want('embed')) {
    // CLIP token embedding 49408 x 512, batch 32 x 20 tokens.
    const table = rnd([49408, 512]);
    const ids = tf.tensor2d(Array.from({ length: 640 }, (_, i) => (i * 7919) % 49408), [32, 20], 'int32');
    both('embedding gather gradient [49408,512], 640 ids', 0, () => tf.grad((t) => tf.sum(tf.gather(t, ids)))(table));
    tf.dispose([table, ids]);
  }

  releaseBackend();
  return rows;
}

main().catch((e) => {
  console.error(e);
  releaseBackend();
  process.exitCode = 1;
});
