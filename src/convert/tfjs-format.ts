/**
 * The TF.js model folder written by `spikeclip convert export --format tfjs`, and how to load it.
 * No file system here: this module runs in a browser as well as in Node.
 *
 *   model.json               {format: 'spikeclip-tfjs', generatedBy, convertedBy,
 *                             modelTopology: <the SpikeClipConfig>,
 *                             weightsManifest: [{paths: ['group1-shard1of2.bin', ...],
 *                                                weights: [{name, shape, dtype: 'float32'}, ...]}],
 *                             userDefinedMetadata: {spikeclip: {formatVersion, kind, parts, ...}}}
 *   group1-shard{i}of{n}.bin the float32 little-endian bytes of every weight, in manifest order,
 *                            concatenated and cut into shards of at most 4 MiB (as tfjs-converter
 *                            does; a weight may span two shards)
 *   tokenizer/               vocab.json, merges.txt when the checkpoint has them
 *
 * Weight names are our checkpoint names (`image.patch_embed.block0_conv.weight`, `text.fc1.weight`)
 * with our layouts (HWIO convolutions, Linear weights [in, out]), so `SpikeClip.loadStateDict`
 * takes them as they are. The weights manifest is TF.js's own format: `tf.io.loadWeights(
 * manifest, baseUrl)` and `tf.io.decodeWeights(buffer, specs)` read it.
 */
import { BadInputError } from '../errors';
import * as tf from '../tf';
import { validateConfig, type SpikeClipConfig } from '../models/config';
import { SpikeClip } from '../models/spikeclip';
import type { TensorData } from '../snn/module';

export const TFJS_FORMAT = 'spikeclip-tfjs';
export const TFJS_FORMAT_VERSION = 1;
/** tfjs-converter's default shard size (--weight_shard_size_bytes). */
export const TFJS_SHARD_BYTES = 4 * 1024 * 1024;

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

export interface TfjsManifestGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface SpikeclipTfjsMetadata {
  formatVersion: number;
  kind: 'student';
  /** The encoders whose weights the folder holds. */
  parts: ('image' | 'text')[];
  /** sha256 of the checkpoint's model.safetensors. */
  checkpointSha256?: string;
  /** Parts the checkpoint imported from reference files, when it was made by `convert import`. */
  imported?: string[];
  /** Files under tokenizer/ (CLIP BPE), when present. */
  tokenizer?: string[];
}

export interface SpikeclipTfjsModelJson {
  format: typeof TFJS_FORMAT;
  generatedBy: string;
  convertedBy: string;
  modelTopology: SpikeClipConfig;
  weightsManifest: TfjsManifestGroup[];
  userDefinedMetadata: { spikeclip: SpikeclipTfjsMetadata };
}

/** Shard file names as tfjs-converter writes them: group1-shard1of3.bin, ... */
export function shardNames(count: number, group = 1): string[] {
  return Array.from({ length: count }, (_, i) => `group${group}-shard${i + 1}of${count}.bin`);
}

/**
 * The model.json content and shard bytes for named float32 tensors (in the given order).
 * Shards are cut every `shardBytes` bytes of the concatenated weights.
 */
export function buildTfjsModel(
  architecture: SpikeClipConfig,
  tensors: ReadonlyArray<[string, TensorData]>,
  meta: Omit<SpikeclipTfjsMetadata, 'formatVersion' | 'kind'>,
  opts: { shardBytes?: number; generatedBy?: string } = {},
): { modelJson: SpikeclipTfjsModelJson; shards: Uint8Array[] } {
  const shardBytes = opts.shardBytes ?? TFJS_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 4 || shardBytes % 4 !== 0) throw new Error(`shard size must be a positive multiple of 4 bytes, got ${shardBytes}`);
  const total = tensors.reduce((s, [, t]) => s + t.data.length * 4, 0);
  const all = new Uint8Array(total);
  const weights: TfjsWeightSpec[] = [];
  let off = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`${name}: shape [${t.shape.join(', ')}] does not match ${t.data.length} values`);
    const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    all.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), off);
    off += f.byteLength;
    weights.push({ name, shape: t.shape.slice(), dtype: 'float32' });
  }
  const count = Math.max(1, Math.ceil(total / shardBytes));
  const shards: Uint8Array[] = [];
  for (let i = 0; i < count; i++) shards.push(all.subarray(i * shardBytes, Math.min(total, (i + 1) * shardBytes)));
  const modelJson: SpikeclipTfjsModelJson = {
    format: TFJS_FORMAT,
    generatedBy: opts.generatedBy ?? 'spikeclip',
    convertedBy: 'spikeclip convert export --format tfjs',
    modelTopology: architecture,
    weightsManifest: [{ paths: shardNames(count), weights }],
    userDefinedMetadata: { spikeclip: { formatVersion: TFJS_FORMAT_VERSION, kind: 'student', ...meta } },
  };
  return { modelJson, shards };
}

