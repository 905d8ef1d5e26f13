/**
 * Writes a `ClipTeacher` built or trained here (`pretrain --part clip --target teacher`) as a
 * teacher checkpoint, in exactly the layout `convertHfClipFolder` writes (docs/convert.md,
 * docs/checkpoint-format.md): config.json {kind "teacher", model "clip", hf_config,
 * preprocessor_config, tokenizer, source, parameters, provenance, ...extra}, model.safetensors
 * with the Hugging Face tensor names in PyTorch layouts (F32), tokenizer/ with the Hugging Face
 * tokenizer files. So every command that takes a converted teacher takes it, `loadTeacherCheckpoint`
 * gives back bit-identical weights, and `CLIPModel.load_state_dict` (transformers) takes the file.
 *
 * Everything is validated before anything is written (the config against the teacher, the
 * tokenizer against the config, the preprocessing against the image size, every weight finite),
 * and the directory is replaced atomically (saveCheckpoint).
 */
import * as path from 'path';
import { CheckpointError, TrainingStateInput, saveCheckpoint } from '../io/checkpoint';
import { parseClipPreprocessConfig } from '../data/clip-preprocess';
import { parseHfClipConfig, toHfClipConfig } from '../models/clip-config';
import { clipPreprocessorConfig } from '../models/clip-presets';
import { ClipTeacher } from '../models/clip-teacher';
import { tokenizerFromFiles } from '../text/tokenizer-files';
import { CLIP_TOKENIZER_FILES, checkTokenizerAgainstConfig } from './checkpoint';

/** config.json fields this module writes; `extra` may not replace them. */
const RESERVED = ['format', 'formatVersion', 'kind', 'model', 'hf_config', 'preprocessor_config', 'tokenizer', 'source', 'parameters', 'provenance'];

export interface SaveTeacherOptions {
  /** The Hugging Face tokenizer files: vocab.json and merges.txt (tokenizer_config.json, special_tokens_map.json optional). */
  tokenizerFiles: ReadonlyMap<string, Uint8Array>;
  /** preprocessor_config.json as an object (default: CLIP's processor at the tower's image size). */
  preprocessorConfig?: Record<string, unknown>;
  /** Hugging Face config.json as an object (default: `toHfClipConfig(teacher.config)`); must describe the teacher. */
  hfConfig?: Record<string, unknown>;
  /** Which code, command line, seed, data made it (src/io/provenance.ts). */
  provenance: object;
  /** config.json `source` (default `{"trained_by": "spikeclip"}`; converted teachers name the Hugging Face folder here). */
  source?: Record<string, unknown>;
  /** Further config.json fields (training recipe, data, ...), written after the standard ones. */
  extra?: Record<string, unknown>;
  /** Optimiser moments and loop state, to resume training (see io/checkpoint.ts). */
  trainingState?: TrainingStateInput;
}

export interface SavedTeacher {
  dir: string;
  tensors: number;
  parameters: number;
}

/** JSON with sorted keys, to compare configs whatever order their fields were built in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Saves `teacher` as a teacher checkpoint at `dir` (replacing what is there, atomically). */
export async function saveTeacherCheckpoint(dir: string, teacher: ClipTeacher, opts: SaveTeacherOptions): Promise<SavedTeacher> {
  const c = teacher.config;
  const hfConfig = opts.hfConfig ?? toHfClipConfig(c);
  const parsed = parseHfClipConfig(hfConfig, `${dir}: hf_config`);
  if (canonical(parsed) !== canonical(c)) {
    throw new Error(`saveTeacherCheckpoint: the given hf_config describes another model than the teacher (${JSON.stringify(parsed)} vs ${JSON.stringify(c)})`);
  }
  for (const k of Object.keys(opts.extra ?? {})) {
    if (RESERVED.includes(k)) throw new Error(`saveTeacherCheckpoint: extra field "${k}" would replace a standard teacher checkpoint field`);
  }
  const unknownFiles = [...opts.tokenizerFiles.keys()].filter((f) => !(CLIP_TOKENIZER_FILES as readonly string[]).includes(f));
  if (unknownFiles.length > 0) throw new CheckpointError(dir, `${dir}: tokenizer files ${unknownFiles.join(', ')} are not CLIP tokenizer files (${CLIP_TOKENIZER_FILES.join(', ')})`);
  const tokenizer = tokenizerFromFiles(opts.tokenizerFiles, path.join(dir, 'tokenizer'));
  checkTokenizerAgainstConfig(tokenizer, c, path.join(dir, 'tokenizer'));
  const preprocessorConfig = opts.preprocessorConfig ?? clipPreprocessorConfig(c.vision.imageSize);
  const pre = parseClipPreprocessConfig(preprocessorConfig, c.vision.imageSize, `${dir}: preprocessor_config`);
  if (pre.cropHeight !== c.vision.imageSize || pre.cropWidth !== c.vision.imageSize || !pre.doCenterCrop) {
    throw new CheckpointError(dir, `${dir}: preprocessor_config crops ${pre.cropHeight}x${pre.cropWidth} but the teacher takes ${c.vision.imageSize}x${c.vision.imageSize} images`);
  }

  const weights = teacher.toHfWeights();
  let parameters = 0;
  for (const [name, t] of weights) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new CheckpointError(dir, `${dir}: not saving the teacher: tensor ${name} holds ${t.data[i]} at index ${i} (the training diverged)`);
    }
    parameters += t.data.length;
  }
  const config = {
    kind: 'teacher',
    model: 'clip',
    hf_config: hfConfig,
    preprocessor_config: preprocessorConfig,
    tokenizer: {
      type: 'clip-bpe',
      files: [...opts.tokenizerFiles.keys()],
      context_length: c.text.maxPositions,
      start_token_id: tokenizer.startId,
      end_token_id: tokenizer.endId,
      pad_token_id: tokenizer.endId,
    },
    source: opts.source ?? { trained_by: 'spikeclip' },
    parameters,
    provenance: opts.provenance,
    ...(opts.extra ?? {}),
  };
  await saveCheckpoint(dir, { config, weights, tokenizerFiles: opts.tokenizerFiles, trainingState: opts.trainingState });
  return { dir: path.resolve(dir), tensors: weights.size, parameters };
}
