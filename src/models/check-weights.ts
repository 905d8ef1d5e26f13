/**
 * Stored weights against an architecture, from the shapes alone: run before a model is built, so
 * a config.json that does not belong to its model.safetensors costs nothing to refuse.
 */
import type { SpikeClipConfig } from './config';
import { describeArchitecture } from './describe';

export interface ShapeMismatch {
  missing: string[];
  shapes: string[];
}

/** Our tensors that are missing from `stored` or stored with another shape (extras are ignored). */
export function compareWeightShapes(config: SpikeClipConfig, stored: ReadonlyMap<string, { shape: readonly number[] }>): ShapeMismatch {
  const d = describeArchitecture(config);
  const missing: string[] = [];
  const shapes: string[] = [];
  for (const t of [...d.image.tensors, ...d.text.tensors]) {
    const s = stored.get(t.name);
    if (s === undefined) missing.push(t.name);
    else if (s.shape.length !== t.shape.length || s.shape.some((v, i) => v !== t.shape[i])) {
      shapes.push(`${t.name} is [${s.shape.join(', ')}], the architecture needs [${t.shape.join(', ')}]`);
    }
  }
  return { missing, shapes };
}

/** One line describing a mismatch, or undefined when the stored tensors fit the architecture. */
export function describeWeightMismatch(config: SpikeClipConfig, stored: ReadonlyMap<string, { shape: readonly number[] }>): string | undefined {
  const { missing, shapes } = compareWeightShapes(config, stored);
  if (missing.length === 0 && shapes.length === 0) return undefined;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}`);
  if (shapes.length > 0) parts.push(`shape mismatch: ${shapes.slice(0, 3).join('; ')}${shapes.length > 3 ? ` and ${shapes.length - 3} more` : ''}`);
  return parts.join('; ');
}
