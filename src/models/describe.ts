/**
 * The architecture as data, computed from the config without allocating the weights:
 * every tensor (checkpoint name, shape, trainable or buffer) in the order Module.namedTensors()
 * lists them, PyTorch-style parameter counts, and the synaptic layers with their dense FLOPs
 * per sample and time step and their fan-out (the same numbers the layers report to a
 * SpikeMonitor). Used by `spikeclip inspect` and the energy report.
 */
import type { OpKind } from '../snn/monitor';
import { MultiStepNeuron } from '../snn/neuron';
import type { NeuronConfig } from '../snn/neuron-config';
import { validateConfig, type ImageEncoderConfig, type SpikeClipConfig, type TextEncoderConfig } from './config';
import { tokenizerChannels } from './image-encoder';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** false for buffers (BatchNorm running statistics). */
  trainable: boolean;
}

export interface LayerOpSpec {
  /** Monitor name, e.g. `image.block.0.attn.q_conv`. */
  name: string;
  kind: OpKind;
  /** Dense multiply-accumulates per sample and time step. */
  flopsPerStep: number;
  /** Operations per non-zero input element (= FLOPs / input elements). */
  fanOut: number;
  /** Time steps the layer runs per forward pass (1 for the projection after the readout). */
  timeSteps: number;
}

export interface PartDescription {
  /** Trainable scalars (PyTorch's count: running statistics excluded). */
  parameters: number;
  /** Scalars in buffers (BatchNorm running mean and variance). */
  buffers: number;
  tensors: TensorSpec[];
  layers: LayerOpSpec[];
  /** Sum of flopsPerStep over the layers. */
  flopsPerStep: number;
}

export interface ArchitectureDescription {
  config: SpikeClipConfig;
  image: PartDescription;
  text: PartDescription;
  total: { parameters: number; buffers: number };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const join = (p: string, n: string) => (p === '' ? n : `${p}.${n}`);

/** A depth-first list of a module's tensors: own tensors first, then children. */
class SpecBuilder {
  readonly all: TensorSpec[] = [];
  private readonly neuronCache = new Map<string, TensorSpec[]>();

  param(name: string, shape: number[]): void {
    this.all.push({ name, shape, trainable: true });
  }

  linear(name: string, inF: number, outF: number, bias = true): void {
    this.param(`${name}.weight`, [inF, outF]);
    if (bias) this.param(`${name}.bias`, [outF]);
  }

  conv3x3(name: string, inC: number, outC: number): void {
    this.param(`${name}.weight`, [3, 3, inC, outC]);
  }

  bn(name: string, c: number): void {
    this.param(`${name}.weight`, [c]);
    this.param(`${name}.bias`, [c]);
    this.all.push({ name: `${name}.running_mean`, shape: [c], trainable: false });
    this.all.push({ name: `${name}.running_var`, shape: [c], trainable: false });
  }

  /** A neuron's own tensors (PLIF's `w`), read from a throwaway instance. */
  neuron(name: string, cfg: NeuronConfig): void {
    const key = JSON.stringify(cfg);
    let specs = this.neuronCache.get(key);
    if (!specs) {
      const n = new MultiStepNeuron(cfg);
      specs = [
        ...n.namedParameters().map(([k, v]) => ({ name: k, shape: v.shape.slice(), trainable: true })),
        ...n.namedBuffers().map(([k, v]) => ({ name: k, shape: v.shape.slice(), trainable: false })),
      ];
      n.dispose();
      this.neuronCache.set(key, specs);
    }
    for (const s of specs) this.all.push({ ...s, name: `${name}.${s.name}` });
  }

