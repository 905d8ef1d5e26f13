/**
 * What the classifier is built from: the candidate class names and the prompt templates, from the
 * dataset's defaults or from user files (`--classnames FILE`, `--templates FILE`).
 *
 * Candidate names (docs/method.md §7, unseen-label experiments). The first K candidates always
 * stand for the dataset's K classes, in label order; with `--expand` any further names are
 * distractors: candidates with no images, which predictions may still pick.
 * - dataset: the dataset's own (CLIP-worded) class names;
 * - replace: different names for the same classes (a list of exactly K names, or a dictionary
 *   `{"horse": "zebra"}` renaming only some classes);
 * - expand: a list of more than K names (the dataset's classes first, then the distractors),
 *   only with `--expand`.
 *
 * Templates: a list applied to every class (`{}` or CLIP_benchmark's `{c}` is replaced by the
 * class name; each template must have one), or a per-class dictionary `{"class name": [prompts]}`
 * (CLIP_benchmark's class-specific prompts, CuPL style) keyed by the candidate names, which must
 * cover every candidate; placeholders in its prompts are filled, prompts without one are used
 * as they are.
 *
 * Files: a JSON list, a JSON object (dictionary), or plain text with one entry per line (blank
 * lines and lines starting with `#` are skipped).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { EXIT, UserError } from '../errors';
import { TEMPLATES_BY_DATASET } from '../text/templates';
import { readSettingsTextSync } from '../io/bounded-read';

/** A problem with a class-name or template file (exit status 4). */
export class LabelFileError extends UserError {
  constructor(message: string, fix: string) {
    super(message, { fix, code: 'E_LABEL_FILE', exitCode: EXIT.badInput });
    this.name = 'LabelFileError';
  }
}

/** Templates of the built-in synthetic shapes set (images of coloured shapes). */
export const SHAPES_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}.', 'a {}.', 'a drawing of a {}.', 'a rendering of a {}.']);

/** Templates for image folders and any other dataset without a list of its own. */
export const FOLDER_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {}.']);

/**
 * The default templates of a dataset name: CLIP's lists for CIFAR-10/100 (18), Flowers-102 (1)
 * and Pets (1); a few simple ones for shapes; "a photo of a {}." for folders and the rest.
 */
export function defaultTemplates(dataset: string): readonly string[] {
  const base = dataset.split(':')[0].toLowerCase();
  if (base === 'shapes' || base === 'shapes-simple') return SHAPES_TEMPLATES;
  return TEMPLATES_BY_DATASET[base] ?? FOLDER_TEMPLATES;
}

export type TemplateSpec =
  /** The same templates for every class. */
  | { kind: 'list'; templates: string[] }
  /** Prompts per candidate name. */
  | { kind: 'per-class'; prompts: Record<string, string[]> };

export type ClassNamesSpec =
  /** The whole candidate list (K names, or more with --expand). */
  | { kind: 'list'; names: string[] }
  /** Renames of some classes: dataset class name (or label index) -> new name. */
  | { kind: 'map'; renames: Record<string, string> };

const PLACEHOLDER = /\{c?\}/;

/** `template` with every `{}` / `{c}` replaced by the class name. */
export function fillPrompt(template: string, className: string): string {
  return template.replace(/\{c?\}/g, () => className);
}

/** sha256 (hex) of the canonical JSON of a value (objects with sorted keys). */
export function hashJson(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, canon(o[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(value))).digest('hex');
}

