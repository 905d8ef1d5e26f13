/**
 * The `embed` service: image and text embeddings of a teacher or student checkpoint and their
 * cosine similarities.
 *
 * Teacher (kind "teacher", from `convert teacher`): images through the checkpoint's CLIP
 * preprocessing (224 bicubic + centre crop for CLIP), texts through its tokenizer padded to
 * max_position_embeddings (77). Student (kind "student"): images through the student view
 * (32x32; the reference's resize by default), texts through the checkpoint's tokenizer/ files
 * padded with the end token to the text encoder's context length (20).
 *
 * Embeddings are returned L2-normalised (what Hugging Face's CLIPModel returns as image_embeds /
 * text_embeds), so the similarity matrix is their dot products.
 */
import * as tf from '../tf';
import * as path from 'path';
import type { StudentResize } from '../data/transforms';
import type { ImageSource } from '../data/types';
import { checkEncoderCheckpoint, type Encoder, loadEncoder } from '../encoders/encoder';
import { TokenizerError } from '../text/tokenizer';

export interface EmbedRequest {
  model: string;
  images: readonly string[];
  texts: readonly string[];
  /** Student image view (default 'reference'). */
  studentResize?: StudentResize;
  /** Images per forward pass (default 8). */
  batchSize?: number;
  /** Called with a short progress text. */
  onProgress?: (text: string) => void;
}

export interface EmbedResult {
  model: { path: string; kind: 'teacher' | 'student'; dim: number; imageSize: number; contextLength: number };
  images: string[];
  texts: string[];
  /** L2-normalised, one row per image. */
  image_embeds: number[][];
  /** L2-normalised, one row per text. */
  text_embeds: number[][];
  /** The token ids each text was encoded to (start ... end, padded to the context length). */
  token_ids: number[][];
  /** Cosine similarities: images x texts when both are given, else images x images or texts x texts. */
  similarity: number[][];
  similarity_rows: 'images' | 'texts';
  similarity_columns: 'images' | 'texts';
  /** Teacher with images and texts: softmax over texts of exp(logit_scale) * cosine, per image (CLIP's zero-shot probabilities). */
  probabilities?: number[][];
  logit_scale?: number;
}

/** Image files -> features [n * dim], `batchSize` images per forward pass. */
async function embedImages(e: Encoder, files: readonly string[], batchSize: number): Promise<Float32Array> {
  const S = e.imageSize;
  const out = new Float32Array(files.length * e.dim);
  for (let i = 0; i < files.length; i += batchSize) {
    const chunk = files.slice(i, i + batchSize);
    const pixels = await e.preprocessImages(chunk.map((p): ImageSource => ({ kind: 'file', path: p })));
    const feats = tf.tidy(() => e.encodeImages(tf.tensor4d(pixels, [chunk.length, S, S, 3])));
    out.set(await feats.data(), i * e.dim);
    feats.dispose();
  }
  return out;
}

