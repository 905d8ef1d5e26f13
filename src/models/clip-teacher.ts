/**
 * The frozen CLIP teacher in TF.js, computed exactly as Hugging Face's `CLIPModel` does
 * (`get_image_features` / `get_text_features`).
 *
 * Image tower: patch convolution (kernel = stride = patch, no bias), class token prepended,
 * position embedding added, `pre_layrnorm`, pre-LN transformer blocks
 * (`x += attn(ln1(x))`, `x += mlp(ln2(x))`; softmax attention scaled by head_dim^-0.5; MLP
 * fc1 -> QuickGELU/GELU -> fc2), then the class token through `post_layernorm` and
 * `visual_projection` (no bias).
 * Text tower: token + position embedding, the same blocks under a causal mask, `final_layer_norm`,
 * the hidden state at the end-of-text token (the first occurrence of `eos_token_id`; for configs
 * with `eos_token_id == 2`, HF's legacy rule argmax(input_ids)), then `text_projection` (no bias).
 *
 * Module names are the Hugging Face tensor names (`vision_model.encoder.layers.0.self_attn.q_proj.weight`,
 * ...), so `fromHfWeights` maps a `model.safetensors` / `pytorch_model.bin` one to one; only the
 * layouts differ (Linear [out, in] -> [in, out], the patch conv OIHW -> HWIO); `toHfWeights` maps
 * back. Trainable: every parameter (logit_scale through a contrastive loss) gets its gradient
 * from tf.variableGrads through encodeImage / encodeText on every backend (the token ids are read
 * on the host only to find the pooling positions; test/models/clip-teacher-training.test.ts).
 */
import * as tf from '../tf';
import { CheckpointError } from '../io/checkpoint';
import type { SafeTensor } from '../io/safetensors';
import { Module, ModuleError, type TensorData } from '../snn/module';
import { Conv2d, Embedding, InitRng, LayerNorm, Linear } from '../snn/layers';
import { ClipActivation, ClipConfig, ClipTowerConfig, clipTensorShapes, isIgnoredClipTensor, patchGrid } from './clip-config';

/** A module that only groups children (`encoder.layers.0`, ...). */
class Group extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.addModule(name, m);
  }
}

function hasKernel(name: string): boolean {
  try {
    return tf.getKernel(name, tf.getBackend()) !== undefined;
  } catch {
    return false;
  }
}

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), for backends without an Erf kernel. */
export function erfApprox(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const sign = tf.sign(x);
    const a = tf.abs(x);
    const t = tf.div(1, tf.add(1, tf.mul(0.3275911, a)));
    const poly = tf.mul(t, tf.add(0.254829592, tf.mul(t, tf.add(-0.284496736, tf.mul(t, tf.add(1.421413741, tf.mul(t, tf.add(-1.453152027, tf.mul(t, 1.061405429)))))))));
    return tf.mul(sign, tf.sub(1, tf.mul(poly, tf.exp(tf.neg(tf.square(a))))));
  });
}

export function activate(x: tf.Tensor, act: ClipActivation): tf.Tensor {
  return tf.tidy(() => {
    switch (act) {
      case 'quick_gelu':
        return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
      case 'gelu': {
        const scaled = tf.mul(x, Math.SQRT1_2);
        const erf = hasKernel('Erf') ? tf.erf(scaled) : erfApprox(scaled);
        return tf.mul(tf.mul(x, 0.5), tf.add(1, erf));
      }
      case 'gelu_new':
      case 'gelu_pytorch_tanh': {
        const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
      }
    }
  });
}

class ClipAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;
  private readonly heads: number;
  private readonly dim: number;

  constructor(name: string, dim: number, heads: number, rng: InitRng) {
    super();
    this.dim = dim;
    this.heads = heads;
    // Registration order k, v, q, out: the order of HF's state dict.
    this.k_proj = this.addModule('k_proj', new Linear({ name: `${name}.k_proj`, inFeatures: dim, outFeatures: dim, rng }));
    this.v_proj = this.addModule('v_proj', new Linear({ name: `${name}.v_proj`, inFeatures: dim, outFeatures: dim, rng }));
    this.q_proj = this.addModule('q_proj', new Linear({ name: `${name}.q_proj`, inFeatures: dim, outFeatures: dim, rng }));
    this.out_proj = this.addModule('out_proj', new Linear({ name: `${name}.out_proj`, inFeatures: dim, outFeatures: dim, rng }));
  }

  /** x [B, L, D]; mask [L, L] additive (0 or a large negative) or null. */
  forward(x: tf.Tensor3D, mask: tf.Tensor2D | null): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, l] = x.shape;
      const hd = this.dim / this.heads;
      const split = (t: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(t, [b, l, this.heads, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
      const q = split(tf.mul(this.q_proj.forward(x), hd ** -0.5));
      const k = split(this.k_proj.forward(x));
      const v = split(this.v_proj.forward(x));
      let scores: tf.Tensor = tf.matMul(q, k, false, true); // [B, H, L, L]
      if (mask) scores = tf.add(scores, mask);
      const attn = tf.softmax(scores, -1);
      const out = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [b, l, this.dim]);
      return this.out_proj.forward(out) as tf.Tensor3D;
    });
  }
}

class ClipMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly act: ClipActivation;

  constructor(name: string, dim: number, hidden: number, act: ClipActivation, rng: InitRng) {
    super();
    this.act = act;
    this.fc1 = this.addModule('fc1', new Linear({ name: `${name}.fc1`, inFeatures: dim, outFeatures: hidden, rng }));
    this.fc2 = this.addModule('fc2', new Linear({ name: `${name}.fc2`, inFeatures: hidden, outFeatures: dim, rng }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(activate(this.fc1.forward(x), this.act)));
  }
}

class ClipEncoderLayer extends Module {
  readonly self_attn: ClipAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: ClipMlp;
  readonly layer_norm2: LayerNorm;

  constructor(name: string, c: ClipTowerConfig, rng: InitRng) {
    super();
    this.self_attn = this.addModule('self_attn', new ClipAttention(`${name}.self_attn`, c.hiddenSize, c.numHeads, rng));
    this.layer_norm1 = this.addModule('layer_norm1', new LayerNorm(c.hiddenSize, c.layerNormEps));
    this.mlp = this.addModule('mlp', new ClipMlp(`${name}.mlp`, c.hiddenSize, c.intermediateSize, c.hiddenAct, rng));
    this.layer_norm2 = this.addModule('layer_norm2', new LayerNorm(c.hiddenSize, c.layerNormEps));
  }

  forward(x: tf.Tensor3D, mask: tf.Tensor2D | null): tf.Tensor3D {
    return tf.tidy(() => {
      const h = tf.add(x, this.self_attn.forward(this.layer_norm1.forward(x) as tf.Tensor3D, mask)) as tf.Tensor3D;
      return tf.add(h, this.mlp.forward(this.layer_norm2.forward(h))) as tf.Tensor3D;
    });
  }
}

class ClipEncoder extends Module {
  readonly layers: ClipEncoderLayer[] = [];

  constructor(name: string, c: ClipTowerConfig, rng: InitRng) {
    super();
    const group = this.addModule('layers', new Group());
    for (let i = 0; i < c.numLayers; i++) this.layers.push(group.add(String(i), new ClipEncoderLayer(`${name}.layers.${i}`, c, rng)));
  }

  forward(x: tf.Tensor3D, mask: tf.Tensor2D | null): tf.Tensor3D {
    let h = x;
    for (const layer of this.layers) {
      const next = layer.forward(h, mask);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }
}

class ClipVisionEmbeddings extends Module {
  readonly class_embedding: tf.Variable;
  readonly patch_embedding: Conv2d;
  readonly position_embedding: Embedding;

  constructor(c: ClipConfig['vision'], rng: InitRng) {
    super();
    const d = c.hiddenSize;
    this.class_embedding = this.addParam('class_embedding', tf.randomNormal([d], 0, d ** -0.5, 'float32', rng.next()));
    this.patch_embedding = this.addModule(
      'patch_embedding',
      new Conv2d({ name: 'vision_model.embeddings.patch_embedding', inChannels: c.numChannels, outChannels: d, kernelSize: c.patchSize, stride: c.patchSize, padding: 'valid', bias: false, rng }),
    );
    const g = patchGrid(c);
    this.position_embedding = this.addModule('position_embedding', new Embedding(g * g + 1, d, { rng }));
  }

