/**
 * `spikeclip convert export`: a student checkpoint -> files other tools load.
 *
 * - `safetensors`: `image_encoder.safetensors` and `text_encoder.safetensors` with the reference
 *   PyTorch names and layouts (Lvchangze/SpikeCLIP `Vision_Encoder`, `Language_Encoder`), BatchNorm
 *   `num_batches_tracked` as int64 zeros and (by default) the text embeddings' `position_ids`
 *   buffer that transformers 4.30 (the reference's pin) keeps in the state dict, so
 *   `model.load_state_dict(safetensors.torch.load_file(...))` takes each file as it is. Metadata:
 *   `{format: 'pt', spikeclip_architecture: <JSON>, spikeclip_part, spikeclip_reference_class}`.
 * - `tfjs`: a TF.js model folder (./tfjs-format.ts).
 *
 * Both write `export.json` describing the files, copy the checkpoint's tokenizer files when it has
 * them, and build the folder atomically (nothing is left behind on failure). No TF.js backend is
 * needed: tensors are permuted as plain data, so every float is copied bit for bit.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { codeVersion, makeProvenance } from '../io/provenance';
import { writeDirAtomic } from '../io/atomic';
import { checkpointHash, loadCheckpoint } from '../io/checkpoint';
import { serializeSafetensors, tensorToFloat32, type SafeTensor, type SafeTensorInput } from '../io/safetensors';
import { ConfigError, validateConfig, type SpikeClipConfig } from '../models/config';
import { describeArchitecture } from '../models/describe';
import { toPytorchStateDict } from '../models/pytorch-names';
import type { TensorData } from '../snn/module';
import { PART_NAMES, REFERENCE_CLASSES, type EncoderPart } from './architecture';
import { ConvertError, listNames, showShape } from './errors';
import { checkOutDir } from './out-dir';
import { buildTfjsModel, TFJS_SHARD_BYTES } from './tfjs-format';

export type ExportFormat = 'safetensors' | 'tfjs';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['safetensors', 'tfjs'];
export const EXPORT_FORMAT = 'spikeclip-export';
export const EXPORT_FORMAT_VERSION = 1;

/** File names of the safetensors export. */
export const EXPORT_FILES: Record<EncoderPart, string> = { image: 'image_encoder.safetensors', text: 'text_encoder.safetensors' };

export interface ExportOptions {
  checkpoint: string;
  format: ExportFormat;
  out: string;
  /** Encoders to export (default both). */
  parts?: EncoderPart[];
  /** Replace `out` when it is a previous export. */
  force?: boolean;
  /** safetensors: write `clip_embedding.position_ids` (default true; transformers >= 4.31 does not keep it). */
  positionIds?: boolean;
  /** tfjs: shard size in bytes (default 4 MiB, as tfjs-converter). */
  shardBytes?: number;
  provenance?: Record<string, unknown>;
}

export interface ExportedFile {
  /** Path relative to the export folder. */
  file: string;
  role: 'weights' | 'model.json' | 'weights-shard' | 'tokenizer';
  part?: EncoderPart;
  tensors?: number;
  bytes: number;
  sha256: string;
}