function readText(file: string, what: string): string {
  let text: string;
  try {
    text = readSettingsTextSync(file, (m) => new LabelFileError(m, `check the path given to --${what}`));
  } catch (e) {
    if (e instanceof LabelFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new LabelFileError(`cannot read the ${what} file ${file}${code ? ` (${code})` : ''}`, `check the path given to --${what}`);
  }
  return text.replace(/^\uFEFF/, '');
}

type Parsed = { kind: 'list'; items: string[] } | { kind: 'object'; entries: [string, unknown][] };

/** A JSON list, a JSON object, or text lines. */
function parseEntries(text: string, file: string, what: string): Parsed {
  const trimmed = text.trim();
  const fix = `give a JSON list, a JSON object or a text file with one entry per line (see docs/eval.md)`;
  if (trimmed === '') throw new LabelFileError(`the ${what} file ${file} is empty`, fix);
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch (e) {
      throw new LabelFileError(`${file}: invalid JSON (${(e as Error).message})`, fix);
    }
    if (Array.isArray(raw)) {
      raw.forEach((x, i) => {
        if (typeof x !== 'string') throw new LabelFileError(`${file}: entry ${i} is ${JSON.stringify(x)}, not a string`, fix);
      });
      const items = (raw as string[]).map((s) => s.trim());
      const blank = items.findIndex((s) => s === '');
      if (blank >= 0) throw new LabelFileError(`${file}: entry ${blank} is an empty string`, fix);
      if (items.length === 0) throw new LabelFileError(`the ${what} file ${file} is an empty list`, fix);
      return { kind: 'list', items };
    }
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length === 0) throw new LabelFileError(`the ${what} file ${file} is an empty dictionary`, fix);
    return { kind: 'object', entries };
  }
  const items = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (items.length === 0) throw new LabelFileError(`the ${what} file ${file} has no entries (only blank or # lines)`, fix);
  return { kind: 'list', items };
}

/** Parses the text of a templates file (see the module comment). */
export function parseTemplates(text: string, file = 'templates'): TemplateSpec {
  const p = parseEntries(text, file, 'templates');
  if (p.kind === 'list') {
    const missing = p.items.find((t) => !PLACEHOLDER.test(t));
    if (missing !== undefined) {
      throw new LabelFileError(`${file}: template ${JSON.stringify(missing)} has no {} placeholder for the class name`, 'write each template with {} (or {c}) where the class name goes, e.g. "a photo of a {}."');
    }
    return { kind: 'list', templates: p.items };
  }
  const prompts: Record<string, string[]> = {};
  for (const [name, v] of p.entries) {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x.trim() !== '')) {
      throw new LabelFileError(`${file}: the prompts of ${JSON.stringify(name)} must be a non-empty list of strings`, 'write {"class name": ["prompt", ...], ...}');
    }
    prompts[name.trim()] = (list as string[]).map((s) => s.trim());
  }
  return { kind: 'per-class', prompts };
}

export function readTemplatesFile(file: string): TemplateSpec {
  return parseTemplates(readText(file, 'templates'), file);
}

/** Parses the text of a class-names file (see the module comment). */
export function parseClassNames(text: string, file = 'classnames'): ClassNamesSpec {
  const p = parseEntries(text, file, 'classnames');
  if (p.kind === 'list') return { kind: 'list', names: p.items };
  const renames: Record<string, string> = {};
  for (const [k, v] of p.entries) {
    if (typeof v !== 'string' || v.trim() === '') {
      throw new LabelFileError(`${file}: the new name of ${JSON.stringify(k)} must be a non-empty string`, 'write {"dataset class name": "new name", ...}');
    }
    renames[k.trim()] = v.trim();
  }
  return { kind: 'map', renames };
}

export function readClassNamesFile(file: string): ClassNamesSpec {
  return parseClassNames(readText(file, 'classnames'), file);
}

export interface CandidateSet {
  /** Every candidate: the dataset's K classes (in label order), then any distractors. */
  names: string[];
  /** K: how many of the candidates are the dataset's classes. */
  numClasses: number;
  mode: 'dataset' | 'replace' | 'expand';
  /** Classes whose name differs from the dataset's. */
  replaced: { index: number; from: string; to: string }[];
  distractors: string[];
  /** The file, or `dataset`. */
  source: string;
}

/**
 * The candidate set for a dataset with `datasetClasses` (K names) and an optional class-names
 * file. A list must have exactly K names, or more than K with `expand`; a dictionary renames
 * classes it names (by dataset class name or label index) and may not name unknown classes.
 */