export class TfjsModelError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_TFJS_MODEL');
    this.name = 'TfjsModelError';
  }
}

/** Checks a parsed model.json and returns it typed. */
export function parseTfjsModelJson(raw: unknown, source = 'model.json'): SpikeclipTfjsModelJson {
  if (typeof raw !== 'object' || raw === null) throw new TfjsModelError(`${source}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  if (o.format !== TFJS_FORMAT) throw new TfjsModelError(`${source}: format is ${JSON.stringify(o.format)}, expected "${TFJS_FORMAT}" (a folder written by spikeclip convert export --format tfjs)`);
  if (!Array.isArray(o.weightsManifest)) throw new TfjsModelError(`${source}: weightsManifest is missing`);
  const meta = (o.userDefinedMetadata as { spikeclip?: SpikeclipTfjsMetadata } | undefined)?.spikeclip;
  if (meta !== undefined && meta.formatVersion > TFJS_FORMAT_VERSION) {
    throw new TfjsModelError(`${source}: formatVersion ${meta.formatVersion} is newer than this code understands (${TFJS_FORMAT_VERSION})`);
  }
  return raw as SpikeclipTfjsModelJson;
}

/**
 * Rebuilds the student from model.json and its decoded weights (what tf.io.loadWeights or
 * tf.io.decodeWeights return). Parts without weights in the folder keep a fresh initialisation
 * (seeded by `seed`); the parts that are there must be complete. The weight tensors are disposed.
 */
export function spikeClipFromTfjs(modelJson: SpikeclipTfjsModelJson, weights: tf.NamedTensorMap, opts: { seed?: number } = {}): SpikeClip {
  const config = validateConfig(modelJson.modelTopology, 'model.json modelTopology');
  const state = new Map<string, TensorData>();
  for (const [name, t] of Object.entries(weights)) {
    state.set(name, { shape: t.shape.slice(), data: t.dataSync() as Float32Array });
    t.dispose();
  }
  const parts = modelJson.userDefinedMetadata?.spikeclip?.parts ?? (['image', 'text'] as const);
  const model = new SpikeClip(config, { seed: opts.seed ?? 0 });
  try {
    for (const part of parts) model[part].loadStateDict(state, { strict: true, prefix: `${part}.` });
    const unknown = [...state.keys()].filter((n) => !parts.some((p) => n.startsWith(`${p}.`)));
    if (unknown.length > 0) throw new TfjsModelError(`model.json: unexpected weights ${unknown.slice(0, 5).join(', ')}`);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Browser (or any fetch-capable runtime): loads `.../model.json` and its shards and rebuilds the
 * student with spikeclip's own model code.
 *
 *   const model = await loadSpikeClipFromUrl('/models/student/model.json');
 *   const emb = model.encodeImage(images);   // [B, 32, 32, 3] CLIP-normalised -> [B, 512]
 */
export async function loadSpikeClipFromUrl(modelJsonUrl: string, opts: { requestInit?: RequestInit; seed?: number } = {}): Promise<{ model: SpikeClip; modelJson: SpikeclipTfjsModelJson }> {
  const res = await tf.env().platform.fetch(modelJsonUrl, opts.requestInit);
  if (!res.ok) throw new TfjsModelError(`${modelJsonUrl}: HTTP ${res.status}`);
  const modelJson = parseTfjsModelJson(await res.json(), modelJsonUrl);
  const base = modelJsonUrl.slice(0, modelJsonUrl.lastIndexOf('/') + 1);
  const weights = await tf.io.loadWeights(modelJson.weightsManifest, base, undefined, opts.requestInit);
  return { model: spikeClipFromTfjs(modelJson, weights, { seed: opts.seed }), modelJson };
}
