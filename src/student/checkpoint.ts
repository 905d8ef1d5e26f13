/**
 * Student checkpoints: a SpikeClip model <-> a checkpoint directory. The architecture goes into
 * config.json under `architecture` (so `inspect` and every later stage can rebuild the model
 * without guessing), the weights under the model's own tensor names (`image.*`, `text.*`),
 * optional tokenizer files and training state (optimiser moments, step, epoch, RNG state).
 */
import * as path from 'path';
import { CHECKPOINT_FILES, CheckpointError, loadCheckpoint, readCheckpointConfig, saveCheckpoint } from '../io/checkpoint';
import { readSafetensorsHeader } from '../io/safetensors';
import { imageEncoderTensors, textEncoderTensors } from '../models/describe';
import { tensorToFloat32, type SafeTensor, type SafeTensorCollection } from '../io/safetensors';
import { validateConfig, type SpikeClipConfig } from '../models/config';
import { SpikeClip } from '../models/spikeclip';
import { describeWeightMismatch } from '../models/check-weights';
import type { TensorData } from '../snn/module';
import type { Provenance } from '../io/provenance';

export interface StudentTrainingState {
  tensors: Map<string, TensorData>;
  info: Record<string, unknown>;
}

export interface SaveStudentOptions {
  provenance?: Provenance | Record<string, unknown>;
  /** Extra config fields (e.g. `preset`, `stage`). */
  extra?: Record<string, unknown>;
  tokenizerFiles?: ReadonlyMap<string, Uint8Array>;
  trainingState?: StudentTrainingState;
}

export async function saveStudentCheckpoint(dir: string, model: SpikeClip, opts: SaveStudentOptions = {}): Promise<void> {
  const weights: SafeTensorCollection = new Map([...model.stateDict()].map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
  await saveCheckpoint(dir, {
    config: {
      kind: 'student',
      architecture: model.config as unknown as Record<string, unknown>,
      ...(opts.extra ?? {}),
      ...(opts.provenance ? { provenance: opts.provenance as Record<string, unknown> } : {}),
    },
    weights,
    tokenizerFiles: opts.tokenizerFiles,
    trainingState: opts.trainingState
      ? { tensors: new Map([...opts.trainingState.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }])), info: opts.trainingState.info }
      : undefined,
  });
}

export interface LoadedStudent {
  model: SpikeClip;
  config: SpikeClipConfig;
  /** The whole config.json. */
  raw: Record<string, unknown>;
  tokenizerFiles?: Map<string, Uint8Array>;
  trainingState?: StudentTrainingState;
}

export function toTensorData(m: Map<string, SafeTensor>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [n, t] of m) out.set(n, { shape: t.shape, data: tensorToFloat32(t) });
  return out;
}

/** Rebuilds the student from a checkpoint; every tensor must be present with the right shape. */
export async function loadStudentCheckpoint(dir: string, opts: { trainingState?: boolean } = {}): Promise<LoadedStudent> {
  const ck = await loadCheckpoint(dir, { trainingState: opts.trainingState ?? false });
  if (ck.config.kind !== 'student') {
    throw new CheckpointError(dir, `${dir}: is a ${String(ck.config.kind)} checkpoint; a student (spiking) checkpoint is needed here`);
  }
  if (ck.config.architecture === undefined) {
    throw new CheckpointError(dir, `${dir}/config.json: student checkpoint without an "architecture" entry`);
  }
  const config = validateConfig(ck.config.architecture, `${dir}/config.json: architecture`);
  // Shapes first: a config that does not fit its weights is refused before anything is allocated.
  const mismatch = describeWeightMismatch(config, ck.weights ?? new Map());
  if (mismatch !== undefined) throw new CheckpointError(dir, `${dir}/model.safetensors does not match its architecture: ${mismatch}`);
  const model = new SpikeClip(config, { seed: 0 });
  try {
    // num_batches_tracked and other foreign extras are not ours: strict on our names only.
    const weights = toTensorData(ck.weights ?? new Map());
    model.loadStateDict(weights, { strict: true });
  } catch (e) {
    model.dispose();
    const msg = e instanceof Error ? e.message : String(e);
    throw new CheckpointError(dir, `${dir}/model.safetensors does not match its architecture: ${msg}`);
  }
  const out: LoadedStudent = { model, config, raw: ck.config as Record<string, unknown> };
  if (ck.tokenizerFiles) out.tokenizerFiles = ck.tokenizerFiles;
  if (ck.trainingState) out.trainingState = { tensors: toTensorData(ck.trainingState.tensors), info: ck.trainingState.info };
  return out;
}

/**
 * The cheap check of a student checkpoint before a long job (no weights read): its config holds a
 * valid architecture and model.safetensors' header lists every tensor of it with its shape, inside
 * the file. Returns the architecture.
 */
export async function checkStudentCheckpoint(dir: string): Promise<SpikeClipConfig> {
  const cc = await readCheckpointConfig(dir);
  if (cc.kind !== 'student') throw new CheckpointError(dir, `${dir}: is a ${String(cc.kind)} checkpoint; a student (spiking) checkpoint is needed here`);
  if (cc.architecture === undefined) throw new CheckpointError(dir, `${dir}/config.json: student checkpoint without an "architecture" entry`);
  const config = validateConfig(cc.architecture, `${dir}/config.json: architecture`);
  const file = path.join(dir, CHECKPOINT_FILES.weights);
  const header = await readSafetensorsHeader(file);
  const expected = [...imageEncoderTensors(config.image, 'image'), ...textEncoderTensors(config.text, 'text')];
  for (const t of expected) {
    const got = header.tensors.get(t.name);
    if (!got) throw new CheckpointError(dir, `${file} does not match its architecture: missing tensor ${t.name}`);
    if (got.shape.length !== t.shape.length || got.shape.some((d, i) => d !== t.shape[i])) {
      throw new CheckpointError(dir, `${file} does not match its architecture: ${t.name} is [${got.shape.join(', ')}], expected [${t.shape.join(', ')}]`);
    }
  }
  return config;
}
