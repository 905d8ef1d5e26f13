/**
 * SpikeCLIP architecture as plain, JSON-serialisable data (open_clip style), with named presets
 * and a validator whose errors name the offending field and value.
 *
 * `spikeclip-b` is the reference model (docs/method.md §§3 and 4): image encoder D 384, 4
 * blocks, 8 heads, MLP ratio 4, T 4, 32x32 input; text encoder with CLIP's 49408 x 512 token
 * embedding, a 77 x 512 position embedding of which the first 20 rows are used, 10240 -> 2048
 * -> 512, T 4.
 */
import { BadInputError } from '../errors';
import { NeuronConfigError } from '../snn/surrogate';
import { validateNeuronConfig } from '../snn/neuron';
import { DEFAULT_NEURON, type NeuronConfig } from '../snn/neuron-config';

export interface ImageEncoderConfig {
  /** Embedding dimension D (the tokenizer's channels are D/8, D/4, D/2, D, D). */
  embedDim: number;
  /** Number of spiking transformer blocks. */
  depth: number;
  heads: number;
  /** MLP hidden size = embedDim * mlpRatio (must be an integer). */
  mlpRatio: number;
  /** Time steps T (the image is fed at every step). */
  timeSteps: number;
  /** Input height = width (must be divisible by 4: two stride-2 max-pools). */
  imageSize: number;
  inChannels: number;
  /** Width of the projected embedding (CLIP's 512). */
  outputDim: number;
  neuron: NeuronConfig;
  /** Threshold of the LIF after the attention product (0.5). */
  attnThreshold: number;
  /** Multiplier of (Q K^T) V (0.125). */
  attnScale: number;
}

export interface TextEncoderConfig {
  /** Tokens per prompt (20); the encoder flattens contextLength * width values. */
  contextLength: number;
  /** Token embedding rows (CLIP's 49408). */
  vocabSize: number;
  /** Token embedding width (CLIP's 512). */
  width: number;
  /** Position embedding rows kept (CLIP's 77; only the first contextLength are used). */
  maxPositions: number;
  /** Hidden width of the spiking MLP (2048). */
  hidden: number;
  outputDim: number;
  timeSteps: number;
  neuron: NeuronConfig;
}

export interface SpikeClipConfig {
  image: ImageEncoderConfig;
  text: TextEncoderConfig;
}

export class ConfigError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_CONFIG');
    this.name = 'ConfigError';
  }
}

const neuron = (): NeuronConfig => ({ ...DEFAULT_NEURON, surrogate: { ...DEFAULT_NEURON.surrogate } });

const PRESETS: Record<string, () => SpikeClipConfig> = {
  'spikeclip-b': () => ({
    image: { embedDim: 384, depth: 4, heads: 8, mlpRatio: 4, timeSteps: 4, imageSize: 32, inChannels: 3, outputDim: 512, neuron: neuron(), attnThreshold: 0.5, attnScale: 0.125 },
    text: { contextLength: 20, vocabSize: 49408, width: 512, maxPositions: 77, hidden: 2048, outputDim: 512, timeSteps: 4, neuron: neuron() },
  }),
  // For tests, CI and the demo. The text side keeps CLIP's vocabulary and width (it must take
  // the teacher's 49408 x 512 embeddings) and shrinks the hidden layer and T.
  'spikeclip-tiny': () => ({
    image: { embedDim: 64, depth: 1, heads: 4, mlpRatio: 4, timeSteps: 2, imageSize: 32, inChannels: 3, outputDim: 512, neuron: neuron(), attnThreshold: 0.5, attnScale: 0.125 },
    text: { contextLength: 20, vocabSize: 49408, width: 512, maxPositions: 77, hidden: 256, outputDim: 512, timeSteps: 2, neuron: neuron() },
  }),
};

export const PRESET_NAMES: readonly string[] = Object.freeze(Object.keys(PRESETS));

