/**
 * What a reference state dict holds and which architecture its tensors imply.
 *
 * - `detectPart`: image encoder (`patch_embed.*`, `block.N.*`, `proj.*`), text encoder (`fc1.*`,
 *   `fc2.*`, `clip_embedding.*`), or something else we can name (a Hugging Face CLIP model, an
 *   OpenAI/open_clip CLIP, the reference ANN twin, a spikeclip checkpoint's own weights file).
 * - `inferImage` / `inferText`: the architecture fields the shapes determine. Image: D from
 *   `patch_embed.block4_conv.weight`, input channels from `block0_conv`, depth from the `block.N`
 *   indices, T from `weights_tensor` [1, T, 1], MLP ratio from `block.0.mlp.mlp1_conv.weight`,
 *   the output width from `proj.weight`; PLIF neurons from `*_lif.w` tensors. The head count, the
 *   input size and the neuron constants are not in the weights. Text: vocabulary and width from
 *   the token embedding, position rows from the position embedding, context length = fc1's input
 *   / width, hidden = fc1's output, the output width from fc2, T from `weights_tensor`.
 * - `checkPartTensors`: every tensor the architecture needs is present with the reference
 *   PyTorch shape, nothing unknown is left over (BatchNorm `num_batches_tracked` and the text
 *   embeddings' `position_ids` buffer are ignored), and weights are floating point.
 */
import type { SafeTensor } from '../io/safetensors';
import type { ImageEncoderConfig, SpikeClipConfig, TextEncoderConfig } from '../models/config';
import { imageEncoderTensors, textEncoderTensors } from '../models/describe';
import { layoutOf } from '../models/pytorch-names';
import { ConvertError, listNames, showShape } from './errors';

export type EncoderPart = 'image' | 'text';

export const PART_NAMES: Record<EncoderPart, string> = { image: 'image encoder', text: 'text encoder' };
/** The reference PyTorch classes (Lvchangze/SpikeCLIP model.py). */
export const REFERENCE_CLASSES: Record<EncoderPart, string> = { image: 'Vision_Encoder', text: 'Language_Encoder' };

const IMAGE_RE = /^(patch_embed\.|block\.\d+\.|proj\.(weight|bias)$)/;
const TEXT_RE = /^(fc[12]\.|clip_embedding\.|mlp_lif[12]\.)/;
const HF_CLIP_RE = /^(vision_model\.|text_model\.|visual_projection\.weight$|text_projection\.weight$|logit_scale$)/;
const OPENAI_CLIP_RE = /^(visual\.(conv1|class_embedding|transformer|ln_pre|ln_post|proj)|transformer\.resblocks\.|positional_embedding$|ln_final\.|token_embedding\.weight$)/;
const ANN_RE = /^(embeddings\.block\d+_|pre_layrnorm\.|encoder\.layers\.\d+\.|post_layernorm\.)/;
const STUDENT_RE = /^(image|text)\.(weights_tensor$|patch_embed\.|block\.|proj\.|fc[12]\.|clip_embedding\.)/;

/** Tensors that exist in reference state dicts but not in ours: skipped on import. */
function isIgnored(name: string, expected: ReadonlyMap<string, number[]>): boolean {
  if (name.endsWith('.num_batches_tracked')) return expected.has(`${name.slice(0, -'.num_batches_tracked'.length)}.running_mean`);
  return name === 'clip_embedding.position_ids' && expected.has('clip_embedding.position_embedding.weight');
}

export interface DetectInput {
  file: string;
  tensors: ReadonlyMap<string, unknown>;
  metadata?: Record<string, string>;
}

