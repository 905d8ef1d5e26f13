/**
 * The energy model as data (docs/method.md §8): energy per operation, per-layer operation
 * counts, per-encoder and total energy per inference, and the ANN twin at the same width.
 *
 *   E = E_MAC * MACs + E_AC * SOPs
 *
 * - a layer whose input is real-valued costs MACs = FLOPs per step x the steps it runs
 *   (the image encoder's first conv: T steps on the same frame; the final projection: once,
 *   after the temporal readout);
 * - a layer whose input is spikes costs ACs: SOPs = non-zero input spikes x their fan-out,
 *   counted exactly (summed over T; taps that land in a convolution's zero padding are not
 *   synapses); the estimate fr x T x FLOPs is kept beside it;
 * - the ANN twin costs E_MAC x FLOPs at T = 1.
 *
 * Everything here is plain arithmetic on numbers; the measurement (running data through a
 * model with a SpikeMonitor) lives in report.ts.
 */
import { EXIT, SpikeclipError } from '../errors';
import type { ImageEncoderConfig, SpikeClipConfig, TextEncoderConfig } from '../models/config';
import type { LayerOpSpec } from '../models/describe';
import { tokenizerChannels } from '../models/image-encoder';
import type { OpKind } from '../snn/monitor';

export const ENERGY_PRESET_NAMES = ['fp32', 'fp16', 'int8'] as const;
export type EnergyPresetName = (typeof ENERGY_PRESET_NAMES)[number];

export interface EnergyPerOp {
  /** Energy of one multiply-accumulate, picojoules. */
  eMacPj: number;
  /** Energy of one accumulate (addition), picojoules. */
  eAcPj: number;
}

/**
 * 45 nm CMOS figures (Horowitz, "Computing's energy problem", ISSCC 2014): a MAC is one multiply
 * plus one add, an AC one add. fp32: 3.7 + 0.9 and 0.9 pJ; fp16: 1.1 + 0.4 and 0.4 pJ; int8:
 * 0.2 + 0.03 and 0.03 pJ.
 */
export const ENERGY_PRESETS: Readonly<Record<EnergyPresetName, Readonly<EnergyPerOp>>> = Object.freeze({
  fp32: Object.freeze({ eMacPj: 4.6, eAcPj: 0.9 }),
  fp16: Object.freeze({ eMacPj: 1.5, eAcPj: 0.4 }),
  int8: Object.freeze({ eMacPj: 0.23, eAcPj: 0.03 }),
});

export const ENERGY_SOURCE = '45 nm CMOS (Horowitz, ISSCC 2014): MAC = multiply + add, AC = add';

export interface EnergyConstants extends EnergyPerOp {
  /** The preset the values start from. */
  preset: EnergyPresetName;
  /** Which values were overridden (--e-mac, --e-ac). */
  overridden: Array<'eMacPj' | 'eAcPj'>;
  source: string;
}

export class EnergyModelError extends SpikeclipError {
  constructor(message: string) {
    super(message, { code: 'E_ENERGY_MODEL', exitCode: EXIT.usage });
    this.name = 'EnergyModelError';
  }
}

function checkPj(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new EnergyModelError(`${what} must be a finite, non-negative number of picojoules, got ${String(v)}`);
  return v;
}

