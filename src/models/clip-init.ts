/**
 * A fresh CLIP teacher to train from scratch: a preset (./clip-presets.ts) built as a
 * `ClipTeacher` and initialised as Hugging Face's `CLIPPreTrainedModel._init_weights` does
 * (the initialisation transformers' CLIP training starts from), reproducibly from a seed.
 *
 * With factor = `initializer_factor` (1), range = `initializer_range` (0.02), D a tower's width
 * and N its depth:
 *   token and text position embeddings   N(0, 0.02 factor)
 *   class_embedding                      N(0, D^-0.5 factor)
 *   patch_embedding, vision positions    N(0, range factor)
 *   q_proj, k_proj, v_proj weights       N(0, D^-0.5 (2N)^-0.5 factor)
 *   out_proj weight                      N(0, D^-0.5 factor)
 *   mlp.fc1 weight                       N(0, (2D)^-0.5 factor)
 *   mlp.fc2 weight                       N(0, D^-0.5 (2N)^-0.5 factor)
 *   text_projection / visual_projection  N(0, D^-0.5 factor) (D of the tower it projects)
 *   every Linear bias 0, every LayerNorm weight 1 and bias 0, logit_scale logit_scale_init_value.
 */
import * as tf from '../tf';
import { InitRng, normalInit } from '../snn/layers/init';
import { ClipConfig, ClipTowerConfig } from './clip-config';
import { ClipPreset, ClipPresetVocabulary, clipPresetConfig } from './clip-presets';
import { ClipTeacher } from './clip-teacher';

export const CLIP_INITIALIZER_RANGE = 0.02;
export const CLIP_INITIALIZER_FACTOR = 1.0;

/** What a tensor of the teacher is initialised to: N(0, std), or a constant. */
export type ClipInit = { normal: number } | { constant: number };

/** The initialisation of one Hugging Face-named tensor (see the module comment). */
export function clipInitOf(name: string, c: ClipConfig, factor = CLIP_INITIALIZER_FACTOR, range = CLIP_INITIALIZER_RANGE): ClipInit {
  if (name === 'logit_scale') return { constant: c.logitScaleInit };
  if (name === 'text_projection.weight') return { normal: c.text.hiddenSize ** -0.5 * factor };
  if (name === 'visual_projection.weight') return { normal: c.vision.hiddenSize ** -0.5 * factor };
  const tower: ClipTowerConfig = name.startsWith('text_model.') ? c.text : c.vision;
  const d = tower.hiddenSize;
  const inProj = d ** -0.5 * (2 * tower.numLayers) ** -0.5 * factor;
  if (/(layer_norm\d|pre_layrnorm|post_layernorm|final_layer_norm)\.weight$/.test(name)) return { constant: 1 };
  if (name.endsWith('.bias')) return { constant: 0 };
  if (name.endsWith('token_embedding.weight')) return { normal: 0.02 * factor };
  if (name === 'text_model.embeddings.position_embedding.weight') return { normal: 0.02 * factor };
  if (name.endsWith('class_embedding')) return { normal: d ** -0.5 * factor };
  if (name.endsWith('patch_embedding.weight') || name === 'vision_model.embeddings.position_embedding.weight') return { normal: range * factor };
  if (/self_attn\.(q|k|v)_proj\.weight$/.test(name)) return { normal: inProj };
  if (name.endsWith('self_attn.out_proj.weight')) return { normal: d ** -0.5 * factor };
  if (name.endsWith('mlp.fc1.weight')) return { normal: (2 * d) ** -0.5 * factor };
  if (name.endsWith('mlp.fc2.weight')) return { normal: inProj };
  throw new Error(`no CLIP initialisation for tensor ${name}`);
}

/** Re-initialises every parameter of `teacher` as Hugging Face does (one seed per tensor, in registration order). */
export function initClipTeacherWeights(teacher: ClipTeacher, seed: number): void {
  const rng = new InitRng(seed);
  for (const [name, v] of teacher.namedParameters()) {
    const init = clipInitOf(name, teacher.config);
    tf.tidy(() => v.assign('normal' in init ? normalInit(v.shape, init.normal, rng) : tf.fill(v.shape, init.constant)));
  }
}

export interface CreateTeacherOptions extends ClipPresetVocabulary {
  /** Seed of the initialisation (default 0). */
  seed?: number;
}

/** A fresh, Hugging Face-initialised teacher of a preset (`clip-tiny`, ...) for a vocabulary. */
export function createTeacher(preset: string | ClipPreset, opts: CreateTeacherOptions): ClipTeacher {
  const seed = opts.seed ?? 0;
  const teacher = new ClipTeacher(clipPresetConfig(preset, opts), { seed });
  initClipTeacherWeights(teacher, seed);
  return teacher;
}