/** Which encoder a state dict holds; a clear error for anything else. */
export function detectPart(ref: DetectInput): EncoderPart {
  const names = [...ref.tensors.keys()];
  if (names.length === 0) throw new ConvertError(`${ref.file} holds no tensors`, 'E_WRONG_MODEL', 'pass a SpikeCLIP image- or text-encoder checkpoint');
  const some = (re: RegExp) => names.find((n) => re.test(n));
  const hf = some(/^(vision_model|text_model)\./) ?? some(HF_CLIP_RE);
  if (hf !== undefined) {
    throw new ConvertError(
      `${ref.file}: this looks like a Hugging Face CLIP model (it has ${hf}): use \`spikeclip convert teacher\` to turn it into a teacher checkpoint`,
      'E_HF_CLIP',
      'run `spikeclip convert teacher --from <the Hugging Face model folder> --out <dir>`; `convert import` reads SpikeCLIP (spiking) encoder checkpoints',
    );
  }
  const image = some(IMAGE_RE);
  const text = some(TEXT_RE);
  if (image === undefined && text === undefined) {
    if (some(STUDENT_RE) !== undefined) {
      throw new ConvertError(`${ref.file} is the weights file of a spikeclip checkpoint (names image.*, text.*), not a reference PyTorch state dict`, 'E_WRONG_MODEL', 'use its checkpoint directory as it is, or `spikeclip convert export` it');
    }
    const openai = some(OPENAI_CLIP_RE);
    if (openai !== undefined) {
      throw new ConvertError(`${ref.file}: this looks like an OpenAI / open_clip CLIP model (it has ${openai}), not a SpikeCLIP encoder`, 'E_WRONG_MODEL', 'convert it to a Hugging Face CLIP folder and use `spikeclip convert teacher`');
    }
    const ann = some(ANN_RE);
    if (ann !== undefined) {
      throw new ConvertError(`${ref.file}: this looks like the reference ANN twin (CLIPv_encoder, it has ${ann}), not a spiking encoder`, 'E_WRONG_MODEL', '`convert import` reads the spiking Vision_Encoder and Language_Encoder checkpoints');
    }
    throw new ConvertError(`${ref.file}: no SpikeCLIP encoder tensors found (its first tensors: ${listNames(names, 3)})`, 'E_WRONG_MODEL', 'pass a reference Vision_Encoder or Language_Encoder checkpoint (names such as patch_embed.block0_conv.weight or fc1.weight)');
  }
  if (image !== undefined && text !== undefined) {
    throw new ConvertError(`${ref.file} holds both image-encoder (${image}) and text-encoder (${text}) tensors; expected one encoder per file`, 'E_WRONG_PART', 'pass the image encoder with --from and the text encoder with --text, one state dict each');
  }
  return image !== undefined ? 'image' : 'text';
}

// ------------------------------------------------------------------------------------------------
// inference

/** The image-encoder fields its tensors determine (heads and image size do not show in the weights). */
export type InferredImage = Pick<ImageEncoderConfig, 'embedDim' | 'depth' | 'mlpRatio' | 'timeSteps' | 'inChannels' | 'outputDim'> & { plif: boolean };

/** The text-encoder fields its tensors determine (all of them, but for the neuron constants). */
export type InferredText = Omit<TextEncoderConfig, 'neuron'> & { plif: boolean };

type Tensors = ReadonlyMap<string, { shape: number[] }>;

function need(file: string, tensors: Tensors, names: string[], why: string): void {
  const missing = names.filter((n) => !tensors.has(n));
  if (missing.length > 0) {
    throw new ConvertError(`${file}: missing tensor${missing.length > 1 ? 's' : ''} ${listNames(missing)} (needed to ${why})`, 'E_MISSING_TENSORS', 'pass a complete state dict of the encoder');
  }
}

function shapeOf(file: string, tensors: Tensors, name: string, pattern: string, ok: (s: number[]) => boolean): number[] {
  const s = (tensors.get(name) as { shape: number[] }).shape;
  if (!ok(s)) throw new ConvertError(`${file}: shape mismatch: ${name} is ${showShape(s)}, expected ${pattern}`, 'E_SHAPE_MISMATCH', 'pass an unmodified reference checkpoint');
  return s;
}

const rank = (r: number) => (s: number[]) => s.length === r && s.every((d) => d > 0);
const isPlif = (names: Iterable<string>) => [...names].some((n) => /_lif\d?\.w$/.test(n));

function readoutSteps(file: string, tensors: Tensors): number {
  return shapeOf(file, tensors, 'weights_tensor', '[1, T, 1]', (s) => s.length === 3 && s[0] === 1 && s[2] === 1 && s[1] > 0)[1];
}

