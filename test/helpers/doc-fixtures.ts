/**
 * The tiny world the docs' examples run in (test/docs/examples.test.ts): every file and model a
 * documented command reads, under the name the docs give it, generated in code and small enough
 * that each command takes about a second. The names (relative to the example's working folder;
 * `~` is its `home/`):
 *
 * - `~/models/clip-vit-base-patch16/`, `clip-vit-base-patch32/`: Hugging Face CLIP folders (a
 *   random 2-layer CLIP, 16-d embeddings, 32x32 images);
 * - `ckpt/clip-b16/`: that CLIP as a teacher checkpoint; `ckpt/student/` (also `micro`, and the
 *   `runs/*` checkpoints eval and energy read): a micro student of the same 16-d width that spikes;
 *   `runs/image/`: a pretrain run (spikeclip-tiny, 2 steps per part, made by the CLI), which
 *   finetune starts from;
 * - the Hugging Face cache (`HF_HUB_CACHE`) with `openai/clip-vit-base-patch16` and
 *   `my-org/private-clip` (the same CLIP);
 * - `~/data/`: CIFAR-10 and CIFAR-100 in the official binary archives, 15 (CIFAR-100: 3) train and
 *   4 test images each, and their MD5s (`checksums/<dataset>.json`, outside the world);
 * - `~/imagenet/train/<class>/*.png`: an image folder of 2 classes x 4 images;
 * - reference SpikeCLIP PyTorch files (`output/.../model_best.pth.tar`, `text_encoder.pth`,
 *   `image_encoder.safetensors`), images (`cat.jpg`, `a.png`, `b.png`) and the small inputs the
 *   examples name (`replace.json`, `paper-rates.json`).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { convertHfClipFolder } from '../../src/teacher/checkpoint';
import { writeClipFixture } from './clip-fixture';
import { patternPng, writeMicroStudent } from './eval-fixtures';
import { makeCifarFixture } from './fixtures-cifar';
import { addToHfCache } from './hf-cache-fixture';
import { runCli } from './cli';
import { referenceImageStateDict, referenceTextStateDict, writeReferenceSafetensors, writeReferenceTorchSave } from './reference-checkpoint';

export interface DocFixtures {
  /** The folder every example's working folder is copied from. */
  world: string;
  /** Hugging Face hub cache (read only). */
  hfCache: string;
  /** A folder of `data verify --checksums` files, `<dataset>.json`, for the fixture archives. */
  checksums: string;
  /** An architecture file (a checkpoint config.json) that `image_encoder.safetensors` matches. */
  microArch: string;
}

const WIDTH = 16;
const MICRO_IMAGE = { embedDim: 16, depth: 1, mlpRatio: 2, timeSteps: 2, inChannels: 3, outputDim: WIDTH };
/** The reference text encoder's shape; its vocabulary is the CLIP fixture's, so `--tokenizer` fits it. */
const MICRO_TEXT = { contextLength: 4, width: 8, maxPositions: 8, hidden: 16, outputDim: WIDTH, timeSteps: 2 };

function link(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(at), target), at);
}

