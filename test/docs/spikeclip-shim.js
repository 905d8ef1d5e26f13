#!/usr/bin/env node
'use strict';
/**
 * The `spikeclip` that test/docs/examples.test.ts puts on PATH while it runs the docs' examples:
 * the real CLI (bin/run.js's `execute` over dist/, in this same process) after the substitutions
 * below, which only shrink the work (the tiny fixtures stand in for the data and models; nothing
 * else changes). It records what it ran in $DOCS_EXAMPLE_LOG/args.json.
 *
 * Substitutions (the whole table):
 * - `pretrain`, `finetune`: `--max-steps 2` and `--batch-size 8` (replacing the documented values;
 *   a run then takes seconds); `--preset spikeclip-b` becomes `spikeclip-tiny`, and a student built
 *   fresh without `--preset` gets `--preset spikeclip-tiny` (the default spikeclip-b image encoder
 *   trains at about 2 images/s here); `--dataset shapes` (or `shapes-simple`) becomes `--dataset cifar10` (the fixture's
 *   15 images instead of shapes' 1,500: the teacher's features and each validation pass then take
 *   no time; `shapes` itself is trained on by test/commands/*.test.ts);
 * - `convert import --arch spikeclip-b`: `--arch $DOCS_MICRO_ARCH` (an architecture file the
 *   fixture `image_encoder.safetensors` matches; spikeclip-b weights are 190 MB);
 * - `data verify`, `data download` of a dataset the fixtures have: `--checksums
 *   $DOCS_CHECKSUMS/<dataset>.json` (the MD5s of the tiny fixture archives that stand in for the
 *   published ones).
 */
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

/** The command id (`energy:report`) the arguments start with, and how many words it took. */
function commandOf(args) {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'));
  let best = { id: '', words: 0 };
  for (let n = 1; n <= args.length && !args[n - 1].startsWith('-'); n++) {
    const id = args.slice(0, n).join(':');
    if (manifest.commands[id]) best = { id, words: n };
  }
  return best;
}

function indexOf(args, flag) {
  return args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
}

function get(args, flag) {
  const i = indexOf(args, flag);
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
}

function set(args, flag, value) {
  const i = indexOf(args, flag);
  if (i < 0) args.push(flag, value);
  else if (args[i].includes('=')) args[i] = `${flag}=${value}`;
  else args[i + 1] = value;
}

function rewrite(original) {
  const args = [...original];
  const { id } = commandOf(args);
  if (id === 'pretrain' || id === 'finetune') {
    set(args, '--max-steps', '2');
    set(args, '--batch-size', '8');
    if (get(args, '--preset') === 'spikeclip-b') set(args, '--preset', 'spikeclip-tiny');
    const SHAPES = ['shapes', 'shapes-simple'];
    for (let i = 0; i < args.length; i++) {
      if (SHAPES.some((d) => args[i] === `--dataset=${d}`)) args[i] = '--dataset=cifar10';
      else if (args[i] === '--dataset' && SHAPES.includes(args[i + 1])) args[i + 1] = 'cifar10';
    }
    const fresh = get(args, '--target') !== 'teacher' && !['--checkpoint', '--init', '--student', '--preset', '--resume'].some((f) => indexOf(args, f) >= 0);
    if (fresh) args.push('--preset', 'spikeclip-tiny');
  }
  if (id === 'convert:import' && get(args, '--arch') === 'spikeclip-b' && process.env.DOCS_MICRO_ARCH) set(args, '--arch', process.env.DOCS_MICRO_ARCH);
  if ((id === 'data:verify' || id === 'data:download') && process.env.DOCS_CHECKSUMS) {
    const file = path.join(process.env.DOCS_CHECKSUMS, `${String(get(args, '--dataset')).toLowerCase()}.json`);
    if (fs.existsSync(file)) set(args, '--checksums', file);
  }
  return { id, args };
}

const original = process.argv.slice(2);
const { id, args } = rewrite(original);
if (process.env.DOCS_EXAMPLE_LOG) fs.writeFileSync(path.join(process.env.DOCS_EXAMPLE_LOG, 'args.json'), JSON.stringify({ id, original, args }));
const { execute } = require('@oclif/core');
execute({ dir: path.join(ROOT, 'bin'), args }).catch(() => {
  process.exitCode = process.exitCode || 1;
});