export function inferImage(file: string, tensors: Tensors): InferredImage {
  need(file, tensors, ['patch_embed.block0_conv.weight', 'patch_embed.block4_conv.weight', 'weights_tensor', 'proj.weight'], 'infer the image encoder architecture');
  const d = shapeOf(file, tensors, 'patch_embed.block4_conv.weight', '[D, D, 3, 3]', (s) => rank(4)(s) && s[0] === s[1] && s[2] === 3 && s[3] === 3)[0];
  if (d % 8 !== 0) throw new ConvertError(`${file}: embedding dimension ${d} (from patch_embed.block4_conv.weight) is not a multiple of 8`, 'E_SHAPE_MISMATCH');
  const c0 = shapeOf(file, tensors, 'patch_embed.block0_conv.weight', `[${d / 8}, C, 3, 3]`, (s) => rank(4)(s) && s[0] === d / 8 && s[2] === 3 && s[3] === 3);
  const proj = shapeOf(file, tensors, 'proj.weight', `[E, ${d}]`, (s) => rank(2)(s) && s[1] === d);
  const indices = new Set<number>();
  for (const n of tensors.keys()) {
    const m = /^block\.(\d+)\./.exec(n);
    if (m) indices.add(Number(m[1]));
  }
  let depth = 0;
  for (const i of indices) depth = Math.max(depth, i + 1);
  let mlpRatio = 4;
  if (depth > 0) {
    need(file, tensors, ['block.0.mlp.mlp1_conv.weight'], 'infer the MLP ratio');
    const h = shapeOf(file, tensors, 'block.0.mlp.mlp1_conv.weight', `[H, ${d}, 1, 1]`, (s) => rank(4)(s) && s[1] === d && s[2] === 1 && s[3] === 1)[0];
    mlpRatio = h / d;
  }
  return { embedDim: d, depth, mlpRatio, timeSteps: readoutSteps(file, tensors), inChannels: c0[1], outputDim: proj[0], plif: isPlif(tensors.keys()) };
}

export function inferText(file: string, tensors: Tensors): InferredText {
  const tok = 'clip_embedding.token_embedding.weight';
  const pos = 'clip_embedding.position_embedding.weight';
  need(file, tensors, [tok, pos, 'fc1.weight', 'fc2.weight', 'weights_tensor'], 'infer the text encoder architecture');
  const [vocabSize, width] = shapeOf(file, tensors, tok, '[vocabulary, width]', rank(2));
  const maxPositions = shapeOf(file, tensors, pos, `[positions, ${width}]`, (s) => rank(2)(s) && s[1] === width)[0];
  const [hidden, inF] = shapeOf(file, tensors, 'fc1.weight', `[hidden, context x ${width}]`, (s) => rank(2)(s) && s[1] % width === 0);
  const contextLength = inF / width;
  if (contextLength > maxPositions) {
    throw new ConvertError(`${file}: fc1.weight takes ${contextLength} tokens of width ${width}, more than the ${maxPositions} position-embedding rows`, 'E_SHAPE_MISMATCH');
  }
  const outputDim = shapeOf(file, tensors, 'fc2.weight', `[E, ${hidden}]`, (s) => rank(2)(s) && s[1] === hidden)[0];
  return { contextLength, vocabSize, width, maxPositions, hidden, outputDim, timeSteps: readoutSteps(file, tensors), plif: isPlif(tensors.keys()) };
}

// ------------------------------------------------------------------------------------------------
// comparison with a given architecture

const IMAGE_FIELDS = ['embedDim', 'depth', 'mlpRatio', 'timeSteps', 'inChannels', 'outputDim'] as const;
const TEXT_FIELDS = ['contextLength', 'vocabSize', 'width', 'maxPositions', 'hidden', 'outputDim', 'timeSteps'] as const;

/** Differences between what the file implies and an architecture: "embedDim 64 in the file, 384 in X". */
export function archDifferences(part: EncoderPart, inferred: InferredImage | InferredText, arch: ImageEncoderConfig | TextEncoderConfig): string[] {
  const fields: readonly string[] = part === 'image' ? IMAGE_FIELDS : TEXT_FIELDS;
  const out: string[] = [];
  const a = arch as unknown as Record<string, unknown>;
  const f = inferred as unknown as Record<string, unknown>;
  for (const k of fields) if (a[k] !== f[k]) out.push(`${part}.${k} ${String(f[k])} in the file, ${String(a[k])} in the architecture`);
  const archPlif = (arch.neuron?.kind ?? 'lif') === 'plif';
  if (archPlif !== inferred.plif) out.push(`${part} neurons ${inferred.plif ? 'PLIF' : 'LIF/IF'} in the file, ${archPlif ? 'PLIF' : 'LIF/IF'} in the architecture`);
  return out;
}

// ------------------------------------------------------------------------------------------------
// full tensor check