  /** images NHWC [B, S, S, C] -> [B, 1 + N, D] */
  forward(images: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const b = images.shape[0];
      const d = this.class_embedding.shape[0];
      const patches = this.patch_embedding.forward(images); // [B, g, g, D]
      const n = patches.shape[1] * patches.shape[2];
      const tokens = tf.reshape(patches, [b, n, d]);
      const cls = tf.tile(tf.reshape(this.class_embedding, [1, 1, d]), [b, 1, 1]);
      return tf.add(tf.concat([cls, tokens], 1), this.position_embedding.weight) as tf.Tensor3D;
    });
  }
}

class ClipVisionTransformer extends Module {
  readonly embeddings: ClipVisionEmbeddings;
  readonly pre_layrnorm: LayerNorm;
  readonly encoder: ClipEncoder;
  readonly post_layernorm: LayerNorm;

  constructor(c: ClipConfig['vision'], rng: InitRng) {
    super();
    this.embeddings = this.addModule('embeddings', new ClipVisionEmbeddings(c, rng));
    this.pre_layrnorm = this.addModule('pre_layrnorm', new LayerNorm(c.hiddenSize, c.layerNormEps));
    this.encoder = this.addModule('encoder', new ClipEncoder('vision_model.encoder', c, rng));
    this.post_layernorm = this.addModule('post_layernorm', new LayerNorm(c.hiddenSize, c.layerNormEps));
  }

  /** The pooled output: post_layernorm(class token) [B, D]. */
  forward(images: tf.Tensor4D): tf.Tensor2D {
    const h0 = tf.tidy(() => this.pre_layrnorm.forward(this.embeddings.forward(images)) as tf.Tensor3D);
    const h = this.encoder.forward(h0, null);
    h0.dispose();
    return tf.tidy(() => {
      const cls = tf.squeeze(tf.slice(h, [0, 0, 0], [-1, 1, -1]), [1]);
      h.dispose();
      return this.post_layernorm.forward(cls) as tf.Tensor2D;
    });
  }
}

class ClipTextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;

  constructor(c: ClipConfig['text'], rng: InitRng) {
    super();
    this.token_embedding = this.addModule('token_embedding', new Embedding(c.vocabSize, c.hiddenSize, { std: 0.02, rng }));
    this.position_embedding = this.addModule('position_embedding', new Embedding(c.maxPositions, c.hiddenSize, { std: 0.01, rng }));
  }

  forward(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const l = ids.shape[1];
      const pos = tf.slice(this.position_embedding.weight, [0, 0], [l, -1]);
      return tf.add(this.token_embedding.forward(ids), pos) as tf.Tensor3D;
    });
  }
}

class ClipTextTransformer extends Module {
  readonly embeddings: ClipTextEmbeddings;
  readonly encoder: ClipEncoder;
  readonly final_layer_norm: LayerNorm;

  constructor(c: ClipConfig['text'], rng: InitRng) {
    super();
    this.embeddings = this.addModule('embeddings', new ClipTextEmbeddings(c, rng));
    this.encoder = this.addModule('encoder', new ClipEncoder('text_model.encoder', c, rng));
    this.final_layer_norm = this.addModule('final_layer_norm', new LayerNorm(c.hiddenSize, c.layerNormEps));
  }

  /** The hidden state at `poolIndex[b]` of each row after final_layer_norm: [B, D]. */
  forward(ids: tf.Tensor2D, poolIndex: Int32Array): tf.Tensor2D {
    const [b, l] = ids.shape;
    const mask = tf.tidy(() => {
      const row = tf.range(0, l, 1, 'int32');
      const above = tf.greater(tf.reshape(row, [1, l]), tf.reshape(row, [l, 1])); // j > i
      return tf.mul(tf.cast(above, 'float32'), -1e9) as tf.Tensor2D;
    });
    const h0 = this.embeddings.forward(ids);
    const h = this.encoder.forward(h0, mask);
    h0.dispose();
    mask.dispose();
    return tf.tidy(() => {
      const d = h.shape[2];
      const flat = tf.reshape(h, [b * l, d]);
      const idx = tf.tensor1d(Int32Array.from(poolIndex, (p, i) => i * l + p), 'int32');
      const pooled = tf.gather(flat, idx);
      h.dispose();
      return this.final_layer_norm.forward(pooled) as tf.Tensor2D;
    });
  }
}

export interface ClipTeacherOptions {
  /** Seed of the (random) initialisation, for benchmarks and tests; weights are normally loaded. */
  seed?: number;
}

export class ClipTeacher extends Module {
  readonly config: ClipConfig;
  readonly text_model: ClipTextTransformer;
  readonly vision_model: ClipVisionTransformer;
  readonly visual_projection: Linear;
  readonly text_projection: Linear;
  readonly logit_scale: tf.Variable;

