/**
 * `spikeclip eval collect`: many result files (ours, or CLIP_benchmark's own) as one table, as
 * CLIP_benchmark's `build` makes its benchmark CSV: one row per file, the metrics as columns
 * (`acc1`, `acc5`, `mean_per_class_recall`), `model_fullname` = model + ' ' + pretrained, then the
 * scalar fields that make a number traceable. Nested fields of our files (per-class accuracy,
 * confusion matrix, firing rates per layer) stay in the files; their summaries become columns.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EXIT, UserError } from '../errors';

export const COLLECT_FORMATS = ['csv', 'markdown'] as const;
export type CollectFormat = (typeof COLLECT_FORMATS)[number];

/** One result file as a flat row; a cell is a string, a number or empty (null). */
export type CollectRow = Record<string, string | number | null>;

export interface CollectTable {
  /** Column names in order: the CLIP_benchmark ones first. */
  columns: string[];
  rows: CollectRow[];
}

/** Columns in this order when present; other scalar fields follow in first-seen order. */
const LEADING = ['model_fullname', 'model', 'pretrained', 'dataset', 'task', 'language', 'acc1', 'acc5', 'mean_per_class_recall'];

export class CollectError extends UserError {
  constructor(message: string, fix: string) {
    super(message, { fix, code: 'E_BAD_INPUT', exitCode: EXIT.badInput });
    this.name = 'CollectError';
  }
}

/** The result files named by `inputs`: files as given, folders by their *.json files (sorted). */
export function resultFiles(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch {
      throw new CollectError(`${input}: no such file or folder`, 'give result files written by `spikeclip eval --output` (or by CLIP_benchmark), or folders holding them');
    }
    if (st.isDirectory()) {
      const found = fs.readdirSync(input).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(input, f));
      if (found.length === 0) throw new CollectError(`${input}: no .json result files in this folder`, 'point at the folder `spikeclip eval --output` wrote to');
      out.push(...found);
    } else {
      out.push(input);
    }
  }
  if (out.length === 0) throw new CollectError('no result files to collect', 'give one or more result files or folders');
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One result document as a row (throws CollectError for a file that is not a result). */
export function resultRow(file: string, doc: unknown): CollectRow {
  if (!isObject(doc) || !isObject(doc.metrics) || typeof doc.dataset !== 'string') {
    throw new CollectError(`${file}: not a result file (no "dataset" and "metrics")`, 'collect only files written by `spikeclip eval --output` or CLIP_benchmark');
  }
  const row: CollectRow = {};
  const model = typeof doc.model === 'string' ? doc.model : '';
  const pretrained = typeof doc.pretrained === 'string' ? doc.pretrained : '';
  row.model_fullname = `${model} ${pretrained}`.trim();
  for (const [k, v] of Object.entries(doc.metrics)) if (typeof v === 'number' || typeof v === 'string') row[k] = v;
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'metrics') continue;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') row[k] = typeof v === 'boolean' ? String(v) : v;
    else if (v === null) row[k] = null;
  }
  // summaries of our nested fields
  if (isObject(doc.checkpoint) && typeof doc.checkpoint.hash === 'string') row.checkpoint_hash = doc.checkpoint.hash;
  if (isObject(doc.backend) && typeof doc.backend.name === 'string') row.backend = `${doc.backend.name}/${String(doc.backend.threads)}`;
  if (isObject(doc.templates) && typeof doc.templates.hash === 'string') row.templates_hash = doc.templates.hash;
  if (isObject(doc.classnames) && typeof doc.classnames.hash === 'string') row.classnames_hash = doc.classnames.hash;
  row.file = file;
  return row;
}

/** Reads the result files into one table. */
export function collectResults(inputs: readonly string[]): CollectTable {
  const rows = resultFiles(inputs).map((file) => {
    let doc: unknown;
    try {
      doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new CollectError(`${file}: not readable JSON (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, 'collect only result files written by `spikeclip eval --output` or CLIP_benchmark');
    }
    return resultRow(file, doc);
  });
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  const columns = [...LEADING.filter((c) => seen.has(c)), ...[...seen].filter((c) => !LEADING.includes(c) && c !== 'file'), 'file'];
  return { columns, rows };
}

function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header row (every column). */
export function renderCsv(t: CollectTable): string {
  const lines = [t.columns.map(csvCell).join(',')];
  for (const r of t.rows) lines.push(t.columns.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** The columns a reader compares, as a Markdown table (metrics in %). */
const MARKDOWN_COLUMNS: [string, string][] = [
  ['model', 'model'],
  ['dataset', 'dataset'],
  ['split', 'split'],
  ['num_images', 'images'],
  // ranked among how many names: tells an `eval --classes` subset from the whole dataset
  ['num_candidates', 'classes'],
  ['acc1', 'acc1 %'],
  ['acc5', 'acc5 %'],
  ['mean_per_class_recall', 'mean per-class recall %'],
  ['time_steps', 'T'],
  ['mean_firing_rate', 'firing rate'],
];

function mdCell(column: string, v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v === 'number' && ['acc1', 'acc5', 'mean_per_class_recall'].includes(column)) return (100 * v).toFixed(2);
  if (typeof v === 'number' && column === 'mean_firing_rate') return v.toFixed(4);
  return String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A Markdown table of the columns that matter for comparing rows (those present in some row). */
export function renderMarkdown(t: CollectTable): string {
  const cols = MARKDOWN_COLUMNS.filter(([c]) => t.rows.some((r) => r[c] !== undefined && r[c] !== null));
  const right = new Set(['num_images', 'acc1', 'acc5', 'mean_per_class_recall', 'time_steps', 'mean_firing_rate']);
  const lines = [`| ${cols.map(([, h]) => h).join(' | ')} |`, `|${cols.map(([c]) => (right.has(c) ? '---:' : '---')).join('|')}|`];
  for (const r of t.rows) lines.push(`| ${cols.map(([c]) => mdCell(c, r[c])).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

/** The format an output file asks for by its extension (.csv, .md/.markdown), if any. */
export function formatOfFile(file: string): CollectFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.md' || ext === '.markdown') return 'markdown';
  return undefined;
}
