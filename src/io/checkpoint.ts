/**
 * spikeclip checkpoints: a directory holding
 *
 *   config.json                  pretty JSON: {format, formatVersion, kind, ...free-form fields}
 *   model.safetensors            the weights (F32), metadata {"spikeclip_format_version": "1"}
 *   tokenizer/                   optional: tokenizer files, copied verbatim
 *   training_state.safetensors   optional: tensors needed to resume (optimiser moments, ...)
 *   training_state.json          optional: the rest of the resume state (step, epoch, rng, ...)
 *
 * A checkpoint is always written as a whole with writeDirAtomic, so a crash while saving
 * never damages the checkpoint that was there before. See docs/checkpoint-format.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { BadInputError } from '../errors';
import { writeDirAtomic } from './atomic';
import { oneLine } from './one-line';
import { readFileBounded, readSettingsText, requireRegularFile, MAX_SETTINGS_FILE_BYTES } from './bounded-read';
import {
  SafeTensor,
  SafeTensorCollection,
  readSafetensorsFile,
  serializeSafetensors,
} from './safetensors';

export const CHECKPOINT_FORMAT = 'spikeclip-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizerDir: 'tokenizer',
  trainingTensors: 'training_state.safetensors',
  trainingInfo: 'training_state.json',
} as const;

/** Metadata stored in model.safetensors and training_state.safetensors. */
export const CHECKPOINT_SAFETENSORS_METADATA: Readonly<Record<string, string>> = {
  spikeclip_format_version: String(CHECKPOINT_FORMAT_VERSION),
};

/** What a checkpoint holds. Known kinds are listed; other strings are allowed. */
export type CheckpointKind = 'student' | 'teacher' | 'ann' | (string & Record<never, never>);

/** The content of config.json as read back. */
export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  kind: CheckpointKind;
  [key: string]: unknown;
}

/** The config a caller supplies; `format` and `formatVersion` are filled in on save. */
export interface CheckpointConfigInput {
  kind: CheckpointKind;
  format?: typeof CHECKPOINT_FORMAT;
  formatVersion?: number;
  [key: string]: unknown;
}

export interface TrainingStateInput {
  tensors: SafeTensorCollection;
  /** JSON-serialisable non-tensor state: step, epoch, rng state, ... */
  info: Record<string, unknown>;
}

export interface TrainingState {
  tensors: Map<string, SafeTensor>;
  info: Record<string, unknown>;
}

export interface CheckpointContent {
  config: CheckpointConfigInput;
  weights: SafeTensorCollection;
  /** Tokenizer files by plain file name (no directories), stored under tokenizer/. */
  tokenizerFiles?: ReadonlyMap<string, Uint8Array>;
  trainingState?: TrainingStateInput;
}

export interface LoadCheckpointOptions {
  /** Load model.safetensors (default true). */
  weights?: boolean;
  /** Load training_state.* when present (default false). */
  trainingState?: boolean;
  /** Load tokenizer/ when present (default true). */
  tokenizer?: boolean;
}

export interface LoadedCheckpoint {
  /** The absolute checkpoint directory. */
  dir: string;
  config: CheckpointConfig;
  /** Present unless `weights: false` was passed. */
  weights?: Map<string, SafeTensor>;
  /** Metadata of model.safetensors (present with `weights`). */
  weightsMetadata?: Record<string, string>;
  /** Present when the checkpoint has a tokenizer/ directory (and `tokenizer` was not false). */
  tokenizerFiles?: Map<string, Uint8Array>;
  /** Present when requested and the checkpoint has training state. */
  trainingState?: TrainingState;
}

/** A problem with a checkpoint directory or with what is being saved into one. */
export class CheckpointError extends BadInputError {
  /** The checkpoint directory or file concerned. */
  readonly path: string;

  constructor(filePath: string, message: string) {
    super(oneLine(message), 'E_CHECKPOINT');
    this.name = 'CheckpointError';
    this.path = filePath;
  }
}

