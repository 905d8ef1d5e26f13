/**
 * What `spikeclip data info` reports: the registry's dataset summary (split sizes, per-class
 * counts, class names, the files looked for and found) plus, for the built-in shapes set, the
 * held-out zero-shot classes; and its human rendering. A service: the command parses and prints.
 */
import './shapes-dataset';
import { datasetInfo, DatasetInfo, defaultDataDir } from './registry';
import { shapesLayout } from './shapes';
import { BUILT_IN_DATASETS } from './archives';

export interface DataInfoReport extends DatasetInfo {
  /** The data directory searched (absent for the built-in shapes set). */
  dataDir?: string;
  builtIn: boolean;
  /** shapes: classes that never occur in train or val (only in test), for zero-shot tests. */
  heldOut?: string[];
}

export interface DataInfoOptions {
  dataDir?: string;
  seed?: number;
  valFraction?: number;
}

export async function dataInfo(name: string, opts: DataInfoOptions = {}): Promise<DataInfoReport> {
  const info = await datasetInfo(name, opts);
  const builtIn = (BUILT_IN_DATASETS as readonly string[]).includes(info.dataset);
  const report: DataInfoReport = { ...info, builtIn };
  if (!builtIn) report.dataDir = opts.dataDir ?? defaultDataDir();
  if (builtIn) {
    const l = shapesLayout();
    report.heldOut = l.heldOutLabels.map((i) => l.classNames[i]);
  }
  return report;
}

function perClass(counts: number[]): string {
  const present = counts.filter((c) => c > 0);
  if (present.length === 0) return '-';
  const lo = Math.min(...present);
  const hi = Math.max(...present);
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}

/** The human report. */
export function renderDataInfo(r: DataInfoReport, opts: { maxClasses?: number } = {}): string {
  const lines: string[] = [];
  lines.push(`${r.dataset}: ${r.title}`);
  if (r.dataDir) lines.push(`data directory: ${r.dataDir}`);
  const max = opts.maxClasses ?? 40;
  const names = r.classNames.length > max ? `${r.classNames.slice(0, max).join(', ')}, ... (${r.classNames.length - max} more; --json lists all)` : r.classNames.join(', ');
  lines.push(`${r.numClasses} classes: ${names}`);
  lines.push('');
  const header = ['split', 'images', 'classes', 'per class', 'origin'];
  const rows = r.splits.map((s) => [s.name, String(s.size), `${s.classCounts.filter((c) => c > 0).length}/${r.numClasses}`, perClass(s.classCounts), s.origin]);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((row) => row[k].length)));
  const fmt = (row: string[]): string =>
    row
      .map((c, k) => (k === 0 || k === row.length - 1 ? c.padEnd(widths[k]) : c.padStart(widths[k])))
      .join('  ')
      .trimEnd();
  lines.push(fmt(header));
  for (const row of rows) lines.push(fmt(row));
  if (r.heldOut && r.heldOut.length > 0) {
    lines.push('');
    lines.push(`held out of train and val (zero-shot classes, only in test): ${r.heldOut.join(', ')}`);
  }
  lines.push('');
  if (r.files.length === 0) lines.push('files: none (generated)');
  else {
    lines.push('files:');
    for (const f of r.files) lines.push(`  ${f.found ? 'found  ' : 'missing'}  ${f.path}  (${f.role})`);
  }
  return lines.join('\n');
}
