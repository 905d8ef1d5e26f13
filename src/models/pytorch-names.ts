/**
 * Mapping between our tensors and the reference PyTorch state dicts (Lvchangze/SpikeCLIP
 * `model.py`: `Vision_Encoder`, `Language_Encoder`, `CLIPVisionTransformer`).
 *
 * Our module names ARE the reference names, so only layouts change:
 *
 * | tensor                                   | ours                 | PyTorch                     |
 * |------------------------------------------|----------------------|-----------------------------|
 * | 3x3 convs `*block{i}_conv.weight`        | HWIO [3, 3, in, out] | OIHW [out, in, 3, 3]        |
 * | SSA `attn.{q,k,v,proj}_conv.weight`      | [in, out]            | Conv1d [out, in, 1]         |
 * | MLP `mlp.mlp{1,2}_conv.weight`           | [in, out]            | Conv2d [out, in, 1, 1]      |
 * | Linear `proj`, `fc1`, `fc2`, `*_proj`    | [in, out]            | [out, in]                   |
 * | `weights_tensor`                         | [T]                  | [1, T, 1]                   |
 * | everything else (biases, BN, LayerNorm, embeddings) | same      | same                        |
 *
 * PyTorch's BatchNorm also stores `num_batches_tracked` (int64): exported as 0 (it changes
 * nothing with a fixed momentum), ignored on import. HF's `clip_embedding.position_ids` buffer
 * (present in older transformers versions) and a DataParallel `module.` prefix are ignored on
 * import too.
 */
import { BadInputError } from '../errors';
import type { TensorData } from '../snn/module';

export type ModelPart = 'image' | 'text' | 'ann';

/** A PyTorch-side tensor. `dtype` is 'int64' only for `num_batches_tracked` (value kept in `data`). */
export interface TorchTensorData extends TensorData {
  dtype?: 'float32' | 'int64';
}

/** Anything with a shape and numeric data (e.g. a safetensors tensor of any dtype). */
export interface LooseTensorData {
  shape: number[];
  data: ArrayLike<number> | BigInt64Array | BigUint64Array;
}

export class PytorchNameError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_PYTORCH_NAME');
    this.name = 'PytorchNameError';
  }
}

type Layout = 'conv3x3' | 'conv1d' | 'conv1x1' | 'linear' | 'readout' | 'same';

const RULES: Record<ModelPart, [RegExp, Layout][]> = {
  image: [
    [/^patch_embed\.block\d+_conv\.weight$/, 'conv3x3'],
    [/^block\.\d+\.attn\.(q|k|v|proj)_conv\.weight$/, 'conv1d'],
    [/^block\.\d+\.mlp\.mlp[12]_conv\.weight$/, 'conv1x1'],
    [/^proj\.weight$/, 'linear'],
    [/^weights_tensor$/, 'readout'],
  ],
  text: [
    [/^fc[12]\.weight$/, 'linear'],
    [/^weights_tensor$/, 'readout'],
  ],
  ann: [
    [/^embeddings\.block\d+_conv\.weight$/, 'conv3x3'],
    [/^encoder\.layers\.\d+\.self_attn\.(q|k|v|out)_proj\.weight$/, 'linear'],
    [/^encoder\.layers\.\d+\.mlp\.fc[12]\.weight$/, 'linear'],
    [/^proj\.weight$/, 'linear'],
  ],
};

const IGNORED_ON_IMPORT = [/\.num_batches_tracked$/, /^clip_embedding\.position_ids$/];

/** The layout rule of one of our (unprefixed) tensor names. */
export function layoutOf(name: string, part: ModelPart): Layout {
  for (const [re, layout] of RULES[part]) if (re.test(name)) return layout;
  return 'same';
}

/** Row-major permutation of a tensor: out.shape[i] = shape[perm[i]]. */
export function permute(t: LooseTensorData, perm: number[]): TensorData {
  const shape = t.shape;
  const rank = shape.length;
  if (perm.length !== rank) throw new PytorchNameError(`permute: rank ${rank} does not match permutation [${perm.join(', ')}]`);
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * shape[i + 1];
  const src = toFloat32(t.data);
  const out = new Float32Array(src.length);
  const idx = new Array<number>(rank).fill(0);
  const strides = perm.map((p) => inStrides[p]);
  for (let o = 0; o < out.length; o++) {
    let off = 0;
    for (let i = 0; i < rank; i++) off += idx[i] * strides[i];
    out[o] = src[off];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return { shape: outShape, data: out };
}

function toFloat32(data: LooseTensorData['data']): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float32Array.from(data, (v) => Number(v));
  return Float32Array.from(data as ArrayLike<number>);
}