const TOKENIZER_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function notACheckpoint(dir: string, detail?: string): CheckpointError {
  const extra = detail ? `: ${detail}` : '';
  return new CheckpointError(dir, `not a spikeclip checkpoint: ${dir} (expected ${CHECKPOINT_FILES.config} and ${CHECKPOINT_FILES.weights})${extra}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function statOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.stat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Stable, strict JSON for files we write: non-finite numbers and non-JSON values are errors. */
function toJsonText(value: unknown, what: string, dir: string): string {
  try {
    return (
      JSON.stringify(
        value,
        (key, v: unknown) => {
          if (typeof v === 'number' && !Number.isFinite(v)) {
            throw new Error(`${key ? `"${key}"` : 'a value'} is ${v}, which JSON cannot represent`);
          }
          if (typeof v === 'bigint') throw new Error(`"${key}" is a bigint; convert it to a number or string`);
          if (typeof v === 'function' || typeof v === 'symbol') throw new Error(`"${key}" is a ${typeof v}`);
          return v;
        },
        2,
      ) + '\n'
    );
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new CheckpointError(dir, `cannot save checkpoint ${dir}: ${what} is not JSON-serialisable: ${msg}`);
  }
}

function buildConfig(input: CheckpointConfigInput, dir: string): CheckpointConfig {
  if (!isPlainObject(input)) throw new CheckpointError(dir, `cannot save checkpoint ${dir}: config must be an object`);
  const { format, formatVersion, kind, ...rest } = input;
  if (format !== undefined && format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(dir, `cannot save checkpoint ${dir}: config.format must be "${CHECKPOINT_FORMAT}" (got ${JSON.stringify(format)})`);
  }
  if (formatVersion !== undefined && formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(dir, `cannot save checkpoint ${dir}: this spikeclip writes formatVersion ${CHECKPOINT_FORMAT_VERSION} (got ${JSON.stringify(formatVersion)})`);
  }
  if (typeof kind !== 'string' || kind.length === 0) {
    throw new CheckpointError(dir, `cannot save checkpoint ${dir}: config.kind must be a non-empty string`);
  }
  return { format: CHECKPOINT_FORMAT, formatVersion: CHECKPOINT_FORMAT_VERSION, kind, ...rest };
}

/**
 * Write a checkpoint directory atomically: the complete new checkpoint is built in a sibling
 * temporary directory and swapped in; on any failure the previous checkpoint at `dir` (if
 * any) is left as it was. Parent directories are created.
 */
export async function saveCheckpoint(dir: string, content: CheckpointContent): Promise<void> {
  // Validate and serialise everything before touching the disk.
  const config = buildConfig(content.config, dir);
  const configText = toJsonText(config, 'config', dir);
  const weightBytes = serializeSafetensors(content.weights, CHECKPOINT_SAFETENSORS_METADATA);
  const tokenizer = content.tokenizerFiles;
  if (tokenizer !== undefined) {
    for (const name of tokenizer.keys()) {
      if (!TOKENIZER_FILE_NAME.test(name)) {
        throw new CheckpointError(dir, `cannot save checkpoint ${dir}: invalid tokenizer file name ${JSON.stringify(name)} (plain file names only)`);
      }
    }
  }
  let training: { tensors: Uint8Array; info: string } | undefined;
  if (content.trainingState !== undefined) {
    if (!isPlainObject(content.trainingState.info)) {
      throw new CheckpointError(dir, `cannot save checkpoint ${dir}: trainingState.info must be an object`);
    }
    training = {
      tensors: serializeSafetensors(content.trainingState.tensors, CHECKPOINT_SAFETENSORS_METADATA),
      info: toJsonText(content.trainingState.info, 'trainingState.info', dir),
    };
  }

  await writeDirAtomic(dir, async (tmp) => {
    await fs.promises.writeFile(path.join(tmp, CHECKPOINT_FILES.config), configText);
    await fs.promises.writeFile(path.join(tmp, CHECKPOINT_FILES.weights), weightBytes);
    if (tokenizer !== undefined) {
      const tokDir = path.join(tmp, CHECKPOINT_FILES.tokenizerDir);
      await fs.promises.mkdir(tokDir);
      for (const [name, bytes] of tokenizer) await fs.promises.writeFile(path.join(tokDir, name), bytes);
    }
    if (training !== undefined) {
      await fs.promises.writeFile(path.join(tmp, CHECKPOINT_FILES.trainingTensors), training.tensors);
      await fs.promises.writeFile(path.join(tmp, CHECKPOINT_FILES.trainingInfo), training.info);
    }
  });
}

/** Check the checkpoint directory exists and holds config.json. */
async function requireCheckpointDir(dir: string): Promise<void> {
  const st = await statOrUndefined(dir);
  if (st === undefined) throw new CheckpointError(dir, `checkpoint not found: ${dir}`);
  if (!st.isDirectory()) {
    const hint = dir.endsWith('.safetensors') ? '; pass the checkpoint directory, not the weights file' : '';
    throw notACheckpoint(dir, `it is a file, not a directory${hint}`);
  }
  if ((await statOrUndefined(path.join(dir, CHECKPOINT_FILES.config))) === undefined) {
    throw notACheckpoint(dir, `${CHECKPOINT_FILES.config} is missing`);
  }
}

async function readJsonFile(file: string, dir: string): Promise<unknown> {
  const text = await readSettingsText(file, (m) => new CheckpointError(dir, m));
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new CheckpointError(dir, `${file}: invalid JSON: ${msg}`);
  }
}

function validateConfig(raw: unknown, file: string, dir: string): CheckpointConfig {
  if (!isPlainObject(raw)) throw new CheckpointError(dir, `${file}: expected a JSON object`);
  if (raw.format !== CHECKPOINT_FORMAT) {
    throw notACheckpoint(dir, `${CHECKPOINT_FILES.config} has format ${JSON.stringify(raw.format)}, expected "${CHECKPOINT_FORMAT}"`);
  }
  const version = raw.formatVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new CheckpointError(dir, `${file}: formatVersion must be a positive integer (got ${JSON.stringify(version)})`);
  }
  if (version > CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(
      dir,
      `${dir} uses checkpoint formatVersion ${version}, newer than this spikeclip supports (${CHECKPOINT_FORMAT_VERSION}); upgrade spikeclip to read it`,
    );
  }
  if (typeof raw.kind !== 'string' || raw.kind.length === 0) {
    throw new CheckpointError(dir, `${file}: "kind" must be a non-empty string`);
  }
  return raw as CheckpointConfig;
}

/** Read and validate a checkpoint's config.json. */
export async function readCheckpointConfig(dir: string): Promise<CheckpointConfig> {
  await requireCheckpointDir(dir);
  const file = path.join(dir, CHECKPOINT_FILES.config);
  return validateConfig(await readJsonFile(file, dir), file, dir);
}

async function readTokenizer(dir: string): Promise<Map<string, Uint8Array> | undefined> {
  const tokDir = path.join(dir, CHECKPOINT_FILES.tokenizerDir);
  const st = await statOrUndefined(tokDir);
  if (st === undefined || !st.isDirectory()) return undefined;
  const files = new Map<string, Uint8Array>();
  const entries = await fs.promises.readdir(tokDir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.isFile()) files.set(e.name, new Uint8Array(await readFileBounded(path.join(tokDir, e.name), MAX_SETTINGS_FILE_BYTES, (m) => new CheckpointError(dir, m))));
  }
  return files;
}

async function readTrainingState(dir: string): Promise<TrainingState | undefined> {
  const tensorsFile = path.join(dir, CHECKPOINT_FILES.trainingTensors);
  const infoFile = path.join(dir, CHECKPOINT_FILES.trainingInfo);
  const [hasTensors, hasInfo] = [await statOrUndefined(tensorsFile), await statOrUndefined(infoFile)];
  if (hasTensors === undefined && hasInfo === undefined) return undefined;
  if (hasTensors === undefined || hasInfo === undefined) {
    const missing = hasTensors === undefined ? CHECKPOINT_FILES.trainingTensors : CHECKPOINT_FILES.trainingInfo;
    throw new CheckpointError(dir, `incomplete training state in ${dir}: ${missing} is missing`);
  }
  const info = await readJsonFile(infoFile, dir);
  if (!isPlainObject(info)) throw new CheckpointError(dir, `${infoFile}: expected a JSON object`);
  const { tensors } = await readSafetensorsFile(tensorsFile);
  return { tensors, info };
}

/**
 * Load a checkpoint directory. By default reads config, weights and tokenizer files; pass
 * `trainingState: true` to also load the resume state (undefined if the checkpoint has none).
 */
export async function loadCheckpoint(dir: string, opts: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const config = await readCheckpointConfig(dir);
  const result: LoadedCheckpoint = { dir: path.resolve(dir), config };
  const weightsFile = path.join(dir, CHECKPOINT_FILES.weights);
  if ((await statOrUndefined(weightsFile)) === undefined) {
    throw notACheckpoint(dir, `${CHECKPOINT_FILES.weights} is missing`);
  }
  if (opts.weights !== false) {
    const { tensors, metadata } = await readSafetensorsFile(weightsFile);
    result.weights = tensors;
    result.weightsMetadata = metadata;
  }
  if (opts.tokenizer !== false) {
    const tok = await readTokenizer(dir);
    if (tok !== undefined) result.tokenizerFiles = tok;
  }
  if (opts.trainingState === true) {
    const ts = await readTrainingState(dir);
    if (ts !== undefined) result.trainingState = ts;
  }
  return result;
}

/** True if `p` is a directory with a valid spikeclip config.json and a model.safetensors. */
export async function isCheckpointDir(p: string): Promise<boolean> {
  try {
    await readCheckpointConfig(p);
    const w = await statOrUndefined(path.join(p, CHECKPOINT_FILES.weights));
    return w !== undefined && w.isFile();
  } catch {
    return false;
  }
}

/** Full lowercase hex sha256 of the checkpoint's model.safetensors (reports show the first 12). */
export async function checkpointHash(dir: string): Promise<string> {
  const file = path.join(dir, CHECKPOINT_FILES.weights);
  const st = await statOrUndefined(file);
  if (st === undefined) {
    if ((await statOrUndefined(dir)) === undefined) throw new CheckpointError(dir, `checkpoint not found: ${dir}`);
    throw notACheckpoint(dir, `${CHECKPOINT_FILES.weights} is missing`);
  }
  // A FIFO would block the stream below for ever, /dev/zero never end it.
  await requireRegularFile(file, (m) => new CheckpointError(dir, m));
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
