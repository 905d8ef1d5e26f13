/**
 * Reading a reference SpikeCLIP checkpoint file, whatever its container:
 *
 * - a PyTorch zip file written by `torch.save` (`.pth`, `.pth.tar`, `.bin`, `.pt`), read by the
 *   allow-list pickle reader (src/io/pytorch.ts: nothing in the file can run code). Either a bare
 *   state dict or a timm-style training checkpoint `{state_dict, epoch, arch, optimizer, ...}`
 *   (the state dict is taken from `state_dict`, `model`, `module` or `state_dict_ema`, in that
 *   order; optimiser tensors are never mistaken for weights);
 * - a `.safetensors` file holding a state dict.
 *
 * The container is recognised from the first bytes, not the file name. DataParallel's `module.`
 * prefix is removed from every name that has it.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { readPytorchFile, stateDictOf } from '../io/pytorch';
import { readSafetensorsFile, type SafeTensor } from '../io/safetensors';
import { ConvertError } from './errors';
import { readSettingsTextSync } from '../io/bounded-read';

export type ReferenceFormat = 'pytorch' | 'safetensors';

export interface ReferenceFile {
  /** The path as given. */
  file: string;
  /** The absolute path. */
  path: string;
  format: ReferenceFormat;
  sha256: string;
  bytes: number;
  /** The key of the training-checkpoint dict that held the state dict (`state_dict`), or '' for a bare state dict. */
  container: string;
  /** True when (some) names carried DataParallel's `module.` prefix, now removed. */
  modulePrefix: boolean;
  /** The state dict, names without `module.`; tensors as stored (any dtype). */
  tensors: Map<string, SafeTensor>;
  /** safetensors metadata ({} for PyTorch files). */
  metadata: Record<string, string>;
  /** Top-level scalar entries of a training checkpoint (`epoch`, `arch`, `version`, `metric`). */
  values: Record<string, string | number | boolean | null>;
}

const ZIP_MAGIC = [0x50, 0x4b]; // "PK"

export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function readHead(file: string, n: number): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(n);
    const got = fs.readSync(fd, head, 0, n, 0);
    return new Uint8Array(head.subarray(0, got));
  } finally {
    fs.closeSync(fd);
  }
}

function readJsonQuiet(file: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readSettingsTextSync(file, (m) => new Error(m))) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A directory given where a file is expected: say what it looks like. */
function directoryError(dir: string, flag: string): ConvertError {
  const cfg = readJsonQuiet(path.join(dir, 'config.json'));
  if (cfg?.format === 'spikeclip-checkpoint') {
    return new ConvertError(`${dir} is already a spikeclip checkpoint (kind ${JSON.stringify(cfg.kind)}): there is nothing to import`, 'E_WRONG_MODEL', 'use the checkpoint directory as it is, or `spikeclip convert export` to get reference-named files');
  }
  const hfWeights = ['model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json', 'pytorch_model.bin.index.json'].some((f) => fs.existsSync(path.join(dir, f)));
  if (cfg !== undefined && (String(cfg.model_type ?? '').startsWith('clip') || hfWeights)) {
    return new ConvertError(`${dir} looks like a Hugging Face CLIP model folder, not a SpikeCLIP checkpoint`, 'E_HF_CLIP', `use \`spikeclip convert teacher --from ${dir}\``);
  }
  return new ConvertError(`${flag} ${dir} is a directory; expected a checkpoint file`, 'E_NOT_A_CHECKPOINT', 'pass the reference .pth / .pth.tar / .bin or .safetensors file');
}

function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 9) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n > 0n && 8n + n <= BigInt(size) && head[8] === 0x7b; // '{'
}

function isLegacyTorch(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1] <= 5;
}

/**
 * Reads a reference checkpoint file (`flag` names the option it came from, for messages).
 * Errors: ConvertError for a missing file, a directory or an unknown format; PickleError /
 * SafetensorsError (their own messages, naming the file) for a damaged or unsafe file.
 */
export async function readReferenceFile(file: string, flag = '--from'): Promise<ReferenceFile> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new ConvertError(`${flag} ${file}: file not found`, 'E_NOT_FOUND');
  }
  if (st.isDirectory()) throw directoryError(file, flag);
  const head = readHead(file, 16);
  let format: ReferenceFormat;
  if (head.length >= 2 && head[0] === ZIP_MAGIC[0] && head[1] === ZIP_MAGIC[1]) format = 'pytorch';
  else if (looksLikeSafetensors(head, st.size)) format = 'safetensors';
  else if (isLegacyTorch(head)) format = 'pytorch'; // the reader explains that legacy files are not supported
  else {
    throw new ConvertError(
      `${file} is neither a PyTorch checkpoint (the zip format of torch.save) nor a safetensors file`,
      'E_NOT_A_CHECKPOINT',
      'pass the .pth / .pth.tar / .bin file written by torch.save, or a .safetensors file',
    );
  }
  const base = { file, path: path.resolve(file), format, sha256: sha256File(file), bytes: st.size };
  if (format === 'safetensors') {
    const { tensors, metadata } = await readSafetensorsFile(file);
    return { ...base, container: '', ...stripModule(tensors), metadata, values: {} };
  }
  const content = readPytorchFile(file);
  const sd = stateDictOf(content);
  const values: ReferenceFile['values'] = {};
  for (const [k, v] of content.values) {
    if (k.includes('.')) continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') values[k] = v;
    else if (typeof v === 'bigint') values[k] = Number(v);
  }
  return { ...base, container: sd.prefix, ...stripModule(sd.tensors), metadata: {}, values };
}

function stripModule(tensors: Map<string, SafeTensor>): { tensors: Map<string, SafeTensor>; modulePrefix: boolean } {
  let modulePrefix = false;
  const out = new Map<string, SafeTensor>();
  for (const [n, t] of tensors) {
    if (n.startsWith('module.')) {
      modulePrefix = true;
      out.set(n.slice('module.'.length), t);
    } else out.set(n, t);
  }
  return { tensors: out, modulePrefix };
}