/** A fresh copy of a named preset. */
export function getPreset(name: string): SpikeClipConfig {
  const make = PRESETS[name];
  if (!make) throw new ConfigError(`unknown model preset "${name}"; choose one of ${PRESET_NAMES.join(', ')}`);
  return make();
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${where}: expected an object, got ${show(v)}`);
  return v as Record<string, unknown>;
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new ConfigError(`${where}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed.join(', ')})`);
}

/**
 * Upper bounds of the size fields (docs/checkpoint-format.md). They are far above any model this
 * implementation can train or run, and low enough that a config read from a file can never make
 * us allocate or loop without end before the weights are checked against it.
 */
export const CONFIG_LIMITS = Object.freeze({
  image: { embedDim: 8192, depth: 64, heads: 1024, mlpRatio: 16, timeSteps: 64, imageSize: 1024, inChannels: 64, outputDim: 8192 },
  text: { contextLength: 1024, vocabSize: 1_000_000, width: 8192, maxPositions: 4096, hidden: 65536, outputDim: 8192, timeSteps: 64 },
  /** Trainable scalars of both encoders together (2^28 F32 = 1 GiB). */
  parameters: 2 ** 28,
  /** Elements of the largest activation of one sample (attention scores, first tokenizer stage). */
  activationsPerSample: 2 ** 30,
});

function int(o: Record<string, unknown>, key: string, where: string, min = 1, fallback?: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key] ?? fallback;
  const range = max < Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : `an integer >= ${min}`;
  if (v === undefined) throw new ConfigError(`${where}.${key}: missing (${range})`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${where}.${key}: must be an integer >= ${min}, got ${show(v)}`);
  if (v > max) throw new ConfigError(`${where}.${key}: ${v} is beyond the limit ${max} (${range}); the file is damaged or not meant for spikeclip`);
  return v;
}

function num(o: Record<string, unknown>, key: string, where: string, fallback?: number, positive = false): number {
  const v = o[key] ?? fallback;
  if (v === undefined) throw new ConfigError(`${where}.${key}: missing (a number)`);
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0)) throw new ConfigError(`${where}.${key}: must be a finite${positive ? ' positive' : ''} number, got ${show(v)}`);
  return v;
}

function neuronOf(v: unknown, where: string): NeuronConfig {
  try {
    return validateNeuronConfig(v, where);
  } catch (e) {
    if (e instanceof NeuronConfigError) throw new ConfigError(e.message);
    throw e;
  }
}

const IMAGE_KEYS = ['embedDim', 'depth', 'heads', 'mlpRatio', 'timeSteps', 'imageSize', 'inChannels', 'outputDim', 'neuron', 'attnThreshold', 'attnScale'] as const;
const TEXT_KEYS = ['contextLength', 'vocabSize', 'width', 'maxPositions', 'hidden', 'outputDim', 'timeSteps', 'neuron'] as const;

export function validateImageConfig(raw: unknown, where = 'image'): ImageEncoderConfig {
  const o = record(raw, where);
  checkKeys(o, IMAGE_KEYS, where);
  const L = CONFIG_LIMITS.image;
  const embedDim = int(o, 'embedDim', where, 8, undefined, L.embedDim);
  if (embedDim % 8 !== 0) throw new ConfigError(`${where}.embedDim: must be a multiple of 8 (the tokenizer's first stage has embedDim/8 channels), got ${embedDim}`);
  const heads = int(o, 'heads', where, 1, undefined, L.heads);
  if (embedDim % heads !== 0) throw new ConfigError(`${where}.heads: ${heads} heads do not divide embedDim ${embedDim}`);
  const mlpRatio = num(o, 'mlpRatio', where, undefined, true);
  if (mlpRatio > L.mlpRatio) throw new ConfigError(`${where}.mlpRatio: ${mlpRatio} is beyond the limit ${L.mlpRatio}; the file is damaged or not meant for spikeclip`);
  if (!Number.isInteger(embedDim * mlpRatio)) throw new ConfigError(`${where}.mlpRatio: embedDim * mlpRatio must be an integer, got ${embedDim} * ${mlpRatio}`);
  const imageSize = int(o, 'imageSize', where, 4, undefined, L.imageSize);
  if (imageSize % 4 !== 0) throw new ConfigError(`${where}.imageSize: must be divisible by 4 (two stride-2 max-pools), got ${imageSize}`);
  return {
    embedDim,
    depth: int(o, 'depth', where, 0, undefined, L.depth),
    heads,
    mlpRatio,
    timeSteps: int(o, 'timeSteps', where, 1, undefined, L.timeSteps),
    imageSize,
    inChannels: int(o, 'inChannels', where, 1, 3, L.inChannels),
    outputDim: int(o, 'outputDim', where, 1, 512, L.outputDim),
    neuron: neuronOf(o.neuron, `${where}.neuron`),
    attnThreshold: num(o, 'attnThreshold', where, 0.5),
    attnScale: num(o, 'attnScale', where, 0.125),
  };
}

