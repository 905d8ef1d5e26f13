/**
 * The energy report service: runs inputs through a SpikeCLIP model with a SpikeMonitor
 * (inference mode, batched, no tensors left behind), turns the monitor's exact counts into
 * per-layer operation counts and energy (model.ts), and records where every number came from:
 * weights (checkpoint SHA-256, or fresh weights and their seed), inputs (dataset and split, or
 * synthetic and its seed), number of images and prompts, T, energy constants, backend.
 *
 * Without data, `reportFromRates` computes the same report from given per-layer firing rates.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BadInputError } from '../errors';
import * as tf from '../tf';
import { codeVersion, gitCommit } from '../io/provenance';
import { CHECKPOINT_FILES, checkpointHash, readCheckpointConfig } from '../io/checkpoint';
import { getPreset, validateConfig, type SpikeClipConfig } from '../models/config';
import { describeArchitecture, type LayerOpSpec } from '../models/describe';
import { SpikeClip } from '../models/spikeclip';
import { SpikeMonitor, type LayerObservation } from '../snn/monitor';
import type { ForwardContext } from '../snn/module';
import { syntheticImages, syntheticTokenIds, type ImageBatch, type TextBatch } from './inputs';
import {
  NOT_COUNTED,
  annTwinImageLayers,
  annTwinTextLayers,
  assumptions,
  encoderEnergy,
  totalEnergy,
  type EncoderEnergy,
  type EncoderName,
  type EnergyConstants,
  type LayerMeasurement,
  type TotalEnergy,
} from './model';
import { parseRates, resolveRates } from './rates';
import { readSettingsText } from '../io/bounded-read';

export * from './inputs';

export const ENERGY_REPORT_FORMAT = 'spikeclip-energy-report';
export const ENERGY_REPORT_VERSION = 1;

export class EnergyReportError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_ENERGY_REPORT');
    this.name = 'EnergyReportError';
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement

export interface MeasureProgress {
  encoder: EncoderName;
  /** Inputs done so far and in all (total may be unknown: null). */
  done: number;
  total: number | null;
}

export interface Measured {
  image: LayerObservation[];
  text: LayerObservation[];
  images: number;
  prompts: number;
}

type Source<T> = Iterable<T> | AsyncIterable<T>;

/**
 * Runs the inputs through the model in inference mode with a SpikeMonitor and returns the
 * monitor's records per encoder (summed over all batches). Leaves no tensors behind.
 */
export async function measureSpikes(
  model: SpikeClip,
  inputs: { images?: Source<ImageBatch>; texts?: Source<TextBatch> },
  opts: { totalImages?: number; totalPrompts?: number; onProgress?: (p: MeasureProgress) => void } = {},
): Promise<Measured> {
  const out: Measured = { image: [], text: [], images: 0, prompts: 0 };
  if (inputs.images) {
    const monitor = new SpikeMonitor();
    const ctx: ForwardContext = { training: false, monitor };
    for await (const b of inputs.images) {
      const x = tf.tensor4d(b.data, b.shape, 'float32');
      try {
        tf.tidy(() => {
          model.image.forward(x, ctx);
        });
      } finally {
        x.dispose();
      }
      out.images += b.shape[0];
      opts.onProgress?.({ encoder: 'image', done: out.images, total: opts.totalImages ?? null });
    }
    out.image = monitor.observations();
  }
  if (inputs.texts) {
    const monitor = new SpikeMonitor();
    const ctx: ForwardContext = { training: false, monitor };
    for await (const b of inputs.texts) {
      const ids = tf.tensor2d(b.ids, b.shape, 'int32');
      try {
        tf.tidy(() => {
          model.text.forward(ids, ctx);
        });
      } finally {
        ids.dispose();
      }
      out.prompts += b.shape[0];
      opts.onProgress?.({ encoder: 'text', done: out.prompts, total: opts.totalPrompts ?? null });
    }
    out.text = monitor.observations();
  }
  return out;
}

