#!/usr/bin/env node
/*
 * Writes what `spikeclip finetune` starts from when it has no --checkpoint and no --teacher, for the
 * PyTorch reference (finetune_ce.py): the class matrix W built by the fresh text encoder
 * (firingTextInit, byte-level BPE learnt from the class prompts, exactly as src/train/finetune.ts)
 * and the fresh image encoder's initial weights (our names and layouts: conv [kh, kw, in, out],
 * linear [in, out]).
 *
 *   npm run build
 *   node bench/reference/export_init.js --data-dir /work/data/cifar10 --seed 1 --out /tmp/init-seed1.json
 *
 * Optional tooling, not used by the tests or CI.
 */
'use strict';
const path = require('path');
const fs = require('fs');
const dist = path.join(__dirname, '..', '..', 'dist');
const req = (m) => require(path.join(dist, m));

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main() {
  const dataDir = arg('data-dir');
  const seed = Number(arg('seed', '1'));
  const preset = arg('preset', 'spikeclip-tiny');
  const dataset = arg('dataset', 'cifar10');
  const out = arg('out');
  if (!dataDir || !out) throw new Error('usage: export_init.js --data-dir DIR --out FILE.json [--seed 1] [--preset spikeclip-tiny] [--dataset cifar10]');
  await req('backend').initBackend({ backend: arg('backend', 'wasm'), threads: 1 });
  const { openDataset } = req('data/registry');
  const labels = req('eval/label-files');
  const { buildClassMatrix } = req('eval/classifier');
  const { clipTokenizerFiles, trainClipBpe } = req('text/bpe-train');
  const { getPreset } = req('models/config');
  const { SpikeClip } = req('models/spikeclip');
  const { studentEncoder } = req('encoders/encoder');
  const { firingTextInit, studentConfigFor } = req('train/student-setup');

  // as prepareFinetune / executeFinetune (no --checkpoint, no --teacher, default templates)
  const train = await openDataset(dataset, { dataDir, split: 'train', seed, valFraction: 0.1 });
  const candidates = labels.resolveCandidates(train.classNames, undefined, { dataset });
  const prompts = labels.promptsPerClass(candidates.names, { kind: 'list', templates: [...labels.defaultTemplates(dataset)] }, 'templates');
  const bpe = trainClipBpe(prompts.flat());
  const tokenizerFiles = clipTokenizerFiles(bpe, { contextLength: getPreset(preset).text.contextLength });
  const model = new SpikeClip(studentConfigFor(preset, undefined, bpe.vocabSize), { seed });
  firingTextInit(model, seed);
  const student = studentEncoder(model, { tokenizerFiles, studentResize: 'reference' });
  const W = buildClassMatrix({ prompts, encodeTexts: (texts) => student.encodeTexts(texts), renormalize: false });

  const image = {};
  for (const [name, v] of model.image.namedParametersAndBuffers ? model.image.namedParametersAndBuffers() : [...model.image.namedParameters(), ...model.image.namedBuffers()]) {
    image[name] = { shape: v.shape, data: Array.from(v.dataSync()) };
  }
  const doc = { preset, seed, dataset, classNames: candidates.names, imageConfig: model.config.image, W: { numClasses: W.numClasses, dim: W.dim, weights: Array.from(W.weights) }, image };
  fs.writeFileSync(out, JSON.stringify(doc));
  console.log(`wrote ${out}: W ${W.numClasses}x${W.dim}, ${Object.keys(image).length} image tensors`);
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