  constructor(config: ClipConfig, opts: ClipTeacherOptions = {}) {
    super();
    this.config = config;
    const rng = new InitRng(opts.seed ?? 0);
    this.text_model = this.addModule('text_model', new ClipTextTransformer(config.text, rng));
    this.vision_model = this.addModule('vision_model', new ClipVisionTransformer(config.vision, rng));
    this.visual_projection = this.addModule('visual_projection', new Linear({ name: 'visual_projection', inFeatures: config.vision.hiddenSize, outFeatures: config.projectionDim, bias: false, rng }));
    this.text_projection = this.addModule('text_projection', new Linear({ name: 'text_projection', inFeatures: config.text.hiddenSize, outFeatures: config.projectionDim, bias: false, rng }));
    this.logit_scale = this.addParam('logit_scale', tf.scalar(config.logitScaleInit));
  }

  /** CLIP-preprocessed images NHWC [B, S, S, 3] -> image features [B, projectionDim] (not normalised). */
  encodeImage(images: tf.Tensor4D): tf.Tensor2D {
    const s = this.config.vision.imageSize;
    if (images.rank !== 4 || images.shape[1] !== s || images.shape[2] !== s || images.shape[3] !== this.config.vision.numChannels) {
      throw new ModuleError(`the teacher expects images [B, ${s}, ${s}, ${this.config.vision.numChannels}], got [${images.shape.join(', ')}]`);
    }
    const pooled = this.vision_model.forward(images);
    const out = this.visual_projection.forward(pooled) as tf.Tensor2D;
    pooled.dispose();
    return out;
  }

  /** Where each row is pooled: first eos (or argmax(ids) for legacy configs with eos_token_id 2). */
  poolIndices(ids: Int32Array, batch: number, length: number): Int32Array {
    const eos = this.config.text.eosTokenId;
    const out = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      const row = ids.subarray(b * length, (b + 1) * length);
      let at = 0;
      if (eos === 2) {
        for (let i = 1; i < length; i++) if (row[i] > row[at]) at = i;
      } else {
        at = row.indexOf(eos);
        if (at < 0) at = 0; // HF: argmax of an all-false row is 0
      }
      out[b] = at;
    }
    return out;
  }

  /** Token ids int32 [B, L] (L <= max_position_embeddings) -> text features [B, projectionDim] (not normalised). */
  encodeText(ids: tf.Tensor2D | { ids: Int32Array; batch: number; length: number }): tf.Tensor2D {
    const owned = !(ids instanceof tf.Tensor);
    const t = ids instanceof tf.Tensor ? ids : tf.tensor2d(ids.ids, [ids.batch, ids.length], 'int32');
    try {
      const [b, l] = t.shape;
      if (l > this.config.text.maxPositions) {
        throw new ModuleError(`text of ${l} tokens is longer than the teacher's ${this.config.text.maxPositions} positions`);
      }
      const host = ids instanceof tf.Tensor ? (ids.dataSync() as Int32Array) : ids.ids;
      for (let i = 0; i < host.length; i++) {
        if (host[i] < 0 || host[i] >= this.config.text.vocabSize) throw new ModuleError(`token id ${host[i]} is outside the teacher's vocabulary of ${this.config.text.vocabSize}`);
      }
      const asInt = t.dtype === 'int32' ? t : (tf.cast(t, 'int32') as tf.Tensor2D);
      try {
        const pooled = this.text_model.forward(asInt, this.poolIndices(Int32Array.from(host), b, l));
        const out = this.text_projection.forward(pooled) as tf.Tensor2D;
        pooled.dispose();
        return out;
      } finally {
        if (asInt !== t) asInt.dispose();
      }
    } finally {
      if (owned) t.dispose();
    }
  }

  /** The weights with Hugging Face names in PyTorch layouts (what `fromHfWeights` takes), copied out. */
  toHfWeights(): Map<string, TensorData> {
    return internalToHf(this.stateDict());
  }

  /**
   * A teacher with Hugging Face-named, PyTorch-laid-out weights (from model.safetensors,
   * pytorch_model.bin or a teacher checkpoint). Every tensor the config implies must be present
   * with its shape; `position_ids` buffers are ignored; anything else is refused. `source` names
   * the weights file in errors.
   */
  static fromHfWeights(config: ClipConfig, weights: ReadonlyMap<string, SafeTensor | TensorData>, source = 'weights'): ClipTeacher {
    checkHfWeights(config, weights, source);
    const teacher = new ClipTeacher(config);
    try {
      teacher.loadStateDict(hfToInternal(weights), { strict: true });
    } catch (err) {
      teacher.dispose();
      throw err;
    }
    return teacher;
  }
}

