/**
 * Renderers of an energy report: a human table, JSON (the report object itself) and CSV.
 */
import type { EncoderEnergy, LayerEnergy } from './model';
import type { EnergyReport } from './report';

/** 1234567 -> "1.235 M" (4 significant digits, SI prefixes up to T). */
export function si(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const units: Array<[number, string]> = [
    [1e12, ' T'],
    [1e9, ' G'],
    [1e6, ' M'],
    [1e3, ' k'],
  ];
  for (const [f, u] of units) if (a >= f) return `${(v / f).toPrecision(digits)}${u}`;
  if (a === 0) return '0';
  return Number.isInteger(v) ? String(v) : v.toPrecision(digits);
}

/** Thousands separators: 1327104 -> "1,327,104" (non-integers keep 1 decimal). */
export function grouped(v: number): string {
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1);
  const [i, f] = s.split('.');
  return i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (f ? `.${f}` : '');
}

function pct(v: number | null, digits = 1): string {
  return v === null ? '-' : `${(v * 100).toFixed(digits)}%`;
}

function mj(v: number): string {
  return `${v.toPrecision(4)} mJ`;
}

function shortName(l: LayerEnergy): string {
  const p = `${l.encoder}.`;
  return l.layer.startsWith(p) ? l.layer.slice(p.length) : l.layer;
}

