/**
 * Files of the CLIP teacher: reading a Hugging Face CLIP folder, converting it into a spikeclip
 * teacher checkpoint, and loading that checkpoint (teacher + tokenizer + preprocessing).
 * (The teacher module itself, ./clip-teacher.ts, never touches files.)
 *
 * A Hugging Face folder: config.json, model.safetensors (preferred; or sharded with
 * model.safetensors.index.json) or pytorch_model.bin (or pytorch_model.bin.index.json shards),
 * vocab.json, merges.txt, and optionally preprocessor_config.json, tokenizer_config.json,
 * special_tokens_map.json.
 *
 * The teacher checkpoint (docs/convert.md): config.json {kind: "teacher", model: "clip",
 * hf_config, preprocessor_config, tokenizer, source, parameters, provenance}; model.safetensors
 * with the Hugging Face tensor names and PyTorch layouts in F32 (so `CLIPModel.load_state_dict`
 * takes it as it is); tokenizer/ with vocab.json and merges.txt (plus tokenizer_config.json and
 * special_tokens_map.json when the folder has them).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointConfig, CheckpointError, loadCheckpoint, saveCheckpoint } from '../io/checkpoint';
import { stateDictOf, readPytorchFile } from '../io/pytorch';
import { SafeTensor, readSafetensorsFile } from '../io/safetensors';
import { ClipPreprocessConfig, parseClipPreprocessConfig } from '../data/clip-preprocess';
import { tokenizerFromFiles } from '../text/tokenizer-files';
import type { ClipTokenizer } from '../text/tokenizer';
import { ClipConfig, ClipConfigError, clipTensorShapes, isIgnoredClipTensor, parseHfClipConfig } from '../models/clip-config';
import { ClipTeacher, checkHfWeights } from '../models/clip-teacher';
import { MAX_SETTINGS_FILE_BYTES, readFileBoundedSync, readSettingsTextSync } from '../io/bounded-read';

/** Files copied into the checkpoint's tokenizer/ folder (the first two are required). */
export const CLIP_TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

export interface HfClipFolder {
  dir: string;
  configJson: Record<string, unknown>;
  config: ClipConfig;
  weightsFormat: 'safetensors' | 'pytorch';
  /** The weight files, in load order (one file, or the shards of an index). */
  weightsFiles: string[];
  preprocessorJson: Record<string, unknown> | null;
  preprocess: ClipPreprocessConfig;
  tokenizerFiles: Map<string, Uint8Array>;
  tokenizer: ClipTokenizer;
  /** Things the user may want to know (defaults used, files ignored). */
  notes: string[];
}

function exists(p: string): boolean {
  return fs.existsSync(p);
}

