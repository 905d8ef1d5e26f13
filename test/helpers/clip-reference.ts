/**
 * An independent plain-TypeScript CLIP forward pass (loops over Float32Arrays, float64
 * accumulation, no TF.js), written from Hugging Face's modeling_clip.py, over weights in
 * Hugging Face names and PyTorch layouts. The golden tests compare the TF.js teacher with it.
 */
import type { ClipConfig, ClipTowerConfig } from '../../src/models/clip-config';

export type HfWeights = ReadonlyMap<string, { shape: number[]; data: Float32Array }>;

function w(weights: HfWeights, name: string): Float32Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

/** y[n, out] = x[n, in] W^T + b, W [out, in] (PyTorch Linear). */
function linear(x: Float64Array, n: number, inF: number, W: Float32Array, outF: number, b?: Float32Array): Float64Array {
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      const wo = o * inF;
      const xr = r * inF;
      for (let i = 0; i < inF; i++) s += x[xr + i] * W[wo + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float64Array, n: number, d: number, g: Float32Array, b: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mean) ** 2;
    v /= d;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * inv * g[i] + b[i];
  }
  return y;
}

function erf(x: number): number {
  // Series / continued fraction accurate to ~1e-15 (not the approximation the teacher may use).
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = x;
    let term = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

function act(v: number, kind: string): number {
  switch (kind) {
    case 'quick_gelu':
      return v / (1 + Math.exp(-1.702 * v));
    case 'gelu':
      return 0.5 * v * (1 + erf(v / Math.SQRT2));
    default:
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  }
}

/** One pre-LN CLIP encoder layer over a single sequence x [L, D] (in place semantics: returns new). */
function encoderLayer(weights: HfWeights, p: string, c: ClipTowerConfig, x: Float64Array, L: number, causal: boolean): Float64Array {
  const D = c.hiddenSize;
  const H = c.numHeads;
  const hd = D / H;
  const g = (n: string): Float32Array => w(weights, `${p}.${n}`);
  const h = layerNorm(x, L, D, g('layer_norm1.weight'), g('layer_norm1.bias'), c.layerNormEps);
  const q = linear(h, L, D, g('self_attn.q_proj.weight'), D, g('self_attn.q_proj.bias'));
  const k = linear(h, L, D, g('self_attn.k_proj.weight'), D, g('self_attn.k_proj.bias'));
  const v = linear(h, L, D, g('self_attn.v_proj.weight'), D, g('self_attn.v_proj.bias'));
  const att = new Float64Array(L * D);
  const scale = 1 / Math.sqrt(hd);
  const scores = new Float64Array(L);
  for (let head = 0; head < H; head++) {
    for (let i = 0; i < L; i++) {
      let max = -Infinity;
      const last = causal ? i : L - 1;
      for (let j = 0; j <= last; j++) {
        let s = 0;
        for (let e = 0; e < hd; e++) s += q[i * D + head * hd + e] * k[j * D + head * hd + e];
        scores[j] = s * scale;
        if (scores[j] > max) max = scores[j];
      }
      let z = 0;
      for (let j = 0; j <= last; j++) {
        scores[j] = Math.exp(scores[j] - max);
        z += scores[j];
      }
      for (let e = 0; e < hd; e++) {
        let s = 0;
        for (let j = 0; j <= last; j++) s += scores[j] * v[j * D + head * hd + e];
        att[i * D + head * hd + e] = s / z;
      }
    }
  }
  const o = linear(att, L, D, g('self_attn.out_proj.weight'), D, g('self_attn.out_proj.bias'));
  const x1 = new Float64Array(L * D);
  for (let i = 0; i < L * D; i++) x1[i] = x[i] + o[i];
  const h2 = layerNorm(x1, L, D, g('layer_norm2.weight'), g('layer_norm2.bias'), c.layerNormEps);
  const f1 = linear(h2, L, D, g('mlp.fc1.weight'), c.intermediateSize, g('mlp.fc1.bias'));
  for (let i = 0; i < f1.length; i++) f1[i] = act(f1[i], c.hiddenAct);
  const f2 = linear(f1, L, c.intermediateSize, g('mlp.fc2.weight'), D, g('mlp.fc2.bias'));
  const out = new Float64Array(L * D);
  for (let i = 0; i < L * D; i++) out[i] = x1[i] + f2[i];
  return out;
}

/** get_image_features of one preprocessed image, HWC [S, S, C] floats. */
export function referenceImageFeatures(weights: HfWeights, c: ClipConfig, image: Float32Array): Float32Array {
  const v = c.vision;
  const D = v.hiddenSize;
  const S = v.imageSize;
  const P = v.patchSize;
  const C = v.numChannels;
  const G = S / P;
  const N = G * G;
  const L = N + 1;
  const conv = w(weights, 'vision_model.embeddings.patch_embedding.weight'); // [D, C, P, P]
  const cls = w(weights, 'vision_model.embeddings.class_embedding');
  const pos = w(weights, 'vision_model.embeddings.position_embedding.weight');
  let x: Float64Array = new Float64Array(L * D);
  for (let d = 0; d < D; d++) x[d] = cls[d] + pos[d];
  for (let gy = 0; gy < G; gy++) {
    for (let gx = 0; gx < G; gx++) {
      const t = 1 + gy * G + gx;
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let ch = 0; ch < C; ch++)
          for (let ky = 0; ky < P; ky++)
            for (let kx = 0; kx < P; kx++) s += conv[((d * C + ch) * P + ky) * P + kx] * image[((gy * P + ky) * S + gx * P + kx) * C + ch];
        x[t * D + d] = s + pos[t * D + d];
      }
    }
  }
  x = layerNorm(x, L, D, w(weights, 'vision_model.pre_layrnorm.weight'), w(weights, 'vision_model.pre_layrnorm.bias'), v.layerNormEps);
  for (let i = 0; i < v.numLayers; i++) x = encoderLayer(weights, `vision_model.encoder.layers.${i}`, v, x, L, false);
  const pooled = layerNorm(x.subarray(0, D), 1, D, w(weights, 'vision_model.post_layernorm.weight'), w(weights, 'vision_model.post_layernorm.bias'), v.layerNormEps);
  return Float32Array.from(linear(pooled, 1, D, w(weights, 'visual_projection.weight'), c.projectionDim));
}