function table(rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (align[c] === 'l' ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}

function encoderSection(e: EncoderEnergy, mode: EnergyReport['mode']): string {
  const per = e.encoder === 'image' ? 'per image' : 'per prompt';
  const head = `${e.encoder} encoder (${per}, T = ${e.timeSteps}${e.samples > 0 ? `, averaged over ${e.samples} ${e.encoder === 'image' ? 'images' : 'prompts'}` : ''})`;
  const rows: string[][] = [['layer', 'kind', 'FLOPs/step', 'in rate', mode === 'measured' ? 'SOPs exact' : 'SOPs', 'fr*T*FLOPs', 'MACs', 'energy', 'share']];
  for (const l of e.layers) {
    rows.push([
      shortName(l),
      l.kind.toUpperCase(),
      si(l.flopsPerStep),
      l.kind === 'mac' ? (l.firingRate === null ? '-' : `(${pct(l.firingRate)})`) : pct(l.firingRate),
      l.kind === 'ac' ? si(l.ops) : '-',
      l.sopsEstimate === null ? '-' : si(l.sopsEstimate),
      l.kind === 'mac' ? si(l.macs) : '-',
      `${(l.energyPj / 1e6).toPrecision(4)} uJ`,
      pct(e.energyPj > 0 ? l.energyPj / e.energyPj : null),
    ]);
  }
  const rate = e.meanFiringRate === null ? '' : `, effective firing rate ${pct(e.meanFiringRate, 2)}`;
  const lines = [
    head,
    table(rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
    `  ${e.encoder} total: ${si(e.macs)} MACs + ${si(e.sops)} SOPs = ${mj(e.energyMj)}${rate}`,
    `  ANN twin, ${e.ann.model}: ${si(e.ann.flops)} MACs = ${mj(e.ann.energyMj)}  ->  ${e.ratio === null ? 'the spiking encoder performed no operations' : `the spiking ${e.encoder} encoder uses ${e.ratio.toFixed(2)}x less`}`,
  ];
  return lines.join('\n');
}

/** The human report. */
export function renderEnergyText(r: EnergyReport): string {
  const k = r.energy;
  const out: string[] = [];
  out.push(`SpikeCLIP energy report: ${r.architecture === 'checkpoint' ? 'student checkpoint' : r.architecture}, ${r.mode === 'measured' ? 'spikes counted on inputs' : 'from given firing rates'}`);
  out.push(`  weights:  ${r.weights.description}`);
  if (r.inputs.kind === 'rates') out.push(`  rates:    ${r.inputs.ratesFile?.path} (sha256 ${r.inputs.ratesFile?.sha256.slice(0, 16)}...)`);
  else {
    out.push(`  images:   ${r.inputs.imageSource}`);
    out.push(`  prompts:  ${r.inputs.textSource}`);
  }
  out.push(`  T:        ${r.timeSteps.image} (image), ${r.timeSteps.text} (text)`);
  out.push(`  energy:   ${k.preset}${k.overridden.length ? ' (overridden)' : ''}: E_MAC = ${k.eMacPj} pJ, E_AC = ${k.eAcPj} pJ (${k.source})`);
  if (r.backend) out.push(`  backend:  ${r.backend.name} (${r.backend.threads} thread${r.backend.threads === 1 ? '' : 's'})`);
  out.push('');
  for (const e of r.encoders) {
    out.push(encoderSection(e, r.mode));
    out.push('');
  }
  const t = r.total;
  out.push(`total (${t.covers}): ${si(t.macs)} MACs + ${si(t.sops)} SOPs = ${mj(t.energyMj)}; ANN twin ${mj(t.ann.energyMj)}${t.ratio === null ? '' : ` (${t.ratio.toFixed(2)}x more)`}`);
  out.push('');
  out.push('assumptions:');
  for (const a of r.assumptions) out.push(`  - ${a}`);
  out.push(`not counted: ${r.notCounted.join('; ')}.`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = [
  'encoder',
  'layer',
  'kind',
  'flops_per_step',
  'time_steps',
  'firing_rate',
  'sops_exact',
  'sops_estimate',
  'macs',
  'ops',
  'basis',
  'energy_pj',
  'samples',
  'preset',
  'e_mac_pj',
  'e_ac_pj',
  'weights',
  'inputs',
] as const;

/**
 * One row per layer, then per encoder a `(total)` row (its SOPs under sops_exact, or
 * sops_estimate when computed from rates; ops = MACs + SOPs) and an `(ann_twin)` row, then
 * `all` rows for the total; the last columns repeat what the numbers depend on (energy
 * constants, weights, inputs), so every row is traceable on its own. RFC 4180 quoting.
 */
export function renderEnergyCsv(r: EnergyReport): string {
  const k = r.energy;
  const weights = r.weights.kind === 'checkpoint' ? `sha256:${r.weights.sha256}` : r.weights.kind === 'fresh' ? `fresh:seed=${r.weights.seed}` : 'none';
  const inputs =
    r.inputs.kind === 'dataset'
      ? `${r.inputs.dataset}/${r.inputs.split}:seed=${r.inputs.seed}`
      : r.inputs.kind === 'synthetic'
        ? `synthetic:seed=${r.inputs.seed}`
        : `rates:sha256:${r.inputs.ratesFile?.sha256 ?? ''}`;
  const trace = [k.preset, k.eMacPj, k.eAcPj, weights, inputs];
  const rows: Array<Array<string | number | null>> = [[...CSV_COLUMNS]];
  const measured = r.mode === 'measured';
  for (const e of r.encoders) {
    for (const l of e.layers) {
      rows.push([e.encoder, l.layer, l.kind, l.flopsPerStep, l.timeSteps, l.firingRate, l.sops, l.sopsEstimate, l.macs, l.ops, l.basis, l.energyPj, e.samples, ...trace]);
    }
    const [exact, estimate] = measured ? [e.sops, null] : [null, e.sops];
    rows.push([e.encoder, '(total)', null, e.flopsPerStep, e.timeSteps, e.meanFiringRate, exact, estimate, e.macs, e.macs + e.sops, null, e.energyPj, e.samples, ...trace]);
    rows.push([e.encoder, '(ann_twin)', 'mac', e.ann.flops, 1, null, null, null, e.ann.flops, e.ann.flops, 'macs', e.ann.energyPj, null, ...trace]);
  }
  const t = r.total;
  const [exact, estimate] = measured ? [t.sops, null] : [null, t.sops];
  rows.push(['all', '(total)', null, null, null, null, exact, estimate, t.macs, t.macs + t.sops, null, t.energyPj, null, ...trace]);
  rows.push(['all', '(ann_twin)', 'mac', t.ann.flops, 1, null, null, null, t.ann.flops, t.ann.flops, 'macs', t.ann.energyPj, null, ...trace]);
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