function readJson(file: string): unknown {
  const text = readSettingsTextSync(file, (m) => new ClipConfigError(m));
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ClipConfigError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

function shardsOf(indexFile: string): string[] {
  const raw = readJson(indexFile) as { weight_map?: unknown };
  if (typeof raw !== 'object' || raw === null || typeof raw.weight_map !== 'object' || raw.weight_map === null) {
    throw new ClipConfigError(`${indexFile}: expected {"weight_map": {tensor: file}}`);
  }
  const files = [...new Set(Object.values(raw.weight_map as Record<string, unknown>))];
  for (const f of files) {
    if (typeof f !== 'string' || f.includes('/') || f.includes('\\') || f.startsWith('.')) throw new ClipConfigError(`${indexFile}: invalid shard name ${JSON.stringify(f)}`);
  }
  return (files as string[]).map((f) => path.join(path.dirname(indexFile), f));
}

/** Validates a Hugging Face CLIP folder without reading the weights (they are checked on read). */
export function openHfClipFolder(dir: string): HfClipFolder {
  if (!exists(dir)) throw new ClipConfigError(`model folder not found: ${dir}`);
  if (!fs.statSync(dir).isDirectory()) throw new ClipConfigError(`${dir} is not a folder (pass the Hugging Face model folder holding config.json)`);
  const notes: string[] = [];
  const at = (f: string): string => path.join(dir, f);
  const candidates: [HfClipFolder['weightsFormat'], string][] = [
    ['safetensors', 'model.safetensors'],
    ['safetensors', 'model.safetensors.index.json'],
    ['pytorch', 'pytorch_model.bin'],
    ['pytorch', 'pytorch_model.bin.index.json'],
  ];
  const found = candidates.find(([, f]) => exists(at(f)));
  const missing: string[] = [];
  if (!exists(at('config.json'))) missing.push('config.json');
  if (found === undefined) missing.push('model.safetensors or pytorch_model.bin');
  for (const f of ['vocab.json', 'merges.txt']) if (!exists(at(f))) missing.push(f);
  if (missing.length > 0) {
    throw new ClipConfigError(`${dir} is not a complete Hugging Face CLIP folder: missing ${missing.join(', ')}`);
  }
  const [weightsFormat, weightsName] = found as [HfClipFolder['weightsFormat'], string];
  const weightsFiles = weightsName.endsWith('.index.json') ? shardsOf(at(weightsName)) : [at(weightsName)];
  for (const f of weightsFiles) if (!exists(f)) throw new ClipConfigError(`${dir}: weight shard ${path.basename(f)} (listed in ${weightsName}) is missing`);
  if (weightsFormat === 'pytorch' && (exists(at('tf_model.h5')) || exists(at('flax_model.msgpack')))) notes.push('TensorFlow/Flax weight files are ignored');
  if (weightsFormat === 'safetensors' && exists(at('pytorch_model.bin'))) notes.push('using model.safetensors (pytorch_model.bin is ignored)');

  const configJson = readJson(at('config.json'));
  const config = parseHfClipConfig(configJson, at('config.json'));
  let preprocessorJson: Record<string, unknown> | null = null;
  if (exists(at('preprocessor_config.json'))) {
    const raw = readJson(at('preprocessor_config.json'));
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ClipConfigError(`${at('preprocessor_config.json')}: expected a JSON object`);
    preprocessorJson = raw as Record<string, unknown>;
  } else {
    notes.push(`no preprocessor_config.json: using CLIP's preprocessing at ${config.vision.imageSize}x${config.vision.imageSize}`);
  }
  const preprocess = parseClipPreprocessConfig(preprocessorJson ?? undefined, config.vision.imageSize, at('preprocessor_config.json'));
  if (preprocess.cropHeight !== config.vision.imageSize || preprocess.cropWidth !== config.vision.imageSize || !preprocess.doCenterCrop) {
    throw new ClipConfigError(`${at('preprocessor_config.json')}: crop_size ${preprocess.cropHeight}x${preprocess.cropWidth} does not match vision_config.image_size ${config.vision.imageSize}`);
  }

  const tokenizerFiles = new Map<string, Uint8Array>();
  for (const f of CLIP_TOKENIZER_FILES) if (exists(at(f))) tokenizerFiles.set(f, new Uint8Array(readFileBoundedSync(at(f), MAX_SETTINGS_FILE_BYTES, (m) => new ClipConfigError(m))));
  const tokenizer = tokenizerFromFiles(tokenizerFiles, dir);
  checkTokenizerAgainstConfig(tokenizer, config, dir);
  return { dir: path.resolve(dir), configJson: configJson as Record<string, unknown>, config, weightsFormat, weightsFiles, preprocessorJson, preprocess, tokenizerFiles, tokenizer, notes };
}

/** Refuses a tokenizer whose ids do not fit the config (vocab_size, eos_token_id). */
export function checkTokenizerAgainstConfig(tok: ClipTokenizer, c: ClipConfig, where: string): void {
  if (tok.vocabSize > c.text.vocabSize) {
    throw new ClipConfigError(`${where}: vocab.json has ids up to ${tok.vocabSize - 1} but text_config.vocab_size is ${c.text.vocabSize}`);
  }
  if (c.text.eosTokenId === 2) {
    if (tok.endId !== tok.vocabSize - 1) {
      throw new ClipConfigError(`${where}: text_config.eos_token_id 2 means pooling at the highest token id, but <|endoftext|> (${tok.endId}) is not the highest id of vocab.json`);
    }
  } else if (c.text.eosTokenId !== tok.endId) {
    throw new ClipConfigError(`${where}: text_config.eos_token_id ${c.text.eosTokenId} does not match the tokenizer's <|endoftext|> id ${tok.endId}`);
  }
}

/** Reads the folder's weights (every shard), HF names. */
export async function readHfClipWeights(folder: HfClipFolder): Promise<Map<string, SafeTensor>> {
  const all = new Map<string, SafeTensor>();
  for (const file of folder.weightsFiles) {
    let tensors: Map<string, SafeTensor>;
    if (folder.weightsFormat === 'safetensors') {
      tensors = (await readSafetensorsFile(file)).tensors;
    } else {
      const content = readPytorchFile(file);
      tensors = stateDictOf(content).tensors;
    }
    for (const [n, t] of tensors) {
      if (all.has(n)) throw new CheckpointError(file, `${file}: tensor ${n} appears in two shards`);
      all.set(n, t);
    }
  }
  return all;
}

async function sha256(files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) for await (const chunk of fs.createReadStream(f)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface ConvertTeacherResult {
  out: string;
  from: string;
  weightsFile: string;
  weightsFormat: 'safetensors' | 'pytorch';
  tensors: number;
  parameters: number;
  vision: { hiddenSize: number; layers: number; heads: number; patchSize: number; imageSize: number; hiddenAct: string };
  text: { hiddenSize: number; layers: number; heads: number; vocabSize: number; contextLength: number; hiddenAct: string };
  projectionDim: number;
  notes: string[];
}

/**
 * Converts a Hugging Face CLIP folder into a teacher checkpoint at `out`, atomically: every file
 * is validated (config, tokenizer, preprocessing, every tensor's name and shape) before anything
 * is written, and a failure leaves `out` as it was.
 */
export async function convertHfClipFolder(from: string, out: string, extra: { provenance: Record<string, unknown> }): Promise<ConvertTeacherResult> {
  const folder = openHfClipFolder(from);
  const raw = await readHfClipWeights(folder);
  const weightsLabel = folder.weightsFiles.length === 1 ? folder.weightsFiles[0] : path.join(folder.dir, folder.weightsFormat === 'safetensors' ? 'model.safetensors.index.json' : 'pytorch_model.bin.index.json');
  checkHfWeights(folder.config, raw, weightsLabel);
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  let parameters = 0;
  for (const name of clipTensorShapes(folder.config).keys()) {
    const t = raw.get(name) as SafeTensor;
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
    weights.set(name, { shape: t.shape.slice(), data });
    parameters += data.length;
  }
  const ignored = [...raw.keys()].filter(isIgnoredClipTensor);
  const notes = [...folder.notes];
  if (ignored.length > 0) notes.push(`ignored buffers: ${ignored.join(', ')}`);
  const c = folder.config;
  const config = {
    kind: 'teacher',
    model: 'clip',
    hf_config: folder.configJson,
    preprocessor_config: folder.preprocessorJson,
    tokenizer: {
      type: 'clip-bpe',
      files: [...folder.tokenizerFiles.keys()],
      context_length: c.text.maxPositions,
      start_token_id: folder.tokenizer.startId,
      end_token_id: folder.tokenizer.endId,
      pad_token_id: folder.tokenizer.endId,
    },
    source: {
      folder: folder.dir,
      weights: folder.weightsFiles.map((f) => path.basename(f)),
      format: folder.weightsFormat,
      sha256: await sha256(folder.weightsFiles),
    },
    parameters,
    provenance: extra.provenance,
  };
  await saveCheckpoint(out, { config, weights, tokenizerFiles: folder.tokenizerFiles });
  return {
    out: path.resolve(out),
    from: folder.dir,
    weightsFile: weightsLabel,
    weightsFormat: folder.weightsFormat,
    tensors: weights.size,
    parameters,
    vision: { hiddenSize: c.vision.hiddenSize, layers: c.vision.numLayers, heads: c.vision.numHeads, patchSize: c.vision.patchSize, imageSize: c.vision.imageSize, hiddenAct: c.vision.hiddenAct },
    text: { hiddenSize: c.text.hiddenSize, layers: c.text.numLayers, heads: c.text.numHeads, vocabSize: c.text.vocabSize, contextLength: c.text.maxPositions, hiddenAct: c.text.hiddenAct },
    projectionDim: c.projectionDim,
    notes,
  };
}

export interface LoadedTeacher {
  dir: string;
  teacher: ClipTeacher;
  tokenizer: ClipTokenizer;
  preprocess: ClipPreprocessConfig;
  config: ClipConfig;
  checkpointConfig: CheckpointConfig;
  /** The files of tokenizer/ (vocab.json, merges.txt, ...). */
  tokenizerFiles: Map<string, Uint8Array>;
  /** The context length texts are padded to (max_position_embeddings, 77 for CLIP). */
  contextLength: number;
}

/** Reads a teacher checkpoint's config and tokenizer (no weights): cheap checks before a long job. */
export async function readTeacherCheckpointInfo(dir: string): Promise<{ config: ClipConfig; checkpointConfig: CheckpointConfig; tokenizer: ClipTokenizer; preprocess: ClipPreprocessConfig }> {
  const ck = await loadCheckpoint(dir, { weights: false });
  return teacherParts(dir, ck.config, ck.tokenizerFiles);
}

function teacherParts(dir: string, cc: CheckpointConfig, tokFiles: Map<string, Uint8Array> | undefined) {
  if (cc.kind !== 'teacher') {
    throw new CheckpointError(dir, `${dir} is a ${cc.kind} checkpoint, but a teacher checkpoint is required here (make one with \`spikeclip convert teacher\`)`);
  }
  if (cc.model !== 'clip') throw new CheckpointError(dir, `${dir}: teacher model ${JSON.stringify(cc.model)} is not supported (expected "clip")`);
  const config = parseHfClipConfig(cc.hf_config, `${dir}/config.json hf_config`);
  if (tokFiles === undefined) throw new CheckpointError(dir, `${dir}: the teacher checkpoint has no tokenizer/ folder`);
  const tokenizer = tokenizerFromFiles(tokFiles, path.join(dir, 'tokenizer'));
  const preprocess = parseClipPreprocessConfig(cc.preprocessor_config ?? undefined, config.vision.imageSize, `${dir}/config.json preprocessor_config`);
  return { config, checkpointConfig: cc, tokenizer, preprocess };
}

/** Loads a teacher checkpoint written by {@link convertHfClipFolder} or saveTeacherCheckpoint (./save.ts). */
export async function loadTeacherCheckpoint(dir: string): Promise<LoadedTeacher> {
  const ck = await loadCheckpoint(dir);
  const parts = teacherParts(dir, ck.config, ck.tokenizerFiles);
  const teacher = ClipTeacher.fromHfWeights(parts.config, ck.weights as Map<string, SafeTensor>, path.join(dir, 'model.safetensors'));
  return { dir: ck.dir, teacher, ...parts, tokenizerFiles: ck.tokenizerFiles as Map<string, Uint8Array>, contextLength: parts.config.text.maxPositions };
}
