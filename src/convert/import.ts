/**
 * `spikeclip convert import`: reference SpikeCLIP PyTorch checkpoints (Lvchangze/SpikeCLIP
 * `Vision_Encoder` and/or `Language_Encoder` state dicts, see ./reference-file.ts for the
 * containers) -> a spikeclip student checkpoint.
 *
 * The architecture comes from the tensor shapes (./architecture.ts) or from `arch` (a preset
 * name, a JSON file, or a config object), which the shapes must then match. A student holds both
 * encoders: a part that is not imported is initialised fresh from the seed, and the checkpoint's
 * config records which parts were imported (`imported: ['image']`). Everything is read and
 * checked before anything is written; the checkpoint is written atomically.
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeProvenance } from '../io/provenance';
import { CLIP_TOKENIZER_FILES } from '../teacher/checkpoint';
import { ConfigError, PRESET_NAMES, getPreset, validateConfig, type ImageEncoderConfig, type SpikeClipConfig, type TextEncoderConfig } from '../models/config';
import { fromPytorchStateDict } from '../models/pytorch-names';
import { SpikeClip } from '../models/spikeclip';
import type { ClipTokenizer } from '../text/tokenizer';
import { tokenizerFromFiles } from '../text/tokenizer-files';
import { saveStudentCheckpoint } from '../student/checkpoint';
import {
  PART_NAMES,
  REFERENCE_CLASSES,
  archDifferences,
  checkPartTensors,
  describePart,
  detectPart,
  inferImage,
  inferText,
  type EncoderPart,
  type InferredImage,
  type InferredText,
} from './architecture';
import { ConvertError } from './errors';
import { checkOutDir } from './out-dir';
import { readReferenceFile, type ReferenceFile, type ReferenceFormat } from './reference-file';
import { readSettingsTextSync } from '../io/bounded-read';

/** Default head count when neither the file's metadata nor the architecture says (the reference scripts' --num_heads). */
export const DEFAULT_HEADS = 8;

export interface ImportOptions {
  /** Image- or text-encoder checkpoint file. */
  from: string;
  /** Text-encoder checkpoint file. */
  text?: string;
  /** Checkpoint directory to write. */
  out: string;
  /** 'auto' (default): from the shapes; a preset name; a JSON file (an architecture, or a checkpoint config.json); or a config. */
  arch?: string | SpikeClipConfig;
  /** Attention heads of the image encoder (not in the weights). */
  heads?: number;
  /** Input size of the image encoder (not in the weights). */
  imageSize?: number;
  /** Seed of the freshly initialised part. */
  seed?: number;
  /** Replace `out` when it is already a spikeclip checkpoint. */
  force?: boolean;
  /** Folder with CLIP's vocab.json and merges.txt (a Hugging Face CLIP folder or a teacher checkpoint) to store in the checkpoint. */
  tokenizer?: string;
  /** Provenance to record (the command line, seed, ...); the source files are added. */
  provenance?: Record<string, unknown>;
  /** Called (before anything is written) with what the user must know: a part initialised fresh. */
  warn?: (message: string) => void;
}

export interface ImportSource {
  part: EncoderPart;
  /** The reference PyTorch class of this part. */
  referenceClass: string;
  file: string;
  format: ReferenceFormat;
  sha256: string;
  bytes: number;
  /** Key of the training-checkpoint dict holding the state dict (`state_dict`), '' for a bare one. */
  container: string;
  modulePrefix: boolean;
  /** Tensors imported. */
  tensors: number;
  /** Tensors skipped (num_batches_tracked, position_ids). */
  ignored: number;
  /** Scalars of a training checkpoint (epoch, arch, ...). */
  values: Record<string, string | number | boolean | null>;
}

export interface ImportResult {
  out: string;
  imported: EncoderPart[];
  /** The part initialised fresh (null when both were imported). */
  fresh: EncoderPart | null;
  architecture: SpikeClipConfig;
  /** Where the architecture came from: the shapes ('auto'), a preset, or a file. */
  archSource: 'auto' | 'preset' | 'file' | 'config';
  /** The preset the whole architecture equals, if any. */
  preset: string | null;
  sources: ImportSource[];
  parameters: { image: number; text: number; total: number };
  /** Assumptions and things skipped, one line each. */
  notes: string[];
  /** Files stored under tokenizer/. */
  tokenizerFiles: string[];
}

interface ResolvedArch {
  source: ImportResult['archSource'];
  label: string;
  config?: SpikeClipConfig;
}

function archError(where: string, e: unknown): never {
  if (e instanceof ConfigError) throw new ConvertError(`${where}: ${e.message}`, 'E_ARCH');
  throw e;
}