export interface ExportResult {
  out: string;
  format: ExportFormat;
  checkpoint: { path: string; sha256: string; kind: string; imported?: string[] };
  architecture: SpikeClipConfig;
  parts: EncoderPart[];
  files: ExportedFile[];
  notes: string[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface LoadedStudentWeights {
  sha256: string;
  kind: string;
  imported?: string[];
  architecture: SpikeClipConfig;
  /** Our names (image.*, text.*) in describeArchitecture order, F32. */
  tensors: [string, TensorData][];
  tokenizerFiles?: Map<string, Uint8Array>;
}

/** Reads a student checkpoint as plain data and checks every tensor against its architecture. */
export async function readStudentWeights(dir: string): Promise<LoadedStudentWeights> {
  const ck = await loadCheckpoint(dir);
  const kind = String(ck.config.kind);
  if (kind !== 'student') {
    const fix =
      kind === 'teacher'
        ? 'a teacher checkpoint already holds Hugging Face names and PyTorch layouts: load its model.safetensors with CLIPModel.load_state_dict'
        : 'pass a student (spiking SpikeCLIP) checkpoint';
    throw new ConvertError(`${dir} is a ${kind} checkpoint; convert export writes student (spiking) checkpoints`, 'E_NOT_STUDENT', fix);
  }
  let architecture: SpikeClipConfig;
  try {
    architecture = validateConfig(ck.config.architecture, `${dir}/config.json: architecture`);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConvertError(e.message, 'E_ARCH');
    throw e;
  }
  const desc = describeArchitecture(architecture);
  const weights = ck.weights as Map<string, SafeTensor>;
  const specs = [...desc.image.tensors, ...desc.text.tensors];
  const missing = specs.filter((s) => !weights.has(s.name)).map((s) => s.name);
  const known = new Set(specs.map((s) => s.name));
  const unexpected = [...weights.keys()].filter((n) => !known.has(n));
  const shapes = specs
    .filter((s) => weights.has(s.name))
    .filter((s) => {
      const t = weights.get(s.name) as SafeTensor;
      return t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i]);
    })
    .map((s) => `${s.name} is ${showShape((weights.get(s.name) as SafeTensor).shape)}, expected ${showShape(s.shape)}`);
  if (missing.length + unexpected.length + shapes.length > 0) {
    const parts = [
      missing.length ? `missing ${listNames(missing)}` : '',
      shapes.length ? `shape mismatch: ${listNames(shapes, 3)}` : '',
      unexpected.length ? `unexpected ${listNames(unexpected)}` : '',
    ].filter((s) => s !== '');
    throw new ConvertError(`${dir}/model.safetensors does not match its architecture: ${parts.join('; ')}`, missing.length ? 'E_MISSING_TENSORS' : shapes.length ? 'E_SHAPE_MISMATCH' : 'E_UNEXPECTED_TENSORS');
  }
  const tensors: [string, TensorData][] = specs.map((s) => {
    const t = weights.get(s.name) as SafeTensor;
    return [s.name, { shape: t.shape.slice(), data: tensorToFloat32(t) }];
  });
  const imported = Array.isArray(ck.config.imported) ? (ck.config.imported as unknown[]).map(String) : undefined;
  return { sha256: await checkpointHash(dir), kind, imported, architecture, tensors, tokenizerFiles: ck.tokenizerFiles };
}

function partTensors(all: [string, TensorData][], part: EncoderPart): Map<string, TensorData> {
  const p = `${part}.`;
  return new Map(all.filter(([n]) => n.startsWith(p)).map(([n, t]) => [n.slice(p.length), t]));
}

