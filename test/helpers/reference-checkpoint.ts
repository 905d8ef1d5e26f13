/**
 * Reference SpikeCLIP checkpoints for tests, written without Python.
 *
 * The tensor names, shapes and order are written out here from the reference PyTorch code
 * (Lvchangze/SpikeCLIP model.py: `Vision_Encoder`, `Language_Encoder`; PyTorch's state_dict order:
 * a module's own parameters, then its buffers, then its children in registration order), not
 * derived from src/models, so the importer is tested against an independent description.
 *
 * Containers: a bare state dict or a timm `CheckpointSaver` dict ({epoch, arch, state_dict,
 * optimizer, version, metric}) as `torch.save` zip files (the writer in ./pickle-writer.ts), or a
 * safetensors file.
 */
import * as fs from 'fs';
import { serializeSafetensors, type SafeTensorInput } from '../../src/io/safetensors';
import { pickle, torchTensorNode, writeZip, type PVal, type ZipFileSpec } from './pickle-writer';

/** The shape fields of a Vision_Encoder. */
export interface RefImageArch {
  embedDim: number;
  depth: number;
  mlpRatio: number;
  timeSteps: number;
  inChannels: number;
  outputDim: number;
  /** ParametricLIFNode neurons (a scalar `w` each) instead of MultiStepLIFNode. */
  plif?: boolean;
}

/** The shape fields of a Language_Encoder. */
export interface RefTextArch {
  contextLength: number;
  vocabSize: number;
  width: number;
  maxPositions: number;
  hidden: number;
  outputDim: number;
  timeSteps: number;
  plif?: boolean;
}

export interface RefTensor {
  shape: number[];
  data: Float32Array | BigInt64Array;
}

export type RefStateDict = Map<string, RefTensor>;

/** spikeclip-tiny's image side: D 64, 1 block, MLP 4, T 2, 512-d output. */
export const TINY_IMAGE: RefImageArch = { embedDim: 64, depth: 1, mlpRatio: 4, timeSteps: 2, inChannels: 3, outputDim: 512 };
/** A small text side: vocabulary 64, width 8, 4 tokens of 8 position rows, hidden 16, T 2, 512-d output. */
export const SMALL_TEXT: RefTextArch = { contextLength: 4, vocabSize: 64, width: 8, maxPositions: 8, hidden: 16, outputDim: 512, timeSteps: 2 };

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Builder {
  readonly sd: RefStateDict = new Map();
  private readonly r: () => number;
  constructor(seed: number, private readonly plif: boolean) {
    this.r = rng(seed);
  }
  uniform(shape: number[], lo: number, hi: number): Float32Array {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.r();
    return out;
  }
  /** A weight with fan-in scaling (large enough that the neurons spike). */
  weight(name: string, shape: number[], fanIn: number): void {
    const a = 2 * Math.sqrt(3 / fanIn);
    this.sd.set(name, { shape, data: this.uniform(shape, -a, a) });
  }
  vec(name: string, n: number, lo: number, hi: number): void {
    this.sd.set(name, { shape: [n], data: this.uniform([n], lo, hi) });
  }
  bn(name: string, c: number): void {
    this.vec(`${name}.weight`, c, 0.8, 1.2);
    this.vec(`${name}.bias`, c, -0.2, 0.2);
    this.vec(`${name}.running_mean`, c, -0.1, 0.1);
    this.vec(`${name}.running_var`, c, 0.5, 1.5);
    this.sd.set(`${name}.num_batches_tracked`, { shape: [], data: BigInt64Array.from([1234n]) });
  }
  /** A spiking neuron: no state for MultiStepLIFNode, a scalar `w` for ParametricLIFNode. */
  lif(name: string): void {
    if (this.plif) this.sd.set(`${name}.w`, { shape: [], data: Float32Array.from([-Math.log(2 - 1) + (this.r() - 0.5) * 0.2]) });
  }
  readout(t: number): void {
    const w = new Float32Array(t);
    for (let i = 0; i < t; i++) w[i] = Math.log(0.8 * 2 ** -(t - 1 - i)) + (this.r() - 0.5) * 0.1;
    this.sd.set('weights_tensor', { shape: [1, t, 1], data: w });
  }
}