export function validateTextConfig(raw: unknown, where = 'text'): TextEncoderConfig {
  const o = record(raw, where);
  checkKeys(o, TEXT_KEYS, where);
  const L = CONFIG_LIMITS.text;
  const contextLength = int(o, 'contextLength', where, 1, undefined, L.contextLength);
  const maxPositions = int(o, 'maxPositions', where, 1, 77, L.maxPositions);
  if (contextLength > maxPositions) throw new ConfigError(`${where}.contextLength: ${contextLength} exceeds maxPositions ${maxPositions}`);
  return {
    contextLength,
    vocabSize: int(o, 'vocabSize', where, 1, undefined, L.vocabSize),
    width: int(o, 'width', where, 1, undefined, L.width),
    maxPositions,
    hidden: int(o, 'hidden', where, 1, undefined, L.hidden),
    outputDim: int(o, 'outputDim', where, 1, 512, L.outputDim),
    timeSteps: int(o, 'timeSteps', where, 1, undefined, L.timeSteps),
    neuron: neuronOf(o.neuron, `${where}.neuron`),
  };
}

/**
 * Checks a config read from JSON and returns a normalised copy (neuron settings completed with
 * their defaults; `attnThreshold`, `attnScale`, `inChannels`, `outputDim` and `maxPositions`
 * may be omitted). Every error names the field and the value.
 */
export function validateConfig(raw: unknown, where = 'config'): SpikeClipConfig {
  const o = record(raw, where);
  checkKeys(o, ['image', 'text'], where);
  const image = validateImageConfig(o.image, where === '' ? 'image' : `${where}.image`);
  const text = validateTextConfig(o.text, where === '' ? 'text' : `${where}.text`);
  if (image.outputDim !== text.outputDim) throw new ConfigError(`${where}: image.outputDim ${image.outputDim} and text.outputDim ${text.outputDim} must match (one shared embedding space)`);
  checkBudget({ image, text }, where);
  return { image, text };
}

/**
 * Trainable scalars of a config, from closed formulas (nothing allocated; the neurons' own
 * parameters, a handful of scalars, are left out). Matches describeArchitecture's count up to those.
 */
export function countConfigParameters(c: SpikeClipConfig): { image: number; text: number } {
  const i = c.image;
  const d = i.embedDim;
  const ch = [i.inChannels, d / 8, d / 4, d / 2, d, d];
  let tokenizer = 0;
  for (let k = 0; k < 5; k++) tokenizer += 9 * ch[k] * ch[k + 1] + 2 * ch[k + 1];
  const hidden = d * i.mlpRatio;
  const block = 3 * (d * d + 2 * d) + (d * d + d + 2 * d) + (d * hidden + hidden + 2 * hidden) + (hidden * d + d + 2 * d);
  const image = i.timeSteps + tokenizer + i.depth * block + d * i.outputDim + i.outputDim;
  const t = c.text;
  const text = t.timeSteps + t.contextLength * t.width * t.hidden + t.hidden + t.hidden * t.outputDim + t.outputDim + t.vocabSize * t.width + t.maxPositions * t.width;
  return { image, text };
}

/** The sizes checked against each other: the whole model and one sample's largest activations. */
function checkBudget(c: SpikeClipConfig, where: string): void {
  const p = countConfigParameters(c);
  const total = p.image + p.text;
  if (total > CONFIG_LIMITS.parameters) {
    throw new ConfigError(
      `${where}: the architecture has ${total.toLocaleString('en-US')} parameters (image ${p.image.toLocaleString('en-US')}, text ${p.text.toLocaleString('en-US')}), beyond the limit of ${CONFIG_LIMITS.parameters.toLocaleString('en-US')}; the file is damaged or not meant for spikeclip`,
    );
  }
  const i = c.image;
  const tokens = (i.imageSize / 4) ** 2;
  const attention = i.timeSteps * i.heads * tokens * tokens;
  const firstStage = i.timeSteps * i.imageSize * i.imageSize * (i.embedDim / 8);
  const largest = Math.max(attention, firstStage);
  if (largest > CONFIG_LIMITS.activationsPerSample) {
    const what = attention >= firstStage ? `attention scores timeSteps * heads * ${tokens}^2 tokens` : 'the first tokenizer stage timeSteps * imageSize^2 * embedDim/8';
    throw new ConfigError(
      `${where}.image: one sample would need ${largest.toLocaleString('en-US')} activations (${what}), beyond the limit of ${CONFIG_LIMITS.activationsPerSample.toLocaleString('en-US')}; lower imageSize, heads or timeSteps`,
    );
  }
}