/** The reference state dict of one part as safetensors input (int64 buffers as BigInt64Array). */
export function referenceStateDict(ours: Map<string, TensorData>, part: EncoderPart, architecture: SpikeClipConfig, opts: { positionIds?: boolean } = {}): Map<string, SafeTensorInput> {
  const out = new Map<string, SafeTensorInput>();
  for (const [name, t] of toPytorchStateDict(ours, part)) {
    if (t.dtype === 'int64') out.set(name, { shape: t.shape, data: BigInt64Array.from(Array.from(t.data, (v) => BigInt(Math.round(v)))) });
    else out.set(name, { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  }
  if (part === 'text' && (opts.positionIds ?? true)) {
    const p = architecture.text.maxPositions;
    out.set('clip_embedding.position_ids', { shape: [1, p], data: BigInt64Array.from({ length: p }, (_, i) => BigInt(i)) });
  }
  return out;
}

/** safetensors metadata of an exported part. */
export function exportMetadata(architecture: SpikeClipConfig, part: EncoderPart): Record<string, string> {
  return {
    format: 'pt',
    spikeclip_architecture: JSON.stringify(architecture),
    spikeclip_part: part,
    spikeclip_reference_class: REFERENCE_CLASSES[part],
    spikeclip_format_version: String(EXPORT_FORMAT_VERSION),
  };
}

function usage(format: ExportFormat, parts: EncoderPart[], positionIds: boolean): string[] {
  if (format === 'safetensors') {
    const lines = ['from safetensors.torch import load_file'];
    if (parts.includes('image')) lines.push("vision_encoder(in_channels=3, target_dim=E, embed_dims=D, num_heads=H, mlp_ratios=R, depths=L, T=T).load_state_dict(load_file('image_encoder.safetensors'))");
    if (parts.includes('text')) {
      lines.push(
        `language_encoder(clip_embedding=copy.deepcopy(clip.text_model.embeddings), clip_dim=E, mlp_ratios=R, T=T).load_state_dict(load_file('text_encoder.safetensors')${positionIds ? '' : ', strict=False'})`,
      );
      if (positionIds) lines.push('with transformers >= 4.31 (position_ids is no longer in the state dict): load_state_dict(..., strict=False), or export with --no-position-ids');
    }
    lines.push('the values of E, D, H, R, L, T are under "architecture" here and in each file\'s spikeclip_architecture metadata; see docs/convert-import-export.md');
    return lines;
  }
  return [
    "const {model} = await loadSpikeClipFromUrl('<folder URL>/model.json')  // src/convert/tfjs-format.ts",
    "or: const weights = await tf.io.loadWeights(modelJson.weightsManifest, '<folder URL>/'); then new SpikeClip(modelJson.modelTopology).loadStateDict(...)",
    'see docs/convert-import-export.md',
  ];
}

export async function exportCheckpoint(opts: ExportOptions): Promise<ExportResult> {
  checkOutDir(opts.out, 'export', opts.force ?? false, [opts.checkpoint]);
  const parts = [...new Set(opts.parts ?? ['image', 'text'])].sort() as EncoderPart[];
  if (parts.length === 0) throw new ConvertError('nothing to export: no encoder selected', 'E_ARCH', 'pass --part image, text or all');
  const positionIds = opts.positionIds ?? true;
  const ck = await readStudentWeights(opts.checkpoint);
  const notes: string[] = [];
  if (ck.imported !== undefined) {
    const freshParts = parts.filter((p) => !ck.imported!.includes(p));
    for (const p of freshParts) notes.push(`the checkpoint's ${PART_NAMES[p]} was not imported by convert import (it was initialised fresh unless trained since)`);
  }

  // Everything in memory first.
  const files = new Map<string, Uint8Array>();
  const described: ExportedFile[] = [];
  const add = (file: string, bytes: Uint8Array, role: ExportedFile['role'], extra: Partial<ExportedFile> = {}) => {
    files.set(file, bytes);
    described.push({ file, role, ...extra, bytes: bytes.length, sha256: sha256(bytes) });
  };
  if (opts.format === 'safetensors') {
    for (const part of parts) {
      const sd = referenceStateDict(partTensors(ck.tensors, part), part, ck.architecture, { positionIds });
      add(EXPORT_FILES[part], serializeSafetensors(sd, exportMetadata(ck.architecture, part)), 'weights', { part, tensors: sd.size });
    }
  } else {
    const selected = ck.tensors.filter(([n]) => parts.some((p) => n.startsWith(`${p}.`)));
    const { modelJson, shards } = buildTfjsModel(
      ck.architecture,
      selected,
      { parts, checkpointSha256: ck.sha256, ...(ck.imported ? { imported: ck.imported } : {}), ...(ck.tokenizerFiles ? { tokenizer: [...ck.tokenizerFiles.keys()] } : {}) },
      { shardBytes: opts.shardBytes ?? TFJS_SHARD_BYTES, generatedBy: `spikeclip ${codeVersion()}` },
    );
    add('model.json', Buffer.from(`${JSON.stringify(modelJson, null, 2)}\n`), 'model.json', { tensors: selected.length });
    modelJson.weightsManifest[0].paths.forEach((p, i) => add(p, shards[i], 'weights-shard'));
  }
  if (ck.tokenizerFiles !== undefined) {
    for (const [name, bytes] of ck.tokenizerFiles) add(`tokenizer/${name}`, bytes, 'tokenizer');
  }
  const exportJson = {
    format: EXPORT_FORMAT,
    formatVersion: EXPORT_FORMAT_VERSION,
    target: opts.format,
    checkpoint: { path: path.resolve(opts.checkpoint), sha256: ck.sha256, kind: ck.kind, ...(ck.imported ? { imported: ck.imported } : {}) },
    architecture: ck.architecture,
    parts,
    files: described,
    load: usage(opts.format, parts, positionIds),
    provenance: opts.provenance ?? makeProvenance({ seed: 0 }),
  };
  const exportBytes = Buffer.from(`${JSON.stringify(exportJson, null, 2)}\n`);

  await writeDirAtomic(opts.out, async (tmp) => {
    for (const [name, bytes] of files) {
      const p = path.join(tmp, name);
      await fs.promises.mkdir(path.dirname(p), { recursive: true });
      await fs.promises.writeFile(p, bytes);
    }
    await fs.promises.writeFile(path.join(tmp, 'export.json'), exportBytes);
  });
  return {
    out: path.resolve(opts.out),
    format: opts.format,
    checkpoint: exportJson.checkpoint,
    architecture: ck.architecture,
    parts,
    files: described,
    notes,
  };
}
