/**
 * The inspect service: describes a checkpoint directory (from its config and the safetensors
 * header only) or a preset architecture (from its config only). No weights are loaded.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CHECKPOINT_FILES, checkpointHash, readCheckpointConfig } from '../io/checkpoint';
import { readSafetensorsHeader } from '../io/safetensors';
import { describeArchitecture, type TensorSpec } from '../models/describe';
import { getPreset, validateConfig, type SpikeClipConfig } from '../models/config';
import { readSettingsTextSync } from '../io/bounded-read';

export interface InspectTensor {
  name: string;
  shape: number[];
  dtype: string;
  /** False for buffers (BatchNorm running statistics, position ids). */
  trainable: boolean;
}

export interface InspectPart {
  name: string;
  parameters: number;
  buffers: number;
  tensors: number;
}

export interface InspectReport {
  source: 'checkpoint' | 'preset';
  /** Checkpoint directory or preset name. */
  name: string;
  kind: string;
  config: Record<string, unknown>;
  parts: InspectPart[];
  total: { parameters: number; buffers: number; tensors: number };
  tensors: InspectTensor[];
  /** Student checkpoints: whether the stored tensors are exactly those the config's architecture has. */
  architectureCheck?: { matches: boolean; missing: string[]; unexpected: string[]; shapeMismatches: string[] };
  /** Per-layer dense FLOPs per sample and time step (architectures only). */
  flopsPerStep?: { image: number; text: number };
  sha256?: string;
  weightsBytes?: number;
  trainingState?: { present: boolean; info?: Record<string, unknown> };
  tokenizerFiles?: string[];
  provenance?: Record<string, unknown>;
}

const BUFFER_SUFFIXES = ['running_mean', 'running_var', 'num_batches_tracked', 'position_ids'];

export function isBufferName(name: string): boolean {
  const last = name.split('.').pop() ?? '';
  return BUFFER_SUFFIXES.includes(last);
}

/** The part a tensor belongs to: its first name component (`image`, `text`, `vision_model`, ...). */
function partOf(name: string): string {
  const i = name.indexOf('.');
  return i < 0 ? '(top level)' : name.slice(0, i);
}

const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function summarise(tensors: InspectTensor[]): { parts: InspectPart[]; total: InspectReport['total'] } {
  const parts = new Map<string, InspectPart>();
  for (const t of tensors) {
    const p = partOf(t.name);
    let part = parts.get(p);
    if (!part) {
      part = { name: p, parameters: 0, buffers: 0, tensors: 0 };
      parts.set(p, part);
    }
    part.tensors += 1;
    if (t.trainable) part.parameters += count(t.shape);
    else part.buffers += count(t.shape);
  }
  const list = [...parts.values()];
  return {
    parts: list,
    total: {
      parameters: list.reduce((s, p) => s + p.parameters, 0),
      buffers: list.reduce((s, p) => s + p.buffers, 0),
      tensors: tensors.length,
    },
  };
}

function specsToTensors(specs: TensorSpec[]): InspectTensor[] {
  return specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'F32', trainable: s.trainable }));
}

export function inspectArchitecture(preset: string): InspectReport {
  const config = getPreset(preset);
  const d = describeArchitecture(config);
  const tensors = specsToTensors([...d.image.tensors, ...d.text.tensors]);
  const { parts, total } = summarise(tensors);
  return {
    source: 'preset',
    name: preset,
    kind: 'student',
    config: config as unknown as Record<string, unknown>,
    parts,
    total,
    tensors,
    flopsPerStep: { image: d.image.flopsPerStep, text: d.text.flopsPerStep },
  };
}

function checkArchitecture(config: SpikeClipConfig, tensors: InspectTensor[]): NonNullable<InspectReport['architectureCheck']> {
  const d = describeArchitecture(config);
  const expected = new Map([...d.image.tensors, ...d.text.tensors].map((t) => [t.name, t.shape]));
  const stored = new Map(tensors.map((t) => [t.name, t.shape]));
  const missing = [...expected.keys()].filter((n) => !stored.has(n));
  const unexpected = [...stored.keys()].filter((n) => !expected.has(n));
  const shapeMismatches: string[] = [];
  for (const [n, shape] of stored) {
    const e = expected.get(n);
    if (e && (e.length !== shape.length || e.some((v, i) => v !== shape[i]))) {
      shapeMismatches.push(`${n}: stored [${shape.join(', ')}], architecture [${e.join(', ')}]`);
    }
  }
  return { matches: missing.length + unexpected.length + shapeMismatches.length === 0, missing, unexpected, shapeMismatches };
}