/** Throws a CheckpointError naming the file when names, shapes or dtypes do not match the config. */
export function checkHfWeights(config: ClipConfig, weights: ReadonlyMap<string, SafeTensor | TensorData>, source: string): void {
  const expected = clipTensorShapes(config);
  const missing = [...expected.keys()].filter((n) => !weights.has(n));
  if (missing.length > 0) {
    throw new CheckpointError(source, `${source}: missing tensor${missing.length > 1 ? 's' : ''} ${list(missing)} (is this a CLIPModel checkpoint matching config.json?)`);
  }
  const unexpected = [...weights.keys()].filter((n) => !expected.has(n) && !isIgnoredClipTensor(n));
  if (unexpected.length > 0) {
    throw new CheckpointError(source, `${source}: unexpected tensor${unexpected.length > 1 ? 's' : ''} ${list(unexpected)} (not part of a CLIPModel with this config.json)`);
  }
  for (const [name, shape] of expected) {
    const t = weights.get(name) as SafeTensor | TensorData;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(source, `${source}: tensor ${name} has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
    }
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) {
      const dtype = 'dtype' in t ? t.dtype : 'non-float';
      throw new CheckpointError(source, `${source}: tensor ${name} has dtype ${dtype}; CLIP weights must be floating point`);
    }
  }
}

function list(names: string[]): string {
  return `${names.slice(0, 4).join(', ')}${names.length > 4 ? ` and ${names.length - 4} more` : ''}`;
}

function transpose2d(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** OIHW -> HWIO. */
function oihwToHwio(data: ArrayLike<number>, o: number, i: number, h: number, w: number): Float32Array {
  const out = new Float32Array(o * i * h * w);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((y * w + x) * i + b) * o + a] = data[((a * i + b) * h + y) * w + x];
  return out;
}

/** HWIO -> OIHW. */
function hwioToOihw(data: ArrayLike<number>, h: number, w: number, i: number, o: number): Float32Array {
  const out = new Float32Array(o * i * h * w);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((a * i + b) * h + y) * w + x] = data[((y * w + x) * i + b) * o + a];
  return out;
}

/** Whether a tensor is stored transposed ([in, out] here, [out, in] in PyTorch): the Linear weights. */
function isLinearWeight(name: string, rank: number): boolean {
  return rank === 2 && name.endsWith('.weight') && !name.endsWith('_embedding.weight');
}

/** This module's layouts -> HF (PyTorch) layouts, same names: the exact inverse of {@link hfToInternal}. */
export function internalToHf(state: ReadonlyMap<string, TensorData>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, t] of state) {
    if (name.endsWith('patch_embedding.weight')) {
      const [h, w, i, o] = t.shape;
      out.set(name, { shape: [o, i, h, w], data: hwioToOihw(t.data, h, w, i, o) });
    } else if (isLinearWeight(name, t.shape.length)) {
      const [rows, cols] = t.shape;
      out.set(name, { shape: [cols, rows], data: transpose2d(t.data, rows, cols) });
    } else {
      out.set(name, { shape: t.shape.slice(), data: Float32Array.from(t.data) });
    }
  }
  return out;
}

/** HF (PyTorch-layout) tensors -> this module's layouts, same names. */
export function hfToInternal(weights: ReadonlyMap<string, SafeTensor | TensorData>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, t] of weights) {
    if (isIgnoredClipTensor(name)) continue;
    const data = t.data as Float32Array | Float64Array;
    if (name.endsWith('patch_embedding.weight')) {
      const [o, i, h, w] = t.shape;
      out.set(name, { shape: [h, w, i, o], data: oihwToHwio(data, o, i, h, w) });
    } else if (isLinearWeight(name, t.shape.length)) {
      const [rows, cols] = t.shape;
      out.set(name, { shape: [cols, rows], data: transpose2d(data, rows, cols) });
    } else {
      out.set(name, { shape: t.shape.slice(), data: data instanceof Float32Array ? data : Float32Array.from(data) });
    }
  }
  return out;
}