/** The constants of a preset, with optional overrides (picojoules per operation). */
export function energyConstants(preset: string = 'fp32', overrides: Partial<EnergyPerOp> = {}): EnergyConstants {
  if (!(ENERGY_PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new EnergyModelError(`unknown energy preset ${JSON.stringify(preset)}; choose one of ${ENERGY_PRESET_NAMES.join(', ')}`);
  }
  const p = ENERGY_PRESETS[preset as EnergyPresetName];
  const out: EnergyConstants = { preset: preset as EnergyPresetName, eMacPj: p.eMacPj, eAcPj: p.eAcPj, overridden: [], source: ENERGY_SOURCE };
  if (overrides.eMacPj !== undefined) {
    out.eMacPj = checkPj(overrides.eMacPj, 'E_MAC');
    out.overridden.push('eMacPj');
  }
  if (overrides.eAcPj !== undefined) {
    out.eAcPj = checkPj(overrides.eAcPj, 'E_AC');
    out.overridden.push('eAcPj');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Per-layer accounting

export type EncoderName = 'image' | 'text';

/** What a layer's energy is computed from. */
export interface LayerMeasurement {
  /** The layer as describeArchitecture lists it (name, kind, FLOPs per step, fan-out, steps). */
  spec: LayerOpSpec;
  encoder: EncoderName;
  /** Fraction of the layer's input elements that were non-zero (null when not known). */
  firingRate: number | null;
  /**
   * Exact synaptic operations per sample, counted from the spike tensors (null when only rates
   * are known, e.g. --rates). Used for AC layers.
   */
  exactSops: number | null;
  /** Operations per sample an all-ones input would give (exact, no padding taps); null when not measured. */
  connections: number | null;
}

/** How a layer's energy was obtained. */
export type EnergyBasis = 'macs' | 'sops-exact' | 'sops-estimate';

export interface LayerEnergy {
  layer: string;
  encoder: EncoderName;
  kind: OpKind;
  /** Dense multiply-accumulates per sample and time step (padding taps included). */
  flopsPerStep: number;
  /** Steps the layer runs per inference (T, or 1 for the projection after the readout). */
  timeSteps: number;
  /** Input firing rate (non-zero fraction of the input); for a MAC layer, the non-zero fraction of its real-valued input. */
  firingRate: number | null;
  /** Exact SOPs per sample (AC layers measured on data; null otherwise). */
  sops: number | null;
  /** fr x T x FLOPs per sample (AC layers with a known rate; null otherwise). */
  sopsEstimate: number | null;
  /** MACs per sample (MAC layers: FLOPs x steps; 0 for AC layers). */
  macs: number;
  /** The operation count the energy is computed from (MACs, exact SOPs, or the estimate). */
  ops: number;
  basis: EnergyBasis;
  /** Energy per sample, picojoules. */
  energyPj: number;
}

/** The energy of one layer (per sample). Throws when an AC layer has neither a count nor a rate. */
export function layerEnergy(m: LayerMeasurement, k: EnergyPerOp): LayerEnergy {
  const { spec } = m;
  const base = { layer: spec.name, encoder: m.encoder, kind: spec.kind, flopsPerStep: spec.flopsPerStep, timeSteps: spec.timeSteps, firingRate: m.firingRate };
  if (spec.kind === 'mac') {
    const macs = spec.flopsPerStep * spec.timeSteps;
    return { ...base, sops: null, sopsEstimate: null, macs, ops: macs, basis: 'macs', energyPj: k.eMacPj * macs };
  }
  const estimate = m.firingRate === null ? null : m.firingRate * spec.timeSteps * spec.flopsPerStep;
  const sops = m.exactSops;
  const ops = sops ?? estimate;
  if (ops === null) throw new EnergyModelError(`layer ${spec.name}: neither a spike count nor a firing rate`);
  return { ...base, sops, sopsEstimate: estimate, macs: 0, ops, basis: sops !== null ? 'sops-exact' : 'sops-estimate', energyPj: k.eAcPj * ops };
}

// ---------------------------------------------------------------------------------------------
// ANN twin

export interface AnnLayer {
  name: string;
  /** Multiply-accumulates per sample (T = 1). */
  flops: number;
}

const join = (p: string, n: string) => (p === '' ? n : `${p}.${n}`);

/**
 * Layers of the image ANN twin ScratchCLIP (models/ann-twin.ts) with their FLOPs, named as its
 * monitor records them: the tokenizer's convs, per block q/k/v/out projections, both softmax
 * attention matmuls (Q K^T and P V) and the MLP, then the projection. LayerNorm, softmax,
 * QuickGELU and BatchNorm are not multiply-accumulates and are not listed.
 */
export function annTwinImageLayers(cfg: ImageEncoderConfig, prefix = 'ann'): AnnLayer[] {
  const out: AnnLayer[] = [];
  const d = cfg.embedDim;
  const ch = [cfg.inChannels, ...tokenizerChannels(d)];
  let hw = cfg.imageSize;
  for (let i = 0; i < 5; i++) {
    if (i >= 3) hw = Math.floor((hw + 2 - 3) / 2) + 1;
    out.push({ name: join(prefix, `embeddings.block${i}_conv`), flops: hw * hw * ch[i + 1] * ch[i] * 9 });
  }
  const n = hw * hw;
  const hidden = d * cfg.mlpRatio;
  for (let k = 0; k < cfg.depth; k++) {
    const a = join(prefix, `encoder.layers.${k}.self_attn`);
    const m = join(prefix, `encoder.layers.${k}.mlp`);
    out.push({ name: `${a}.q_proj`, flops: n * d * d });
    out.push({ name: `${a}.k_proj`, flops: n * d * d });
    out.push({ name: `${a}.v_proj`, flops: n * d * d });
    out.push({ name: `${a}.qk_matmul`, flops: n * n * d });
    out.push({ name: `${a}.av_matmul`, flops: n * n * d });
    out.push({ name: `${a}.out_proj`, flops: n * d * d });
    out.push({ name: `${m}.fc1`, flops: n * d * hidden });
    out.push({ name: `${m}.fc2`, flops: n * hidden * d });
  }
  out.push({ name: join(prefix, 'proj'), flops: d * cfg.outputDim });
  return out;
}

/** The text encoder's twin: the same two Linear layers on real values, T = 1. */
export function annTwinTextLayers(cfg: TextEncoderConfig, prefix = 'ann_text'): AnnLayer[] {
  return [
    { name: join(prefix, 'fc1'), flops: cfg.contextLength * cfg.width * cfg.hidden },
    { name: join(prefix, 'fc2'), flops: cfg.hidden * cfg.outputDim },
  ];
}

// ---------------------------------------------------------------------------------------------
// Totals

export interface OpTotals {
  /** Multiply-accumulates per inference. */
  macs: number;
  /** Synaptic operations (accumulates) per inference. */
  sops: number;
  energyPj: number;
  energyMj: number;
}

export interface AnnEnergy {
  /** What the twin is. */
  model: string;
  flops: number;
  energyPj: number;
  energyMj: number;
}

export interface EncoderEnergy extends OpTotals {
  encoder: EncoderName;
  /** Dense FLOPs per step summed over the layers (the spiking model's size). */
  flopsPerStep: number;
  timeSteps: number;
  /** Inputs averaged over (images or prompts); 0 when computed from given rates. */
  samples: number;
  /** SOPs over the AC layers' dense operation count (sum SOPs / sum T * FLOPs): the effective firing rate. */
  meanFiringRate: number | null;
  ann: AnnEnergy;
  /** ANN energy / SNN energy (how many times less the spiking encoder spends); null when the SNN spends nothing. */
  ratio: number | null;
  layers: LayerEnergy[];
}

export const PJ_PER_MJ = 1e9;

export function totals(layers: LayerEnergy[]): OpTotals {
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const sops = layers.reduce((s, l) => s + (l.kind === 'ac' ? l.ops : 0), 0);
  const energyPj = layers.reduce((s, l) => s + l.energyPj, 0);
  return { macs, sops, energyPj, energyMj: energyPj / PJ_PER_MJ };
}

export function annEnergy(model: string, layers: AnnLayer[], k: EnergyPerOp): AnnEnergy {
  const flops = layers.reduce((s, l) => s + l.flops, 0);
  const energyPj = k.eMacPj * flops;
  return { model, flops, energyPj, energyMj: energyPj / PJ_PER_MJ };
}

/** Per-encoder energy from per-layer measurements (in forward order). */
export function encoderEnergy(
  encoder: EncoderName,
  measurements: LayerMeasurement[],
  ann: { model: string; layers: AnnLayer[] },
  k: EnergyPerOp,
  info: { timeSteps: number; samples: number },
): EncoderEnergy {
  const layers = measurements.map((m) => layerEnergy(m, k));
  const t = totals(layers);
  const acLayers = layers.filter((l) => l.kind === 'ac');
  const dense = acLayers.reduce((s, l) => s + l.flopsPerStep * l.timeSteps, 0);
  const a = annEnergy(ann.model, ann.layers, k);
  return {
    encoder,
    ...t,
    flopsPerStep: layers.reduce((s, l) => s + l.flopsPerStep, 0),
    timeSteps: info.timeSteps,
    samples: info.samples,
    meanFiringRate: dense > 0 ? t.sops / dense : null,
    ann: a,
    ratio: t.energyPj > 0 ? a.energyPj / t.energyPj : null,
    layers,
  };
}

export interface TotalEnergy extends OpTotals {
  /** What the total adds up, e.g. "one image + one prompt". */
  covers: string;
  ann: { flops: number; energyPj: number; energyMj: number };
  /** ANN energy / SNN energy; null when the SNN spends nothing. */
  ratio: number | null;
}

export function totalEnergy(encoders: EncoderEnergy[]): TotalEnergy {
  const macs = encoders.reduce((s, e) => s + e.macs, 0);
  const sops = encoders.reduce((s, e) => s + e.sops, 0);
  const energyPj = encoders.reduce((s, e) => s + e.energyPj, 0);
  const annPj = encoders.reduce((s, e) => s + e.ann.energyPj, 0);
  const annFlops = encoders.reduce((s, e) => s + e.ann.flops, 0);
  const names = encoders.map((e) => (e.encoder === 'image' ? 'one image' : 'one prompt'));
  return {
    covers: names.join(' + '),
    macs,
    sops,
    energyPj,
    energyMj: energyPj / PJ_PER_MJ,
    ann: { flops: annFlops, energyPj: annPj, energyMj: annPj / PJ_PER_MJ },
    ratio: energyPj > 0 ? annPj / energyPj : null,
  };
}

// ---------------------------------------------------------------------------------------------
// The stated model

/** What the report does not count (stated in every report). */
export const NOT_COUNTED: readonly string[] = Object.freeze([
  'BatchNorm (foldable into the preceding weights at inference) and LayerNorm',
  'max-pooling',
  'residual additions',
  'membrane updates of the LIF neurons (charge, threshold compare, reset)',
  'the temporal readout (weighted sum over T), the mean over tokens and the attention scale',
  'softmax and QuickGELU of the ANN twin',
  'the text embedding lookup',
  'memory traffic (weights, activations, membrane state) and spike routing',
]);

/** The assumptions behind the numbers, in words, for the report (depends on the architecture). */
export function assumptions(cfg: SpikeClipConfig, k: EnergyConstants): string[] {
  const t = cfg.image.timeSteps;
  const projFlops = cfg.image.embedDim * cfg.image.outputDim;
  const over = k.overridden.length > 0 ? ` (overridden: ${k.overridden.map((o) => (o === 'eMacPj' ? 'E_MAC' : 'E_AC')).join(', ')})` : '';
  return [
    `E = E_MAC x MACs + E_AC x SOPs with E_MAC = ${k.eMacPj} pJ and E_AC = ${k.eAcPj} pJ: preset ${k.preset}${over}, ${k.source}.`,
    `Layers with real-valued input cost MACs = FLOPs x the steps they run: the image encoder's first conv sees the same frame at all T = ${t} steps (FLOPs x T); the final projection runs once per image, after the temporal readout (FLOPs x 1, docs/method.md §8; counting it FLOPs x T would add ${(t - 1) * projFlops} MACs).`,
    'Layers with spike input cost ACs = exact SOPs: the non-zero input spikes times the operations each triggers, counted from the spike tensors and summed over T. For the zero-padded 3x3 convolutions, taps that land in the padding are not synapses (a border pixel has 6 or 4 taps, not 9); the estimate fr x T x FLOPs beside it counts them, as the dense FLOPs do, and so over-counts at the borders (about 4% at 32x32, 9% at 16x16, 19% at 8x8 for uniform spikes).',
    'Spiking self-attention: Q K^T is counted from the spikes of Q (each triggers N accumulates, one per key) and (Q K^T) V from the spikes of V (each adds a column of the integer score matrix, N accumulates): the other operand plays the synaptic weights.',
    'The text encoder has no MAC layer: the embedding is a lookup and both Linear layers see LIF spikes.',
    'Per image and per prompt: averages over the inputs run; the total adds one image and one prompt (in zero-shot classification the class prompts are encoded once and reused).',
    'The ANN twin has the same widths and runs once (T = 1): every multiply-accumulate costs E_MAC (image: ScratchCLIP with softmax attention, both attention matmuls included; text: the same two Linear layers on real values). FLOPs include padding taps.',
    'MACs, SOPs and FLOPs are multiply-accumulates (one MAC = one FLOP here, not two).',
  ];
}