/** --arch: auto, a preset, a JSON file or a config object. */
export function resolveArch(arch: ImportOptions['arch']): ResolvedArch {
  if (arch === undefined || arch === 'auto') return { source: 'auto', label: 'auto' };
  if (typeof arch !== 'string') {
    try {
      return { source: 'config', label: 'the given architecture', config: validateConfig(arch, 'architecture') };
    } catch (e) {
      archError('architecture', e);
    }
  }
  if (PRESET_NAMES.includes(arch)) return { source: 'preset', label: arch, config: validateConfig(getPreset(arch)) };
  if (!fs.existsSync(arch) || !fs.statSync(arch).isFile()) {
    throw new ConvertError(`--arch ${arch}: not a preset (${['auto', ...PRESET_NAMES].join(', ')}) nor a JSON file`, 'E_ARCH', 'pass auto, a preset name, or an architecture JSON file');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readSettingsTextSync(arch, (m) => new Error(m)));
  } catch (e) {
    throw new ConvertError(`--arch ${arch}: invalid JSON (${(e as Error).message})`, 'E_ARCH');
  }
  if (typeof raw === 'object' && raw !== null && 'architecture' in raw) raw = (raw as { architecture: unknown }).architecture;
  try {
    return { source: 'file', label: arch, config: validateConfig(raw, arch) };
  } catch (e) {
    archError(arch, e);
  }
}

/** The architecture our own export stored in the safetensors metadata, if any. */
function metadataArch(ref: ReferenceFile): SpikeClipConfig | undefined {
  const s = ref.metadata.spikeclip_architecture;
  if (s === undefined) return undefined;
  try {
    return validateConfig(JSON.parse(s), 'spikeclip_architecture');
  } catch {
    return undefined;
  }
}

function withNeuron<T extends { neuron: ImageEncoderConfig['neuron'] }>(base: T, plif: boolean): T['neuron'] {
  if (plif && base.neuron.kind !== 'plif') return { ...base.neuron, kind: 'plif' };
  if (!plif && base.neuron.kind === 'plif') return { ...base.neuron, kind: 'lif' };
  return base.neuron;
}

interface PartPlan {
  part: EncoderPart;
  ref: ReferenceFile;
  config: ImageEncoderConfig | TextEncoderConfig;
  inferred: InferredImage | InferredText;
  ignored: string[];
}

function planPart(ref: ReferenceFile, part: EncoderPart, arch: ResolvedArch, opts: ImportOptions, notes: string[]): PartPlan {
  const inferred = part === 'image' ? inferImage(ref.file, ref.tensors) : inferText(ref.file, ref.tensors);
  let config: ImageEncoderConfig | TextEncoderConfig;
  if (arch.config !== undefined) {
    const given = part === 'image' ? arch.config.image : arch.config.text;
    const diffs = archDifferences(part, inferred, given);
    if (diffs.length > 0) {
      throw new ConvertError(`--arch ${arch.label} does not match ${ref.file}: ${diffs.join('; ')}`, 'E_ARCH_MISMATCH', 'use --arch auto to take the architecture from the file');
    }
    config = given;
  } else {
    const meta = metadataArch(ref);
    if (part === 'image') {
      const inf = inferred as InferredImage;
      const base = meta?.image ?? getPreset('spikeclip-b').image;
      const { plif, ...shapeFields } = inf;
      config = { ...base, ...shapeFields, neuron: withNeuron(base, plif) };
      if (meta !== undefined) notes.push(`${ref.file}: heads, input size and neuron settings from the file's spikeclip_architecture metadata`);
      else if (opts.heads === undefined) notes.push(`the head count is not in the weights: assuming ${DEFAULT_HEADS} (pass --heads N if the model was trained with another)`);
      if (meta === undefined) config = { ...config, heads: DEFAULT_HEADS };
    } else {
      const inf = inferred as InferredText;
      const base = meta?.text ?? getPreset('spikeclip-b').text;
      const { plif, ...shapeFields } = inf;
      config = { ...base, ...shapeFields, neuron: withNeuron(base, plif) };
    }
  }
  if (part === 'image') {
    const c = config as ImageEncoderConfig;
    config = { ...c, heads: opts.heads ?? c.heads, imageSize: opts.imageSize ?? c.imageSize };
  }
  const { ignored } = checkPartTensors(ref.file, part, config, ref.tensors);
  return { part, ref, config, inferred, ignored };
}

/** The preset whose part equals what a file holds (shape-wise), else spikeclip-b. */
function presetForFresh(plans: PartPlan[]): string {
  for (const name of PRESET_NAMES) {
    const p = getPreset(name);
    if (plans.every((pl) => archDifferences(pl.part, pl.inferred, pl.part === 'image' ? p.image : p.text).length === 0)) return name;
  }
  return 'spikeclip-b';
}