export function resolveCandidates(datasetClasses: readonly string[], spec: ClassNamesSpec | undefined, opts: { expand?: boolean; source?: string; dataset?: string } = {}): CandidateSet {
  const K = datasetClasses.length;
  const source = opts.source ?? 'classnames';
  const ds = opts.dataset ?? 'the dataset';
  let names: string[];
  if (spec === undefined) {
    names = [...datasetClasses];
  } else if (spec.kind === 'list') {
    const n = spec.names.length;
    if (n < K) {
      throw new LabelFileError(`${source} has ${n} class names but ${ds} has ${K} classes`, `list one name per class, in label order (${K} names; see \`spikeclip data info --dataset ${ds}\`)`);
    }
    if (n > K && !opts.expand) {
      throw new LabelFileError(
        `${source} has ${n} class names but ${ds} has ${K} classes; replacing names needs exactly ${K}`,
        `give exactly ${K} names, or add --expand to use the ${n - K} extra names as distractors (candidates with no images)`,
      );
    }
    names = [...spec.names];
  } else {
    names = [...datasetClasses];
    const unknown: string[] = [];
    for (const [key, to] of Object.entries(spec.renames)) {
      let i = datasetClasses.indexOf(key);
      if (i < 0 && /^\d+$/.test(key) && Number(key) < K) i = Number(key);
      if (i < 0) unknown.push(key);
      else names[i] = to;
    }
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 5).map((u) => JSON.stringify(u)).join(', ');
      throw new LabelFileError(
        `${source} renames ${unknown.length === 1 ? 'a class' : 'classes'} that ${ds} does not have: ${shown}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`,
        `use ${ds}'s class names (or label indices) as keys; its classes are: ${datasetClasses.slice(0, 12).join(', ')}${K > 12 ? ', ...' : ''}`,
      );
    }
  }
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const key = n.trim().toLowerCase();
    const j = seen.get(key);
    if (j !== undefined) {
      throw new LabelFileError(`candidate names ${j} and ${i} are both ${JSON.stringify(n)}`, 'every candidate needs its own name (a distractor must not repeat a class name)');
    }
    seen.set(key, i);
  });
  const replaced = datasetClasses.map((from, index) => ({ index, from, to: names[index] })).filter((r) => r.from !== r.to);
  const distractors = names.slice(K);
  const mode = distractors.length > 0 ? 'expand' : spec === undefined ? 'dataset' : 'replace';
  return { names, numClasses: K, mode, replaced, distractors, source: spec === undefined ? 'dataset' : source };
}

/**
 * The prompts of every candidate: per class, the templates filled with its name (list), or its
 * own prompts (per-class dictionary, which must cover every candidate and only them).
 */
export function promptsPerClass(names: readonly string[], spec: TemplateSpec, source = 'templates'): string[][] {
  if (spec.kind === 'list') return names.map((n) => spec.templates.map((t) => fillPrompt(t, n)));
  const keys = Object.keys(spec.prompts);
  const missing = names.filter((n) => !(n in spec.prompts));
  const unknown = keys.filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw new LabelFileError(
      `${source} has prompts for unknown classes: ${unknown.slice(0, 5).map((u) => JSON.stringify(u)).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`,
      `key the dictionary by the candidate class names (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})`,
    );
  }
  if (missing.length > 0) {
    throw new LabelFileError(
      `${source} has no prompts for ${missing.length} class${missing.length === 1 ? '' : 'es'}: ${missing.slice(0, 5).map((u) => JSON.stringify(u)).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
      'give every candidate class a list of prompts, or use a template list with {}',
    );
  }
  return names.map((n) => spec.prompts[n].map((p) => fillPrompt(p, n)));
}

/** The number of templates per class (a list's length, or the per-class counts' range). */
export function describeTemplates(spec: TemplateSpec): string {
  if (spec.kind === 'list') return `${spec.templates.length} template${spec.templates.length === 1 ? '' : 's'}`;
  const counts = Object.values(spec.prompts).map((p) => p.length);
  const lo = counts.reduce((a, b) => Math.min(a, b), Infinity);
  const hi = counts.reduce((a, b) => Math.max(a, b), 0);
  return `per-class prompts (${lo === hi ? lo : `${lo}-${hi}`} per class)`;
}