/** Monitor records -> per-sample measurements, checked against the architecture's layer list. */
export function measurementsFromObservations(encoder: EncoderName, layers: LayerOpSpec[], observations: LayerObservation[]): LayerMeasurement[] {
  const byName = new Map(observations.map((o) => [o.layer, o]));
  const extra = observations.filter((o) => !layers.some((l) => l.name === o.layer)).map((o) => o.layer);
  const missing = layers.filter((l) => !byName.has(l.name)).map((l) => l.name);
  if (extra.length > 0 || missing.length > 0) {
    throw new Error(`the ${encoder} encoder's monitor records do not match its architecture (missing: ${missing.join(', ') || 'none'}; unexpected: ${extra.join(', ') || 'none'})`);
  }
  return layers.map((spec) => {
    const o = byName.get(spec.name) as LayerObservation;
    if (o.flopsPerStep !== spec.flopsPerStep || o.kind !== spec.kind || o.timeSteps !== spec.timeSteps) {
      throw new Error(`layer ${spec.name}: the monitor saw ${o.kind} ${o.flopsPerStep} FLOPs x ${o.timeSteps} steps, the architecture says ${spec.kind} ${spec.flopsPerStep} x ${spec.timeSteps}`);
    }
    return {
      spec,
      encoder,
      firingRate: o.inputElements > 0 ? o.nonZero / o.inputElements : null,
      exactSops: o.samples > 0 ? o.synapticOps / o.samples : null,
      connections: o.samples > 0 ? o.connections / o.samples : null,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The report

export interface WeightsInfo {
  kind: 'checkpoint' | 'fresh' | 'none';
  /** Checkpoint directory (kind checkpoint). */
  checkpoint?: string;
  /** SHA-256 of model.safetensors (kind checkpoint). */
  sha256?: string;
  /** Seed of the weight initialisation (kind fresh). */
  seed?: number;
  /** One line: `checkpoint DIR (sha256 ...)`, `fresh weights, seed N`, or `none (rates given)`. */
  description: string;
}

export interface InputsInfo {
  /** `synthetic`, `dataset` or `rates`. */
  kind: 'synthetic' | 'dataset' | 'rates';
  dataset?: string;
  split?: string;
  /** Images and prompts the counts average over (0 with rates). */
  images: number;
  prompts: number;
  /** One line each on what the images and prompts were. */
  imageSource: string;
  textSource: string;
  seed: number;
  /** With --rates: the file and its SHA-256. */
  ratesFile?: { path: string; sha256: string };
}

export interface EnergyReport {
  format: typeof ENERGY_REPORT_FORMAT;
  formatVersion: typeof ENERGY_REPORT_VERSION;
  /** `measured` (spikes counted on inputs) or `rates` (from given firing rates). */
  mode: 'measured' | 'rates';
  /** Architecture preset name, or `checkpoint`. */
  architecture: string;
  config: SpikeClipConfig;
  timeSteps: { image: number; text: number };
  energy: EnergyConstants;
  weights: WeightsInfo;
  inputs: InputsInfo;
  backend?: { name: string; threads: number; simd?: boolean };
  provenance: { codeVersion: string; gitCommit?: string; createdAt: string; commandLine?: string[] };
  assumptions: string[];
  notCounted: string[];
  encoders: EncoderEnergy[];
  total: TotalEnergy;
  warnings: string[];
}

export interface BuildReportOptions {
  mode: 'measured' | 'rates';
  architecture: string;
  config: SpikeClipConfig;
  energy: EnergyConstants;
  image: LayerMeasurement[];
  text?: LayerMeasurement[];
  samples: { images: number; prompts: number };
  weights: WeightsInfo;
  inputs: InputsInfo;
  backend?: { name: string; threads: number; simd?: boolean };
  commandLine?: string[];
  warnings?: string[];
  /** Fixed creation time (tests); default now. */
  createdAt?: string;
}

/** Assembles the report from per-layer measurements (pure apart from reading the code version). */
export function buildEnergyReport(o: BuildReportOptions): EnergyReport {
  const cfg = o.config;
  const encoders: EncoderEnergy[] = [
    encoderEnergy('image', o.image, { model: 'ScratchCLIP (same widths, softmax attention, T = 1)', layers: annTwinImageLayers(cfg.image) }, o.energy, {
      timeSteps: cfg.image.timeSteps,
      samples: o.samples.images,
    }),
  ];
  if (o.text) {
    encoders.push(
      encoderEnergy('text', o.text, { model: 'the same 2-layer MLP on real values (T = 1)', layers: annTwinTextLayers(cfg.text) }, o.energy, {
        timeSteps: cfg.text.timeSteps,
        samples: o.samples.prompts,
      }),
    );
  }
  const provenance: EnergyReport['provenance'] = { codeVersion: codeVersion(), createdAt: o.createdAt ?? new Date().toISOString() };
  const commit = gitCommit();
  if (commit) provenance.gitCommit = commit;
  if (o.commandLine) provenance.commandLine = o.commandLine;
  const report: EnergyReport = {
    format: ENERGY_REPORT_FORMAT,
    formatVersion: ENERGY_REPORT_VERSION,
    mode: o.mode,
    architecture: o.architecture,
    config: cfg,
    timeSteps: { image: cfg.image.timeSteps, text: cfg.text.timeSteps },
    energy: o.energy,
    weights: o.weights,
    inputs: o.inputs,
    provenance,
    assumptions: assumptions(cfg, o.energy),
    notCounted: [...NOT_COUNTED],
    encoders,
    total: totalEnergy(encoders),
    warnings: o.warnings ?? [],
  };
  if (o.backend) report.backend = o.backend;
  if (o.mode === 'rates') {
    report.assumptions.push('Computed from given firing rates, not from spikes: SOPs are the estimate fr x T x FLOPs (padding taps included), the convention papers use.');
  }
  if (!o.text) report.assumptions.push('The text encoder is not included (no rates were given for its layers).');
  return report;
}

// ---------------------------------------------------------------------------------------------
// Orchestration (what the command calls)

/** Where the architecture and weights come from. */
export type ModelSource = { kind: 'checkpoint'; dir: string } | { kind: 'preset'; name: string; seed: number };

export interface EnergyReportRequest {
  model: ModelSource;
  energy: EnergyConstants;
  /** What to feed (ignored with rates). */
  inputs:
    | { kind: 'synthetic'; samples: number; seed: number }
    | { kind: 'dataset'; dataset: string; dataDir?: string; split: string; samples: number; seed: number; tokenizer?: string }
    | { kind: 'rates'; file: string };
  batchSize?: number;
  backend?: { name: string; threads: number; simd?: boolean };
  commandLine?: string[];
  onProgress?: (p: MeasureProgress) => void;
  /** Progress lines (loading a checkpoint, opening a dataset). */
  onNote?: (line: string) => void;
}

async function fileSha256(file: string): Promise<string> {
  const { createHash } = await import('crypto');
  return createHash('sha256').update(await fs.promises.readFile(file)).digest('hex');
}

async function architectureOf(src: ModelSource): Promise<{ name: string; config: SpikeClipConfig }> {
  if (src.kind === 'preset') return { name: src.name, config: getPreset(src.name) };
  const raw = await readCheckpointConfig(src.dir);
  if (raw.kind !== 'student') throw new EnergyReportError(`${src.dir}: is a ${String(raw.kind)} checkpoint; the energy report needs a student (spiking) checkpoint`);
  if (raw.architecture === undefined) throw new EnergyReportError(`${src.dir}/config.json: student checkpoint without an "architecture" entry`);
  return { name: 'checkpoint', config: validateConfig(raw.architecture, `${src.dir}/config.json: architecture`) };
}

async function weightsOf(src: ModelSource): Promise<WeightsInfo> {
  if (src.kind === 'preset') return { kind: 'fresh', seed: src.seed, description: `fresh weights of ${src.name}, seed ${src.seed}` };
  const sha256 = await checkpointHash(src.dir);
  return { kind: 'checkpoint', checkpoint: src.dir, sha256, description: `checkpoint ${src.dir} (model.safetensors sha256 ${sha256.slice(0, 16)}...)` };
}

/** Energy from given per-layer firing rates, without running any data. */
export async function reportFromRates(req: EnergyReportRequest & { inputs: { kind: 'rates'; file: string } }): Promise<EnergyReport> {
  const file = req.inputs.file;
  let json: unknown;
  try {
    json = JSON.parse(await readSettingsText(file, (m) => new EnergyReportError(m)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code || e instanceof EnergyReportError) throw e;
    throw new EnergyReportError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const arch = await architectureOf(req.model);
  const d = describeArchitecture(arch.config);
  const resolved = resolveRates(parseRates(json, file), { image: d.image.layers, text: d.text.layers }, file);
  const toMeasurements = (encoder: EncoderName, layers: LayerOpSpec[]): LayerMeasurement[] =>
    layers.map((spec) => ({ spec, encoder, firingRate: spec.kind === 'ac' ? (resolved.rates.get(spec.name) as number) : null, exactSops: null, connections: null }));
  const weights: WeightsInfo =
    req.model.kind === 'checkpoint' ? { ...(await weightsOf(req.model)) } : { kind: 'none', description: 'none (the architecture only: rates were given)' };
  const warnings = resolved.ignored.length > 0 ? [`rates for MAC layers ignored (their input is real-valued): ${resolved.ignored.join(', ')}`] : [];
  return buildEnergyReport({
    mode: 'rates',
    architecture: arch.name,
    config: arch.config,
    energy: req.energy,
    image: toMeasurements('image', d.image.layers),
    text: resolved.encoders.includes('text') ? toMeasurements('text', d.text.layers) : undefined,
    samples: { images: 0, prompts: 0 },
    weights,
    inputs: {
      kind: 'rates',
      images: 0,
      prompts: 0,
      imageSource: 'none: firing rates given',
      textSource: resolved.encoders.includes('text') ? 'none: firing rates given' : 'not reported',
      seed: 0,
      ratesFile: { path: path.resolve(file), sha256: await fileSha256(file) },
    },
    backend: undefined,
    commandLine: req.commandLine,
    warnings,
  });
}

async function loadModel(src: ModelSource): Promise<{ model: SpikeClip; tokenizerDir?: string }> {
  if (src.kind === 'preset') return { model: new SpikeClip(getPreset(src.name), { seed: src.seed }) };
  const { loadStudentCheckpoint } = await import('../student/checkpoint');
  const loaded = await loadStudentCheckpoint(src.dir);
  const tokDir = path.join(src.dir, CHECKPOINT_FILES.tokenizerDir);
  return { model: loaded.model, tokenizerDir: loaded.tokenizerFiles ? tokDir : undefined };
}

/** Runs the inputs through the model (or reads the rates) and returns the report. */
export async function runEnergyReport(req: EnergyReportRequest): Promise<EnergyReport> {
  const inputs = req.inputs;
  if (inputs.kind === 'rates') return reportFromRates({ ...req, inputs });
  const batchSize = req.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new EnergyReportError(`batch size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(inputs.samples) || inputs.samples < 1) throw new EnergyReportError(`the number of samples must be a positive integer, got ${inputs.samples}`);
  const arch = await architectureOf(req.model);
  const weights = await weightsOf(req.model);
  req.onNote?.(`weights: ${weights.description}`);
  const { model, tokenizerDir } = await loadModel(req.model);
  const warnings: string[] = [];
  if (weights.kind === 'fresh') {
    warnings.push(
      'fresh, untrained weights: BatchNorm runs in inference mode on its initial statistics (mean 0, variance 1), so these firing rates and energies are not those of a trained model; give --checkpoint for meaningful numbers',
    );
  }
  try {
    const cfg = model.config;
    let measured: Measured;
    let info: InputsInfo;
    if (inputs.kind === 'synthetic') {
      const n = inputs.samples;
      measured = await measureSpikes(
        model,
        { images: syntheticImages(cfg.image, n, batchSize, inputs.seed), texts: syntheticTokenIds(cfg.text, n, batchSize, inputs.seed) },
        { totalImages: n, totalPrompts: n, onProgress: req.onProgress },
      );
      info = {
        kind: 'synthetic',
        images: measured.images,
        prompts: measured.prompts,
        imageSource: `synthetic: ${n} seeded white-noise ${cfg.image.imageSize}x${cfg.image.imageSize} RGB images, CLIP-normalised (seed ${inputs.seed})`,
        textSource: `synthetic: ${n} seeded random token sequences of 1-${cfg.text.contextLength - 2} ids between the start and end tokens (seed ${inputs.seed})`,
        seed: inputs.seed,
      };
    } else {
      const { datasetInputs } = await import('./dataset-inputs');
      const d = await datasetInputs({ ...inputs, config: cfg, batchSize, tokenizerDir: inputs.tokenizer ?? tokenizerDir, onWarning: (w) => warnings.push(w), onNote: req.onNote });
      try {
        measured = await measureSpikes(model, { images: d.images, texts: d.texts }, { totalImages: d.totalImages, totalPrompts: d.totalPrompts, onProgress: req.onProgress });
      } finally {
        await d.close();
      }
      if (measured.images === 0) throw new EnergyReportError(`${inputs.dataset} (${inputs.split}): no decodable images`);
      info = {
        kind: 'dataset',
        dataset: inputs.dataset,
        split: inputs.split,
        images: measured.images,
        prompts: measured.prompts,
        imageSource: d.imageSource,
        textSource: d.textSource,
        seed: inputs.seed,
      };
    }
    const desc = describeArchitecture(cfg);
    return buildEnergyReport({
      mode: 'measured',
      architecture: arch.name,
      config: cfg,
      energy: req.energy,
      image: measurementsFromObservations('image', desc.image.layers, measured.image),
      text: measured.prompts > 0 ? measurementsFromObservations('text', desc.text.layers, measured.text) : undefined,
      samples: { images: measured.images, prompts: measured.prompts },
      weights,
      inputs: info,
      backend: req.backend ?? { name: tf.getBackend() ?? 'unknown', threads: 1 },
      commandLine: req.commandLine,
      warnings,
    });
  } finally {
    model.dispose();
  }
}