function samePreset(cfg: SpikeClipConfig): string | null {
  const s = JSON.stringify(cfg);
  for (const name of PRESET_NAMES) if (JSON.stringify(validateConfig(getPreset(name))) === s) return name;
  return null;
}

export interface TokenizerFolder {
  dir: string;
  files: Map<string, Uint8Array>;
  tokenizer: ClipTokenizer;
}

/** vocab.json + merges.txt (and the optional HF tokenizer files) from a folder or its tokenizer/ subfolder. */
export function readTokenizerFolder(dir: string): TokenizerFolder {
  const candidates = [dir, path.join(dir, 'tokenizer')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'vocab.json')) && fs.existsSync(path.join(d, 'merges.txt')));
  if (found === undefined) {
    throw new ConvertError(`--tokenizer ${dir}: no vocab.json and merges.txt there (nor in ${path.join(dir, 'tokenizer')})`, 'E_TOKENIZER', 'pass a Hugging Face CLIP folder or a teacher checkpoint');
  }
  const files = new Map<string, Uint8Array>();
  for (const f of CLIP_TOKENIZER_FILES) {
    const p = path.join(found, f);
    if (fs.existsSync(p)) files.set(f, new Uint8Array(fs.readFileSync(p)));
  }
  const tokenizer = tokenizerFromFiles(files, found);
  return { dir: found, files, tokenizer };
}

/** Everything read and checked, ready to be written (no TF.js involved so far). */
export interface ImportPlan {
  opts: ImportOptions;
  seed: number;
  arch: ResolvedArch;
  plans: PartPlan[];
  imported: EncoderPart[];
  fresh: EncoderPart | null;
  freshFrom: string;
  architecture: SpikeClipConfig;
  tokenizer?: TokenizerFolder;
  notes: string[];
}

/**
 * Reads the files and checks everything (output directory, containers, names, shapes,
 * architecture, tokenizer) without TF.js: every bad input fails here, before anything is written.
 */
export async function prepareImport(opts: ImportOptions): Promise<ImportPlan> {
  const seed = opts.seed ?? 0;
  const inputs = [opts.from, ...(opts.text !== undefined ? [opts.text] : [])];
  checkOutDir(opts.out, 'checkpoint', opts.force ?? false, inputs);
  if (opts.heads !== undefined && (!Number.isInteger(opts.heads) || opts.heads < 1)) throw new ConvertError(`--heads must be a positive integer, got ${opts.heads}`, 'E_ARCH');
  const arch = resolveArch(opts.arch);
  const notes: string[] = [];

  // Read and classify.
  const first = await readReferenceFile(opts.from, '--from');
  const firstPart = detectPart(first);
  const refs: { part: EncoderPart; ref: ReferenceFile }[] = [{ part: firstPart, ref: first }];
  if (opts.text !== undefined) {
    if (firstPart === 'text') {
      throw new ConvertError(`--from ${opts.from} holds a text encoder, and --text gives another one`, 'E_WRONG_PART', 'pass the image encoder with --from and the text encoder with --text');
    }
    const second = await readReferenceFile(opts.text, '--text');
    const part = detectPart(second);
    if (part !== 'text') {
      throw new ConvertError(`--text ${opts.text} holds an image encoder (Vision_Encoder names such as patch_embed.*), not a text encoder`, 'E_WRONG_PART', 'pass the Language_Encoder checkpoint with --text');
    }
    refs.push({ part, ref: second });
  }

  // Plan every part (all checks happen here).
  const plans = refs.map(({ part, ref }) => planPart(ref, part, arch, opts, notes));
  const imported = plans.map((p) => p.part).sort() as EncoderPart[];
  const fresh: EncoderPart | null = imported.length === 2 ? null : imported[0] === 'image' ? 'text' : 'image';
  const parts: Partial<SpikeClipConfig> = {};
  for (const p of plans) (parts as Record<string, unknown>)[p.part] = p.config;
  let freshFrom = arch.label;
  if (fresh !== null) {
    if (arch.config !== undefined) {
      (parts as Record<string, unknown>)[fresh] = arch.config[fresh];
    } else {
      freshFrom = presetForFresh(plans);
      const outputDim = plans[0].config.outputDim;
      (parts as Record<string, unknown>)[fresh] = { ...getPreset(freshFrom)[fresh], outputDim };
    }
  }
  let architecture: SpikeClipConfig;
  try {
    architecture = validateConfig(parts, 'architecture');
  } catch (e) {
    if (e instanceof ConfigError) {
      const fix = /heads/.test(e.message) ? 'pass --heads N with N dividing the embedding dimension' : 'the two encoders must share one embedding width (outputDim)';
      throw new ConvertError(`the imported encoders do not make a valid student: ${e.message}`, 'E_ARCH', fix);
    }
    throw e;
  }

  let tokenizer: TokenizerFolder | undefined;
  if (opts.tokenizer !== undefined) {
    tokenizer = readTokenizerFolder(opts.tokenizer);
    if (tokenizer.tokenizer.vocabSize > architecture.text.vocabSize) {
      throw new ConvertError(`--tokenizer ${opts.tokenizer}: its ${tokenizer.tokenizer.vocabSize} token ids do not fit the text encoder's ${architecture.text.vocabSize}-row embedding`, 'E_TOKENIZER', 'pass the tokenizer of the CLIP the text encoder was distilled from');
    }
  }

  for (const p of plans) {
    const r = p.ref;
    const how = [r.container !== '' ? `the "${r.container}" entry of a training checkpoint` : 'a bare state dict', r.modulePrefix ? 'module. prefix removed' : ''].filter((s) => s !== '');
    notes.push(`${PART_NAMES[p.part]} from ${r.file} (${r.format}; ${how.join(', ')}): ${describePart(p.part, p.config)}`);
    if (p.ignored.length > 0) {
      const kinds = [...new Set(p.ignored.map((n) => n.slice(n.lastIndexOf('.') + 1)))].join(', ');
      notes.push(`${r.file}: skipped ${p.ignored.length} buffer${p.ignored.length > 1 ? 's' : ''} spikeclip does not store (${kinds})`);
    }
  }
  if (fresh !== null) {
    const msg = `only the ${PART_NAMES[imported[0]]} was imported; the ${PART_NAMES[fresh]} is initialised fresh (seed ${seed}, ${freshFrom} architecture) and must be trained before its embeddings mean anything (config.json records imported: ["${imported[0]}"])`;
    notes.push(msg);
    opts.warn?.(msg);
  }

  return { opts, seed, arch, plans, imported, fresh, freshFrom, architecture, tokenizer, notes };
}