function expectShape(name: string, shape: number[], rank: number, trailingOnes: number, side: string): void {
  if (shape.length !== rank || shape.slice(rank - trailingOnes).some((d) => d !== 1)) {
    throw new PytorchNameError(`${name}: unexpected ${side} shape [${shape.join(', ')}]`);
  }
}

function toTorch(name: string, t: TensorData, layout: Layout): TensorData {
  switch (layout) {
    case 'conv3x3':
      expectShape(name, t.shape, 4, 0, 'our');
      return permute(t, [3, 2, 0, 1]);
    case 'conv1d':
    case 'conv1x1':
    case 'linear': {
      expectShape(name, t.shape, 2, 0, 'our');
      const p = permute(t, [1, 0]);
      const ones = layout === 'conv1d' ? [1] : layout === 'conv1x1' ? [1, 1] : [];
      return { shape: [...p.shape, ...ones], data: p.data };
    }
    case 'readout':
      expectShape(name, t.shape, 1, 0, 'our');
      return { shape: [1, t.shape[0], 1], data: toFloat32(t.data).slice() };
    case 'same':
      return { shape: t.shape.slice(), data: toFloat32(t.data).slice() };
  }
}

function fromTorch(name: string, t: LooseTensorData, layout: Layout): TensorData {
  switch (layout) {
    case 'conv3x3':
      expectShape(name, t.shape, 4, 0, 'PyTorch');
      return permute(t, [2, 3, 1, 0]);
    case 'conv1d':
      expectShape(name, t.shape, 3, 1, 'PyTorch');
      return permute({ shape: t.shape.slice(0, 2), data: t.data }, [1, 0]);
    case 'conv1x1':
      expectShape(name, t.shape, 4, 2, 'PyTorch');
      return permute({ shape: t.shape.slice(0, 2), data: t.data }, [1, 0]);
    case 'linear':
      expectShape(name, t.shape, 2, 0, 'PyTorch');
      return permute(t, [1, 0]);
    case 'readout':
      if (t.shape.length !== 3 || t.shape[0] !== 1 || t.shape[2] !== 1) {
        throw new PytorchNameError(`${name}: unexpected PyTorch shape [${t.shape.join(', ')}] (expected [1, T, 1])`);
      }
      return { shape: [t.shape[1]], data: toFloat32(t.data).slice() };
    case 'same':
      return { shape: t.shape.slice(), data: toFloat32(t.data).slice() };
  }
}

/**
 * Our tensors (names with or without a leading `<part>.`) -> the reference state dict of that
 * part (names without prefix), with PyTorch layouts and `num_batches_tracked` added per BN.
 */
export function toPytorchStateDict(ours: Map<string, TensorData>, part: ModelPart): Map<string, TorchTensorData> {
  const out = new Map<string, TorchTensorData>();
  const prefix = `${part}.`;
  for (const [full, t] of ours) {
    const name = full.startsWith(prefix) ? full.slice(prefix.length) : full;
    out.set(name, { ...toTorch(name, t, layoutOf(name, part)), dtype: 'float32' });
    if (name.endsWith('.running_mean')) {
      const base = name.slice(0, -'.running_mean'.length);
      out.set(`${base}.num_batches_tracked`, { shape: [], data: new Float32Array([0]), dtype: 'int64' });
    }
  }
  return out;
}

/**
 * A reference state dict of one part -> our tensors, named `<prefix><name>` (prefix '' for a
 * standalone encoder, 'image.' / 'text.' for the whole SpikeClip model). Load the result with
 * `module.loadStateDict(map)` (strict by default: it reports missing and unknown names).
 */
export function fromPytorchStateDict(theirs: Map<string, LooseTensorData>, part: ModelPart, opts: { prefix?: string } = {}): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  const prefix = opts.prefix ?? '';
  for (const [raw, t] of theirs) {
    const name = raw.startsWith('module.') ? raw.slice('module.'.length) : raw;
    if (IGNORED_ON_IMPORT.some((re) => re.test(name))) continue;
    out.set(prefix + name, fromTorch(name, t, layoutOf(name, part)));
  }
  return out;
}