export async function inspectCheckpoint(dir: string): Promise<InspectReport> {
  const config = await readCheckpointConfig(dir);
  const weightsPath = path.join(dir, CHECKPOINT_FILES.weights);
  const header = await readSafetensorsHeader(weightsPath);
  const tensors: InspectTensor[] = [...header.tensors.entries()]
    .map(([name, info]) => ({ name, shape: info.shape, dtype: info.dtype, trainable: !isBufferName(name) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { parts, total } = summarise(tensors);
  const report: InspectReport = {
    source: 'checkpoint',
    name: dir,
    kind: String(config.kind),
    config: config as Record<string, unknown>,
    parts,
    total,
    tensors,
    sha256: await checkpointHash(dir),
    weightsBytes: header.byteLength,
  };
  if (config.kind === 'student' && config.architecture !== undefined) {
    report.architectureCheck = checkArchitecture(validateConfig(config.architecture, `${path.join(dir, CHECKPOINT_FILES.config)}: architecture`), tensors);
  }
  const infoPath = path.join(dir, CHECKPOINT_FILES.trainingInfo);
  if (fs.existsSync(path.join(dir, CHECKPOINT_FILES.trainingTensors)) || fs.existsSync(infoPath)) {
    let info: Record<string, unknown> | undefined;
    try {
      info = JSON.parse(readSettingsTextSync(infoPath, (m) => new Error(m))) as Record<string, unknown>;
    } catch {
      info = undefined;
    }
    report.trainingState = { present: true, ...(info ? { info } : {}) };
  } else {
    report.trainingState = { present: false };
  }
  const tokDir = path.join(dir, CHECKPOINT_FILES.tokenizerDir);
  if (fs.existsSync(tokDir)) report.tokenizerFiles = fs.readdirSync(tokDir).sort();
  if (config.provenance && typeof config.provenance === 'object') report.provenance = config.provenance as Record<string, unknown>;
  return report;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Nested config as `a.b.c: value` lines (arrays and leaves as JSON). */
function flatten(obj: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v as Record<string, unknown>, key));
    else out.push([key, JSON.stringify(v)]);
  }
  return out;
}

/** The human view. */
export function renderInspectReport(r: InspectReport, opts: { tensors: boolean }): string {
  const lines: string[] = [];
  lines.push(r.source === 'preset' ? `architecture: ${r.name} (no checkpoint; fresh weights would have these shapes)` : `checkpoint: ${r.name}`);
  lines.push(`kind: ${r.kind}`);
  if (r.sha256) lines.push(`sha256 (model.safetensors): ${r.sha256}  (${fmt(r.weightsBytes ?? 0)} bytes)`);
  lines.push('');
  const nameW = Math.max(6, ...r.parts.map((p) => p.name.length), 'total'.length);
  lines.push(`${'part'.padEnd(nameW)}  ${'parameters'.padStart(12)}  ${'buffers'.padStart(10)}  ${'tensors'.padStart(7)}`);
  for (const p of r.parts) lines.push(`${p.name.padEnd(nameW)}  ${fmt(p.parameters).padStart(12)}  ${fmt(p.buffers).padStart(10)}  ${String(p.tensors).padStart(7)}`);
  lines.push(`${'total'.padEnd(nameW)}  ${fmt(r.total.parameters).padStart(12)}  ${fmt(r.total.buffers).padStart(10)}  ${String(r.total.tensors).padStart(7)}`);
  if (r.flopsPerStep) {
    lines.push('');
    lines.push(`dense FLOPs per sample and time step: image ${fmt(r.flopsPerStep.image)}, text ${fmt(r.flopsPerStep.text)}`);
  }
  if (r.architectureCheck) {
    const c = r.architectureCheck;
    lines.push('');
    if (c.matches) lines.push('tensors match the architecture in config.json');
    else {
      lines.push('tensors do NOT match the architecture in config.json:');
      for (const n of c.missing.slice(0, 10)) lines.push(`  missing: ${n}`);
      for (const n of c.unexpected.slice(0, 10)) lines.push(`  unexpected: ${n}`);
      for (const n of c.shapeMismatches.slice(0, 10)) lines.push(`  shape: ${n}`);
    }
  }
  lines.push('');
  lines.push('config:');
  const shown = { ...r.config };
  delete shown.provenance;
  for (const [k, v] of flatten(shown)) lines.push(`  ${k}: ${v}`);
  if (r.provenance) {
    lines.push('');
    lines.push('provenance:');
    for (const [k, v] of Object.entries(r.provenance)) lines.push(`  ${k}: ${Array.isArray(v) ? v.join(' ') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  if (r.trainingState) lines.push('', `training state: ${r.trainingState.present ? `yes${r.trainingState.info ? ` ${JSON.stringify(r.trainingState.info)}` : ''}` : 'no'}`);
  if (r.tokenizerFiles) lines.push(`tokenizer files: ${r.tokenizerFiles.join(', ')}`);
  if (opts.tensors) {
    lines.push('');
    lines.push('tensors:');
    const w = Math.max(...r.tensors.map((t) => t.name.length), 4);
    for (const t of r.tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)}  [${t.shape.join(', ')}]${t.trainable ? '' : '  (buffer)'}`);
  }
  return lines.join('\n');
}