/** Builds the student (TF.js) and writes the checkpoint atomically. */
export async function executeImport(plan: ImportPlan): Promise<ImportResult> {
  const { opts, seed, arch, plans, imported, fresh, freshFrom, architecture, tokenizer, notes } = plan;

  // Build and write.
  const model = new SpikeClip(architecture, { seed });
  try {
    for (const p of plans) {
      const ours = fromPytorchStateDict(p.ref.tensors, p.part);
      model[p.part].loadStateDict(ours, { strict: true });
    }
    const sources: ImportSource[] = plans.map((p) => ({
      part: p.part,
      referenceClass: REFERENCE_CLASSES[p.part],
      file: p.ref.path,
      format: p.ref.format,
      sha256: p.ref.sha256,
      bytes: p.ref.bytes,
      container: p.ref.container,
      modulePrefix: p.ref.modulePrefix,
      tensors: p.ref.tensors.size - p.ignored.length,
      ignored: p.ignored.length,
      values: p.ref.values,
    }));
    const preset = samePreset(architecture);
    const provenance = {
      ...(opts.provenance ?? makeProvenance({ seed })),
      sources: sources.map((s) => ({ part: s.part, file: s.file, format: s.format, sha256: s.sha256 })),
    };
    const extra: Record<string, unknown> = {
      imported,
      import: {
        from: 'reference-pytorch',
        sources: sources.map((s) => ({ part: s.part, file: path.basename(s.file), format: s.format, sha256: s.sha256, container: s.container, modulePrefix: s.modulePrefix, values: s.values })),
        fresh: fresh === null ? null : { part: fresh, seed, architecture: freshFrom },
      },
    };
    if (preset !== null) extra.preset = preset;
    if (tokenizer !== undefined) {
      extra.tokenizer = {
        type: 'clip-bpe',
        files: [...tokenizer.files.keys()],
        context_length: architecture.text.contextLength,
        start_token_id: tokenizer.tokenizer.startId,
        end_token_id: tokenizer.tokenizer.endId,
        pad_token_id: tokenizer.tokenizer.endId,
      };
    }
    await saveStudentCheckpoint(opts.out, model, { provenance, extra, tokenizerFiles: tokenizer?.files });
    const image = model.image.parameterCount();
    const text = model.text.parameterCount();
    return {
      out: path.resolve(opts.out),
      imported,
      fresh,
      architecture,
      archSource: arch.source,
      preset,
      sources,
      parameters: { image, text, total: image + text },
      notes,
      tokenizerFiles: tokenizer ? [...tokenizer.files.keys()] : [],
    };
  } finally {
    model.dispose();
  }
}

/** Reads, checks and converts; writes the checkpoint only when everything is right. */
export async function importReferenceCheckpoint(opts: ImportOptions): Promise<ImportResult> {
  return executeImport(await prepareImport(opts));
}