/** The reference (PyTorch-layout) shape of one of our tensors. */
export function torchShape(name: string, ours: number[], part: EncoderPart): number[] {
  switch (layoutOf(name, part)) {
    case 'conv3x3':
      return [ours[3], ours[2], ours[0], ours[1]];
    case 'conv1d':
      return [ours[1], ours[0], 1];
    case 'conv1x1':
      return [ours[1], ours[0], 1, 1];
    case 'linear':
      return [ours[1], ours[0]];
    case 'readout':
      return [1, ours[0], 1];
    default:
      return ours.slice();
  }
}

/** Every tensor of a part in the reference state dict (our buffers included), name -> PyTorch shape. */
export function expectedTorchTensors(part: EncoderPart, cfg: ImageEncoderConfig | TextEncoderConfig): Map<string, number[]> {
  const specs = part === 'image' ? imageEncoderTensors(cfg as ImageEncoderConfig) : textEncoderTensors(cfg as TextEncoderConfig);
  return new Map(specs.map((s) => [s.name, torchShape(s.name, s.shape, part)]));
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64', 'F8_E4M3', 'F8_E5M2']);

export interface PartCheck {
  /** Tensors skipped on import (num_batches_tracked, position_ids). */
  ignored: string[];
}

/** Checks a state dict against the tensors an architecture needs; throws one ConvertError naming the problems. */
export function checkPartTensors(file: string, part: EncoderPart, cfg: ImageEncoderConfig | TextEncoderConfig, tensors: ReadonlyMap<string, SafeTensor>): PartCheck {
  const expected = expectedTorchTensors(part, cfg);
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  const ignored: string[] = [];
  const unexpected: string[] = [];
  const shapes: string[] = [];
  const dtypes: string[] = [];
  for (const [name, t] of tensors) {
    const want = expected.get(name);
    if (want === undefined) {
      if (isIgnored(name, expected)) ignored.push(name);
      else unexpected.push(name);
      continue;
    }
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) shapes.push(`${name} is ${showShape(t.shape)}, expected ${showShape(want)}`);
    if (!FLOAT_DTYPES.has(t.dtype)) dtypes.push(`${name} (${t.dtype})`);
  }
  const what = `${part === 'image' ? 'an' : 'a'} ${PART_NAMES[part]} (${describePart(part, cfg)})`;
  const problems: string[] = [];
  let code: 'E_MISSING_TENSORS' | 'E_SHAPE_MISMATCH' | 'E_UNEXPECTED_TENSORS' | 'E_DTYPE' | undefined;
  if (missing.length > 0) {
    problems.push(`missing tensor${missing.length > 1 ? 's' : ''} ${listNames(missing)}`);
    code ??= 'E_MISSING_TENSORS';
  }
  if (shapes.length > 0) {
    problems.push(`shape mismatch${shapes.length > 1 ? 'es' : ''}: ${listNames(shapes, 3)}`);
    code ??= 'E_SHAPE_MISMATCH';
  }
  if (unexpected.length > 0) {
    problems.push(`unexpected tensor${unexpected.length > 1 ? 's' : ''} ${listNames(unexpected)}`);
    code ??= 'E_UNEXPECTED_TENSORS';
  }
  if (dtypes.length > 0) {
    problems.push(`not floating point: ${listNames(dtypes)}`);
    code ??= 'E_DTYPE';
  }
  if (code !== undefined) {
    throw new ConvertError(`${file} does not match ${what}: ${problems.join('; ')}`, code, 'pass an unmodified reference checkpoint, or give the architecture it was trained with (--arch, --heads)');
  }
  return { ignored };
}

export function describePart(part: EncoderPart, cfg: ImageEncoderConfig | TextEncoderConfig): string {
  if (part === 'image') {
    const c = cfg as ImageEncoderConfig;
    return `D ${c.embedDim}, depth ${c.depth}, MLP ratio ${c.mlpRatio}, T ${c.timeSteps}, output ${c.outputDim}${c.neuron.kind === 'plif' ? ', PLIF' : ''}`;
  }
  const c = cfg as TextEncoderConfig;
  return `vocabulary ${c.vocabSize}, width ${c.width}, ${c.contextLength} tokens, hidden ${c.hidden}, T ${c.timeSteps}, output ${c.outputDim}${c.neuron.kind === 'plif' ? ', PLIF' : ''}`;
}

/** The config of one part of a whole architecture. */
export function partConfig(cfg: SpikeClipConfig, part: EncoderPart): ImageEncoderConfig | TextEncoderConfig {
  return part === 'image' ? cfg.image : cfg.text;
}