function l2rows(flat: Float32Array, n: number, d: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row = flat.subarray(i * d, (i + 1) * d);
    let s = 0;
    for (let j = 0; j < d; j++) s += row[j] * row[j];
    const inv = 1 / Math.max(Math.sqrt(s), 1e-8);
    out.push(Array.from(row, (v) => v * inv));
  }
  return out;
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export async function embed(req: EmbedRequest): Promise<EmbedResult> {
  const batchSize = req.batchSize ?? 8;
  const kind = await checkEncoderCheckpoint(req.model, { purpose: 'embed' });
  req.onProgress?.(`loading ${kind} checkpoint ${req.model}`);
  const e = await loadEncoder(req.model, { purpose: 'embed', studentResize: req.studentResize ?? 'reference' });
  try {
    const images = [...req.images];
    const texts = [...req.texts];
    let imageEmbeds: number[][] = [];
    let textEmbeds: number[][] = [];
    const tokenIds: number[][] = [];
    if (images.length > 0) {
      req.onProgress?.(`embedding ${images.length} image${images.length === 1 ? '' : 's'}`);
      imageEmbeds = l2rows(await embedImages(e, images, batchSize), images.length, e.dim);
    }
    if (texts.length > 0) {
      if (e.tokenizer === undefined) {
        throw new TokenizerError(`${req.model}: the checkpoint has no tokenizer/ folder (vocab.json, merges.txt), so texts cannot be embedded with it`);
      }
      req.onProgress?.(`embedding ${texts.length} text${texts.length === 1 ? '' : 's'}`);
      const ids = e.tokenize(texts);
      for (let i = 0; i < texts.length; i++) tokenIds.push(Array.from(ids.subarray(i * e.contextLength, (i + 1) * e.contextLength)));
      const feats = tf.tidy(() => e.encodeTokens(tf.tensor2d(ids, [texts.length, e.contextLength], 'int32')));
      textEmbeds = l2rows(feats.dataSync() as Float32Array, texts.length, e.dim);
      feats.dispose();
    }
    const both = images.length > 0 && texts.length > 0;
    const rows = images.length > 0 ? imageEmbeds : textEmbeds;
    const cols = both ? textEmbeds : rows;
    const similarity = rows.map((a) => cols.map((b) => dot(a, b)));
    const result: EmbedResult = {
      model: { path: path.resolve(req.model), kind: e.kind, dim: e.dim, imageSize: e.imageSize, contextLength: e.contextLength },
      images,
      texts,
      image_embeds: imageEmbeds,
      text_embeds: textEmbeds,
      token_ids: tokenIds,
      similarity,
      similarity_rows: images.length > 0 ? 'images' : 'texts',
      similarity_columns: both ? 'texts' : images.length > 0 ? 'images' : 'texts',
    };
    if (e.kind === 'teacher' && both && e.logitScale !== undefined) {
      const scale = Math.exp(e.logitScale);
      result.logit_scale = e.logitScale;
      result.probabilities = similarity.map((row) => {
        const m = Math.max(...row.map((v) => v * scale));
        const ex = row.map((v) => Math.exp(v * scale - m));
        const z = ex.reduce((a, b) => a + b, 0);
        return ex.map((v) => v / z);
      });
    }
    return result;
  } finally {
    e.dispose();
  }
}

/** The human table: similarities with row and column labels. */
export function formatEmbedResult(r: EmbedResult): string {
  const lines: string[] = [];
  const short = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
  lines.push(`model: ${r.model.kind} ${r.model.path} (${r.model.dim}-d embeddings, images ${r.model.imageSize}x${r.model.imageSize}, ${r.model.contextLength}-token texts)`);
  const rowLabels = r.similarity_rows === 'images' ? r.images.map((p) => path.basename(p)) : r.texts;
  const colLabels = r.similarity_columns === 'images' ? r.images.map((p) => path.basename(p)) : r.texts;
  if (rowLabels.length === 0) return lines.join('\n');
  lines.push('');
  lines.push(`cosine similarity (rows: ${r.similarity_rows}, columns: ${r.similarity_columns})`);
  const rw = Math.min(32, Math.max(...rowLabels.map((l) => l.length)));
  const cw = colLabels.map((l) => Math.max(8, Math.min(24, l.length)));
  lines.push(`${' '.repeat(rw)}  ${colLabels.map((l, j) => short(l, cw[j]).padStart(cw[j])).join('  ')}`);
  r.similarity.forEach((row, i) => {
    lines.push(`${short(rowLabels[i], rw).padEnd(rw)}  ${row.map((v, j) => v.toFixed(4).padStart(cw[j])).join('  ')}`);
  });
  if (r.probabilities && r.logit_scale !== undefined) {
    lines.push('');
    lines.push(`zero-shot probabilities (softmax over texts of ${Math.exp(r.logit_scale).toFixed(2)} x cosine)`);
    r.probabilities.forEach((row, i) => {
      const best = row.indexOf(Math.max(...row));
      lines.push(`${short(rowLabels[i], rw).padEnd(rw)}  ${row.map((v, j) => v.toFixed(4).padStart(cw[j])).join('  ')}   -> ${JSON.stringify(colLabels[best])}`);
    });
  }
  return lines.join('\n');
}