/** A random Vision_Encoder state dict (reference names, PyTorch layouts, state_dict order). */
export function referenceImageStateDict(a: RefImageArch, seed = 1): RefStateDict {
  const b = new Builder(seed, a.plif ?? false);
  const d = a.embedDim;
  const ch = [a.inChannels, d / 8, d / 4, d / 2, d, d];
  b.readout(a.timeSteps);
  for (let i = 0; i < 5; i++) {
    if (i > 0) b.lif(`patch_embed.block${i}_lif`);
    b.weight(`patch_embed.block${i}_conv.weight`, [ch[i + 1], ch[i], 3, 3], ch[i] * 9);
    b.bn(`patch_embed.block${i}_bn`, ch[i + 1]);
  }
  const h = d * a.mlpRatio;
  for (let k = 0; k < a.depth; k++) {
    const at = `block.${k}.attn`;
    b.lif(`${at}.proj_lif`);
    for (const q of ['q', 'k', 'v']) {
      b.weight(`${at}.${q}_conv.weight`, [d, d, 1], d);
      b.bn(`${at}.${q}_bn`, d);
      b.lif(`${at}.${q}_lif`);
    }
    b.lif(`${at}.attn_lif`);
    b.weight(`${at}.proj_conv.weight`, [d, d, 1], d);
    b.vec(`${at}.proj_conv.bias`, d, -0.1, 0.1);
    b.bn(`${at}.proj_bn`, d);
    const m = `block.${k}.mlp`;
    b.lif(`${m}.mlp1_lif`);
    b.weight(`${m}.mlp1_conv.weight`, [h, d, 1, 1], d);
    b.vec(`${m}.mlp1_conv.bias`, h, -0.1, 0.1);
    b.bn(`${m}.mlp1_bn`, h);
    b.lif(`${m}.mlp2_lif`);
    b.weight(`${m}.mlp2_conv.weight`, [d, h, 1, 1], h);
    b.vec(`${m}.mlp2_conv.bias`, d, -0.1, 0.1);
    b.bn(`${m}.mlp2_bn`, d);
  }
  b.weight('proj.weight', [a.outputDim, d], d);
  b.vec('proj.bias', a.outputDim, -0.05, 0.05);
  return b.sd;
}

/**
 * A random Language_Encoder state dict, with the `clip_embedding.position_ids` buffer that
 * transformers 4.30 (the reference's pin) keeps (`positionIds: false` leaves it out).
 */
export function referenceTextStateDict(a: RefTextArch, seed = 2, opts: { positionIds?: boolean } = {}): RefStateDict {
  const b = new Builder(seed, a.plif ?? false);
  b.readout(a.timeSteps);
  b.lif('mlp_lif1');
  b.weight('fc1.weight', [a.hidden, a.contextLength * a.width], a.contextLength * a.width / 8);
  b.vec('fc1.bias', a.hidden, -0.1, 0.1);
  b.lif('mlp_lif2');
  b.weight('fc2.weight', [a.outputDim, a.hidden], a.hidden);
  b.vec('fc2.bias', a.outputDim, -0.05, 0.05);
  if (opts.positionIds ?? true) b.sd.set('clip_embedding.position_ids', { shape: [1, a.maxPositions], data: BigInt64Array.from({ length: a.maxPositions }, (_, i) => BigInt(i)) });
  b.sd.set('clip_embedding.token_embedding.weight', { shape: [a.vocabSize, a.width], data: b.uniform([a.vocabSize, a.width], -1, 1) });
  b.sd.set('clip_embedding.position_embedding.weight', { shape: [a.maxPositions, a.width], data: b.uniform([a.maxPositions, a.width], -0.5, 0.5) });
  return b.sd;
}

export function withModulePrefix(sd: RefStateDict): RefStateDict {
  return new Map([...sd].map(([n, t]) => [`module.${n}`, t]));
}

