/**
 * Where `convert import` / `convert export` may write: a new or empty directory, or (with
 * --force) one that already holds what the same command writes. Anything else is never replaced.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvertError } from './errors';
import { readSettingsTextSync } from '../io/bounded-read';

/** What an existing output directory must look like to be replaceable with --force. */
export type OutKind = 'checkpoint' | 'export';

function readJsonQuiet(file: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readSettingsTextSync(file, (m) => new Error(m))) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isKind(dir: string, kind: OutKind): boolean {
  if (kind === 'checkpoint') return readJsonQuiet(path.join(dir, 'config.json'))?.format === 'spikeclip-checkpoint';
  return readJsonQuiet(path.join(dir, 'export.json'))?.format === 'spikeclip-export';
}

/** Throws unless `out` may be written (inputs: paths that must not be replaced). */
export function checkOutDir(out: string, kind: OutKind, force: boolean, inputs: string[] = []): void {
  const fix = 'choose a new --out directory';
  const abs = path.resolve(out);
  for (const i of inputs) {
    const ai = path.resolve(i);
    if (ai === abs || ai.startsWith(abs + path.sep)) throw new ConvertError(`--out ${out} would replace the input ${i}`, 'E_OUT_EXISTS', fix);
  }
  if (!fs.existsSync(out)) return;
  const st = fs.statSync(out);
  if (!st.isDirectory()) throw new ConvertError(`--out ${out} exists and is not a directory`, 'E_OUT_EXISTS', fix);
  if (fs.readdirSync(out).length === 0) return;
  const what = kind === 'checkpoint' ? 'a spikeclip checkpoint' : 'a spikeclip export folder';
  if (!isKind(out, kind)) throw new ConvertError(`refusing to replace ${out}: it exists and is not ${what}`, 'E_OUT_EXISTS', fix);
  if (!force) throw new ConvertError(`${out} is already ${what}`, 'E_OUT_EXISTS', 'pass --force to replace it, or choose a new --out');
}