  /** Params first, then buffers: the order of Module.namedTensors(). */
  ordered(): TensorSpec[] {
    return [...this.all.filter((t) => t.trainable), ...this.all.filter((t) => !t.trainable)];
  }
}

function part(tensors: TensorSpec[], layers: LayerOpSpec[]): PartDescription {
  return {
    parameters: tensors.filter((t) => t.trainable).reduce((s, t) => s + size(t.shape), 0),
    buffers: tensors.filter((t) => !t.trainable).reduce((s, t) => s + size(t.shape), 0),
    tensors,
    layers,
    flopsPerStep: layers.reduce((s, l) => s + l.flopsPerStep, 0),
  };
}

/** Tensors of the spiking image encoder, named `<prefix>.<name>` (prefix '' for none). */
export function imageEncoderTensors(cfg: ImageEncoderConfig, prefix = ''): TensorSpec[] {
  const b = new SpecBuilder();
  const p = (n: string) => join(prefix, n);
  const d = cfg.embedDim;
  const ch = [cfg.inChannels, ...tokenizerChannels(d)];
  b.param(p('weights_tensor'), [cfg.timeSteps]);
  for (let i = 0; i < 5; i++) {
    if (i > 0) b.neuron(p(`patch_embed.block${i}_lif`), cfg.neuron);
    b.conv3x3(p(`patch_embed.block${i}_conv`), ch[i], ch[i + 1]);
    b.bn(p(`patch_embed.block${i}_bn`), ch[i + 1]);
  }
  const attnNeuron = { ...cfg.neuron, vThreshold: cfg.attnThreshold };
  for (let k = 0; k < cfg.depth; k++) {
    const a = p(`block.${k}.attn`);
    b.neuron(`${a}.proj_lif`, cfg.neuron);
    for (const q of ['q', 'k', 'v']) {
      b.linear(`${a}.${q}_conv`, d, d, false);
      b.bn(`${a}.${q}_bn`, d);
      b.neuron(`${a}.${q}_lif`, cfg.neuron);
    }
    b.neuron(`${a}.attn_lif`, attnNeuron);
    b.linear(`${a}.proj_conv`, d, d);
    b.bn(`${a}.proj_bn`, d);
    const m = p(`block.${k}.mlp`);
    const hidden = d * cfg.mlpRatio;
    b.neuron(`${m}.mlp1_lif`, cfg.neuron);
    b.linear(`${m}.mlp1_conv`, d, hidden);
    b.bn(`${m}.mlp1_bn`, hidden);
    b.neuron(`${m}.mlp2_lif`, cfg.neuron);
    b.linear(`${m}.mlp2_conv`, hidden, d);
    b.bn(`${m}.mlp2_bn`, d);
  }
  b.linear(p('proj'), d, cfg.outputDim);
  return b.ordered();
}

/** Tensors of the spiking text encoder, named `<prefix>.<name>`. */
export function textEncoderTensors(cfg: TextEncoderConfig, prefix = ''): TensorSpec[] {
  const b = new SpecBuilder();
  const p = (n: string) => join(prefix, n);
  b.param(p('weights_tensor'), [cfg.timeSteps]);
  b.neuron(p('mlp_lif1'), cfg.neuron);
  b.linear(p('fc1'), cfg.contextLength * cfg.width, cfg.hidden);
  b.neuron(p('mlp_lif2'), cfg.neuron);
  b.linear(p('fc2'), cfg.hidden, cfg.outputDim);
  b.param(p('clip_embedding.token_embedding.weight'), [cfg.vocabSize, cfg.width]);
  b.param(p('clip_embedding.position_embedding.weight'), [cfg.maxPositions, cfg.width]);
  return b.ordered();
}

/** Synaptic layers of the image encoder, in forward order, as the monitor names them. */
export function imageEncoderLayers(cfg: ImageEncoderConfig, prefix = 'image'): LayerOpSpec[] {
  const out: LayerOpSpec[] = [];
  const t = cfg.timeSteps;
  const d = cfg.embedDim;
  const ch = [cfg.inChannels, ...tokenizerChannels(d)];
  let hw = cfg.imageSize;
  for (let i = 0; i < 5; i++) {
    if (i >= 3) hw = Math.floor((hw + 2 - 3) / 2) + 1;
    out.push({ name: join(prefix, `patch_embed.block${i}_conv`), kind: i === 0 ? 'mac' : 'ac', flopsPerStep: hw * hw * ch[i + 1] * ch[i] * 9, fanOut: ch[i + 1] * 9, timeSteps: t });
  }
  const n = hw * hw;
  const hidden = d * cfg.mlpRatio;
  for (let k = 0; k < cfg.depth; k++) {
    const a = join(prefix, `block.${k}.attn`);
    const m = join(prefix, `block.${k}.mlp`);
    for (const q of ['q', 'k', 'v']) out.push({ name: `${a}.${q}_conv`, kind: 'ac', flopsPerStep: n * d * d, fanOut: d, timeSteps: t });
    out.push({ name: `${a}.qk_matmul`, kind: 'ac', flopsPerStep: n * n * d, fanOut: n, timeSteps: t });
    out.push({ name: `${a}.av_matmul`, kind: 'ac', flopsPerStep: n * n * d, fanOut: n, timeSteps: t });
    out.push({ name: `${a}.proj_conv`, kind: 'ac', flopsPerStep: n * d * d, fanOut: d, timeSteps: t });
    out.push({ name: `${m}.mlp1_conv`, kind: 'ac', flopsPerStep: n * d * hidden, fanOut: hidden, timeSteps: t });
    out.push({ name: `${m}.mlp2_conv`, kind: 'ac', flopsPerStep: n * hidden * d, fanOut: d, timeSteps: t });
  }
  out.push({ name: join(prefix, 'proj'), kind: 'mac', flopsPerStep: d * cfg.outputDim, fanOut: cfg.outputDim, timeSteps: 1 });
  return out;
}

/** Synaptic layers of the text encoder (both see spikes; the embedding lookup is not counted). */
export function textEncoderLayers(cfg: TextEncoderConfig, prefix = 'text'): LayerOpSpec[] {
  const inF = cfg.contextLength * cfg.width;
  return [
    { name: join(prefix, 'fc1'), kind: 'ac', flopsPerStep: inF * cfg.hidden, fanOut: cfg.hidden, timeSteps: cfg.timeSteps },
    { name: join(prefix, 'fc2'), kind: 'ac', flopsPerStep: cfg.hidden * cfg.outputDim, fanOut: cfg.outputDim, timeSteps: cfg.timeSteps },
  ];
}

/**
 * Per-part parameter counts, tensor lists (checkpoint names `image.*`, `text.*`) and synaptic
 * layers of a SpikeCLIP config. Allocates nothing but a throwaway neuron per neuron setting.
 */
export function describeArchitecture(config: SpikeClipConfig): ArchitectureDescription {
  const cfg = validateConfig(config);
  const image = part(imageEncoderTensors(cfg.image, 'image'), imageEncoderLayers(cfg.image, 'image'));
  const text = part(textEncoderTensors(cfg.text, 'text'), textEncoderLayers(cfg.text, 'text'));
  return {
    config: cfg,
    image,
    text,
    total: { parameters: image.parameters + text.parameters, buffers: image.buffers + text.buffers },
  };
}