/** safetensors bytes of a state dict (F32, int64 buffers as I64). */
export function referenceSafetensors(sd: RefStateDict, metadata?: Record<string, string>): Uint8Array {
  const m = new Map<string, SafeTensorInput>([...sd].map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
  return serializeSafetensors(m, metadata);
}

export function writeReferenceSafetensors(file: string, sd: RefStateDict, metadata?: Record<string, string>): void {
  fs.writeFileSync(file, referenceSafetensors(sd, metadata));
}

/** Collects storages while building a torch.save pickle. */
class Storages {
  readonly files: ZipFileSpec[] = [];
  private next = 0;
  constructor(private readonly root: string) {}
  tensor(t: RefTensor): PVal {
    const key = String(this.next++);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
    this.files.push({ name: `${this.root}/data/${key}`, data: bytes });
    const dtype = t.data instanceof BigInt64Array ? 'I64' : 'F32';
    return torchTensorNode(key, { shape: t.shape, values: t.data, dtype }, t.data.length);
  }
}

function orderedDict(items: Map<PVal, PVal>, withMetadata: boolean): PVal {
  const od: PVal = { $setitems: [{ $reduce: [{ $global: 'collections.OrderedDict' }, []] }, items] };
  if (!withMetadata) return od;
  const meta = new Map<PVal, PVal>([['_metadata', { $setitems: [{ $reduce: [{ $global: 'collections.OrderedDict' }, []] }, new Map<PVal, PVal>([['', new Map<PVal, PVal>([['version', 1]])]])] }]]);
  return { $build: [od, meta] };
}

export interface TorchSaveRefOptions {
  /** Wrap as timm's CheckpointSaver does: {epoch, arch, state_dict, optimizer (Adam), version, metric}. */
  timm?: boolean;
  arch?: string;
  epoch?: number;
  /** Extra top-level entries (e.g. a disallowed global, for the error tests). */
  extra?: Map<PVal, PVal>;
  /** Archive root directory (torch >= 1.13 writes "archive"). */
  root?: string;
}

/** Bytes of `torch.save(obj, f)` for a state dict, bare or in a timm checkpoint dict. */
export function referenceTorchSave(sd: RefStateDict, opts: TorchSaveRefOptions = {}): Uint8Array {
  const root = opts.root ?? 'archive';
  const st = new Storages(root);
  const items = new Map<PVal, PVal>();
  for (const [n, t] of sd) items.set(n, st.tensor(t));
  let value: PVal = orderedDict(items, true);
  if (opts.timm) {
    // Adam's state for each trainable tensor (torch 2.0: step is a float32 scalar tensor).
    const state = new Map<PVal, PVal>();
    const trainable = [...sd].filter(([n, t]) => t.data instanceof Float32Array && !/running_(mean|var)$/.test(n));
    trainable.slice(0, 3).forEach(([, t], i) => {
      state.set(i, new Map<PVal, PVal>([
        ['step', st.tensor({ shape: [], data: Float32Array.from([17]) })],
        ['exp_avg', st.tensor({ shape: t.shape, data: new Float32Array(t.data.length).fill(0.001) })],
        ['exp_avg_sq', st.tensor({ shape: t.shape, data: new Float32Array(t.data.length).fill(0.0001) })],
      ]));
    });
    const group = new Map<PVal, PVal>([
      ['lr', { $float: 5e-5 }],
      ['betas', { $tuple: [{ $float: 0.9 }, { $float: 0.999 }] }],
      ['eps', { $float: 1e-8 }],
      ['weight_decay', { $float: 0 }],
      ['amsgrad', false],
      ['maximize', false],
      ['foreach', null],
      ['capturable', false],
      ['differentiable', false],
      ['fused', null],
      ['initial_lr', { $float: 5e-5 }],
      ['params', trainable.map((_, i) => i)],
    ]);
    value = new Map<PVal, PVal>([
      ['epoch', opts.epoch ?? 12],
      ['arch', opts.arch ?? 'vision_encoder'],
      ['state_dict', value],
      ['optimizer', new Map<PVal, PVal>([['state', state], ['param_groups', [group]]])],
      ['version', 2],
      ['metric', { $float: 41.25 }],
    ]);
  }
  if (opts.extra) {
    const m = value instanceof Map ? value : new Map<PVal, PVal>([['state_dict', value]]);
    for (const [k, v] of opts.extra) m.set(k, v);
    value = m;
  }
  const files: ZipFileSpec[] = [{ name: `${root}/data.pkl`, data: pickle(value, { protocol: 2 }) }, { name: `${root}/byteorder`, data: Buffer.from('little') }, ...st.files];
  files.push({ name: `${root}/version`, data: Buffer.from('3\n') });
  return writeZip(files, { align: 64 });
}

export function writeReferenceTorchSave(file: string, sd: RefStateDict, opts: TorchSaveRefOptions = {}): void {
  fs.writeFileSync(file, referenceTorchSave(sd, opts));
}

/** A few Hugging Face CLIPModel tensors (what `convert import` must recognise and refuse). */
export function hfClipStateDict(): RefStateDict {
  const f = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) });
  return new Map<string, RefTensor>([
    ['logit_scale', f([])],
    ['text_model.embeddings.token_embedding.weight', f([64, 8])],
    ['text_model.embeddings.position_embedding.weight', f([8, 8])],
    ['vision_model.embeddings.class_embedding', f([8])],
    ['vision_model.embeddings.patch_embedding.weight', f([8, 3, 4, 4])],
    ['visual_projection.weight', f([16, 8])],
    ['text_projection.weight', f([16, 8])],
  ]);
}