export async function writeDocFixtures(root: string): Promise<DocFixtures> {
  const world = path.join(root, 'world');
  const home = path.join(world, 'home');
  const hf = path.join(home, 'models', 'clip-vit-base-patch16');
  const clip = writeClipFixture(hf, { seed: 9, bin: false, imageSize: 32, patchSize: 8, projectionDim: WIDTH });
  fs.cpSync(hf, path.join(world, 'clip-vit-base-patch32'), { recursive: true });
  const teacher = path.join(world, 'ckpt', 'clip-b16');
  await convertHfClipFolder(hf, teacher, { provenance: {} });

  const student = path.join(world, 'ckpt', 'student');
  await writeMicroStudent(student, { outputDim: WIDTH });
  link(student, path.join(world, 'micro'));
  for (const run of ['runs/text/checkpoints/latest', 'runs/ft/checkpoints/best', 'runs/ft-c10/checkpoints/best']) link(student, path.join(world, run));

  const hfCache = path.join(root, 'hf-hub');
  addToHfCache(hfCache, 'openai/clip-vit-base-patch16', hf, 'a'.repeat(40), ['main']);
  addToHfCache(hfCache, 'my-org/private-clip', hf, 'b'.repeat(40), ['main']);

  const data = path.join(home, 'data');
  const checksums = path.join(root, 'checksums');
  fs.mkdirSync(checksums);
  for (const name of ['cifar10', 'cifar100'] as const) {
    const f = makeCifarFixture({ name, format: 'binary', as: 'archive', dir: data, perBatch: 3, testCount: 4 });
    const md5 = createHash('md5').update(fs.readFileSync(f.path)).digest('hex');
    fs.writeFileSync(path.join(checksums, `${name}.json`), JSON.stringify({ [path.basename(f.path)]: md5 }));
  }

  // what finetune starts from: a spikeclip-tiny student aligned (2 steps per part) to the teacher
  // by the real CLI, so its text encoder gives distinct class vectors
  const env = { ...process.env, CI: '1', SPIKECLIP_BACKEND: 'wasm', SPIKECLIP_CACHE: path.join(root, 'cache') };
  const r = runCli(['pretrain', '--part', 'both', '--teacher', teacher, '--dataset', 'cifar10', '--data-dir', data, '--preset', 'spikeclip-tiny', '--max-steps', '2', '--batch-size', '8', '--out', path.join(world, 'runs', 'image'), '-q'], env);
  if (r.status !== 0) throw new Error(`pretrain for the fixtures failed: ${r.stderr}`);

  const image = referenceImageStateDict(MICRO_IMAGE, 1);
  const text = referenceTextStateDict({ ...MICRO_TEXT, vocabSize: clip.vocab.vocab.size }, 2);
  const imgFile = path.join(world, 'output', 'CIFAR10', '20240101-120000', 'model_best.pth.tar');
  const txtFile = path.join(world, 'output', 'last_text', '20240101-090000', 'model_best.pth.tar');
  fs.mkdirSync(path.dirname(imgFile), { recursive: true });
  fs.mkdirSync(path.dirname(txtFile), { recursive: true });
  writeReferenceTorchSave(imgFile, image, { timm: true, arch: 'vision_encoder', epoch: 41 });
  writeReferenceTorchSave(txtFile, text, { timm: true, arch: 'language_encoder', epoch: 7 });
  writeReferenceTorchSave(path.join(world, 'text_encoder.pth'), text);
  writeReferenceSafetensors(path.join(world, 'image_encoder.safetensors'), image);
  const microArch = path.join(root, 'micro-arch.json');
  const arch = (JSON.parse(fs.readFileSync(path.join(student, 'config.json'), 'utf8')) as { architecture: { image: Record<string, unknown> } }).architecture;
  fs.writeFileSync(microArch, JSON.stringify(arch));

  for (const [c, cls] of ['n01440764', 'n01443537'].entries()) {
    for (let k = 0; k < 4; k++) await patternPng(path.join(home, 'imagenet', 'train', cls, `${k}.png`), 36 + 4 * k, 32 + 2 * c, 10 * c + k + 5);
  }
  await patternPng(path.join(world, 'a.png'), 40, 30, 1);
  await patternPng(path.join(world, 'b.png'), 28, 36, 2);
  await sharp(fs.readFileSync(path.join(world, 'a.png'))).jpeg().toFile(path.join(world, 'cat.jpg'));
  fs.writeFileSync(path.join(world, 'replace.json'), '{ "red circle": "crimson disc", "blue square": "navy box" }\n');
  fs.writeFileSync(path.join(world, 'paper-rates.json'), '{ "*": 0.15, "patch_embed.block1_conv": 0.32, "text.*": 0.1 }\n');
  return { world, hfCache, checksums, microArch };
}