/** get_text_features of one row of token ids. */
export function referenceTextFeatures(weights: HfWeights, c: ClipConfig, ids: ArrayLike<number>): Float32Array {
  const t = c.text;
  const D = t.hiddenSize;
  const L = ids.length;
  const tok = w(weights, 'text_model.embeddings.token_embedding.weight');
  const pos = w(weights, 'text_model.embeddings.position_embedding.weight');
  let x: Float64Array = new Float64Array(L * D);
  for (let i = 0; i < L; i++) for (let d = 0; d < D; d++) x[i * D + d] = tok[ids[i] * D + d] + pos[i * D + d];
  for (let i = 0; i < t.numLayers; i++) x = encoderLayer(weights, `text_model.encoder.layers.${i}`, t, x, L, true);
  // HF pooling: legacy eos_token_id == 2 -> argmax(ids) (first maximum); else first index of eos.
  let at = 0;
  if (t.eosTokenId === 2) {
    for (let i = 1; i < L; i++) if (ids[i] > ids[at]) at = i;
  } else {
    at = Math.max(0, Array.from(ids).indexOf(t.eosTokenId));
  }
  const h = layerNorm(x.subarray(at * D, (at + 1) * D), 1, D, w(weights, 'text_model.final_layer_norm.weight'), w(weights, 'text_model.final_layer_norm.bias'), t.layerNormEps);
  return Float32Array.from(linear(h, 1, D, w(weights, 'text_projection.weight'), c.projectionDim));
}
