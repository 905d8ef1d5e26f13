/**
 * The per-layer chart of an energy report, as SVG written by hand (no browser, no plotting
 * library) and as PNG rendered from that SVG by sharp (librsvg).
 *
 * One row per layer (forward order, grouped by encoder): the layer name, a bar of its input
 * firing rate, and a bar of its energy per inference (MAC layers and AC layers in two colours;
 * for AC layers a tick marks the energy the estimate fr x T x FLOPs would give). The header
 * states the model, energy constants and inputs; each encoder's header its total beside the
 * ANN twin's.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { EXIT, SpikeclipError } from '../errors';
import type { EncoderEnergy, LayerEnergy } from './model';
import type { EnergyReport } from './report';

export class ChartError extends SpikeclipError {
  constructor(message: string) {
    super(message, { code: 'E_CHART', exitCode: EXIT.usage });
    this.name = 'ChartError';
  }
}

const COLOURS = {
  text: '#1f2933',
  muted: '#616e7c',
  grid: '#d9e2ec',
  rate: '#2680c2',
  ac: '#3ebd93',
  mac: '#e12d39',
  estimate: '#102a43',
  band: '#f5f7fa',
};

const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A "nice" axis maximum >= v whose quarters are round: 1, 2, 4, 6 or 8 times a power of ten. */
export function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function shortName(l: LayerEnergy): string {
  const p = `${l.encoder}.`;
  return l.layer.startsWith(p) ? l.layer.slice(p.length) : l.layer;
}

interface Geometry {
  width: number;
  nameW: number;
  rateX: number;
  rateW: number;
  energyX: number;
  energyW: number;
  row: number;
}

/** The chart as an SVG document (UTF-8 text). */
export function renderEnergySvg(r: EnergyReport): string {
  const g: Geometry = { width: 1100, nameW: 250, rateX: 270, rateW: 300, energyX: 630, energyW: 380, row: 18 };
  const parts: string[] = [];
  const t = (x: number, y: number, s: string, o: { size?: number; anchor?: string; weight?: string; fill?: string } = {}) =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${o.size ?? 12}"${o.anchor ? ` text-anchor="${o.anchor}"` : ''}${o.weight ? ` font-weight="${o.weight}"` : ''} fill="${o.fill ?? COLOURS.text}">${escapeXml(s)}</text>`;

  const k = r.energy;
  const inputs =
    r.inputs.kind === 'rates'
      ? `firing rates from ${path.basename(r.inputs.ratesFile?.path ?? 'file')}`
      : r.inputs.kind === 'dataset'
        ? `${r.inputs.images} images of ${r.inputs.dataset} (${r.inputs.split})`
        : `${r.inputs.images} synthetic images (seed ${r.inputs.seed})`;
  let y = 30;
  parts.push(t(20, y, `SpikeCLIP energy per layer: ${r.architecture === 'checkpoint' ? 'student checkpoint' : r.architecture}`, { size: 18, weight: 'bold' }));
  y += 22;
  parts.push(t(20, y, `${k.preset}: E_MAC ${k.eMacPj} pJ, E_AC ${k.eAcPj} pJ (45 nm)  |  ${inputs}  |  T = ${r.timeSteps.image}  |  ${r.weights.description}`, { size: 12, fill: COLOURS.muted }));
  y += 20;
  const tt = r.total;
  parts.push(
    t(20, y, `total (${tt.covers}): ${tt.energyMj.toPrecision(3)} mJ spiking vs ${tt.ann.energyMj.toPrecision(3)} mJ ANN twin ${tt.ratio === null ? '' : ` (${tt.ratio.toFixed(1)}x less)`}`, {
      size: 13,
      weight: 'bold',
    }),
  );
  y += 16;
  // legend
  const lx = 20;
  parts.push(`<rect x="${lx}" y="${y}" width="12" height="10" fill="${COLOURS.rate}"/>`, t(lx + 16, y + 9, 'input firing rate', { size: 11 }));
  const measured = r.mode === 'measured';
  parts.push(`<rect x="${lx + 140}" y="${y}" width="12" height="10" fill="${COLOURS.ac}"/>`, t(lx + 156, y + 9, measured ? 'energy, AC layer (exact SOPs)' : 'energy, AC layer (fr x T x FLOPs)', { size: 11 }));
  parts.push(`<rect x="${lx + 360}" y="${y}" width="12" height="10" fill="${COLOURS.mac}"/>`, t(lx + 376, y + 9, 'energy, MAC layer', { size: 11 }));
  if (measured) {
    parts.push(`<line x1="${lx + 500}" y1="${y - 1}" x2="${lx + 500}" y2="${y + 11}" stroke="${COLOURS.estimate}" stroke-width="2"/>`, t(lx + 506, y + 9, 'energy by the estimate fr x T x FLOPs', { size: 11 }));
  }
  y += 24;

  for (const e of r.encoders) y = encoderBlock(parts, e, r.energy.eAcPj, g, y, t);
  const height = Math.ceil(y + 10);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${height}" viewBox="0 0 ${g.width} ${height}" font-family="${FONT}">`,
    `<rect x="0" y="0" width="${g.width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function encoderBlock(
  parts: string[],
  e: EncoderEnergy,
  eAcPj: number,
  g: Geometry,
  y0: number,
  t: (x: number, y: number, s: string, o?: { size?: number; anchor?: string; weight?: string; fill?: string }) => string,
): number {
  let y = y0;
  const per = e.encoder === 'image' ? 'per image' : 'per prompt';
  parts.push(t(20, y + 14, `${e.encoder} encoder (${per}): ${e.energyMj.toPrecision(3)} mJ vs ANN twin ${e.ann.energyMj.toPrecision(3)} mJ ${e.ratio === null ? '' : ` (${e.ratio.toFixed(1)}x less)`}`, { size: 14, weight: 'bold' }));
  y += 26;
  const maxRate = niceMax(Math.max(0, ...e.layers.filter((l) => l.kind === 'ac').map((l) => l.firingRate ?? 0)));
  const estimateUj = (l: LayerEnergy) => (l.kind === 'ac' && l.sopsEstimate !== null ? (l.sopsEstimate * eAcPj) / 1e6 : 0);
  const energiesUj = e.layers.map((l) => Math.max(l.energyPj / 1e6, estimateUj(l)));
  const maxE = niceMax(Math.max(0, ...energiesUj));
  // column headers and axes labels
  parts.push(t(g.rateX, y + 10, 'input firing rate', { size: 11, fill: COLOURS.muted }));
  parts.push(t(g.energyX, y + 10, `energy per ${e.encoder === 'image' ? 'image' : 'prompt'} (uJ)`, { size: 11, fill: COLOURS.muted }));
  y += 16;
  const top = y;
  const n = e.layers.length;
  // grid lines (quarters)
  for (let q = 0; q <= 4; q++) {
    const xr = g.rateX + (g.rateW * q) / 4;
    const xe = g.energyX + (g.energyW * q) / 4;
    parts.push(`<line x1="${xr.toFixed(1)}" y1="${top}" x2="${xr.toFixed(1)}" y2="${top + n * g.row}" stroke="${COLOURS.grid}" stroke-width="1"/>`);
    parts.push(`<line x1="${xe.toFixed(1)}" y1="${top}" x2="${xe.toFixed(1)}" y2="${top + n * g.row}" stroke="${COLOURS.grid}" stroke-width="1"/>`);
  }
  e.layers.forEach((l, i) => {
    const ry = top + i * g.row;
    if (i % 2 === 1) parts.push(`<rect x="10" y="${ry}" width="${g.width - 20}" height="${g.row}" fill="${COLOURS.band}" fill-opacity="0.6"/>`);
    parts.push(t(g.nameW, ry + 13, shortName(l), { size: 11, anchor: 'end' }));
    const bh = g.row - 6;
    if (l.kind === 'ac' && l.firingRate !== null) {
      const w = (g.rateW * l.firingRate) / maxRate;
      parts.push(`<rect x="${g.rateX}" y="${ry + 3}" width="${Math.max(0, w).toFixed(1)}" height="${bh}" fill="${COLOURS.rate}"/>`);
      parts.push(t(g.rateX + w + 4, ry + 13, `${(l.firingRate * 100).toFixed(1)}%`, { size: 10, fill: COLOURS.muted }));
    } else {
      parts.push(t(g.rateX, ry + 13, 'real-valued input (MAC)', { size: 10, fill: COLOURS.muted }));
    }
    const eu = l.energyPj / 1e6;
    const w = (g.energyW * eu) / maxE;
    parts.push(`<rect x="${g.energyX}" y="${ry + 3}" width="${Math.max(0, w).toFixed(1)}" height="${bh}" fill="${l.kind === 'mac' ? COLOURS.mac : COLOURS.ac}"/>`);
    if (l.kind === 'ac' && l.sopsEstimate !== null && l.sopsEstimate > 0 && l.basis === 'sops-exact') {
      const xe = g.energyX + (g.energyW * estimateUj(l)) / maxE;
      parts.push(`<line x1="${xe.toFixed(1)}" y1="${ry + 1}" x2="${xe.toFixed(1)}" y2="${ry + g.row - 1}" stroke="${COLOURS.estimate}" stroke-width="2"/>`);
    }
    parts.push(t(g.energyX + Math.max(w, 0) + 6, ry + 13, `${fmt(eu)}`, { size: 10, fill: COLOURS.muted }));
  });
  // tick labels under the grid lines
  for (let q = 0; q <= 4; q++) {
    const xr = g.rateX + (g.rateW * q) / 4;
    const xe = g.energyX + (g.energyW * q) / 4;
    parts.push(t(xr, top + n * g.row + 12, `${fmt((maxRate * 100 * q) / 4)}%`, { size: 9, anchor: 'middle', fill: COLOURS.muted }));
    parts.push(t(xe, top + n * g.row + 12, fmt((maxE * q) / 4), { size: 9, anchor: 'middle', fill: COLOURS.muted }));
  }
  y = top + n * g.row + 30;
  return y;
}

/** PNG bytes of the chart (rendered from the SVG at 2x for sharp text). */
export async function renderEnergyPng(r: EnergyReport, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(renderEnergySvg(r), 'utf8'), { density }).png().toBuffer();
}

/** Writes the chart to `file`: SVG for .svg, PNG for .png. */
export async function writeEnergyChart(r: EnergyReport, file: string): Promise<{ path: string; format: 'svg' | 'png'; bytes: number }> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new ChartError(`${file}: the chart is written as .svg or .png (got "${ext || 'no extension'}")`);
  const data = ext === '.svg' ? Buffer.from(renderEnergySvg(r), 'utf8') : await renderEnergyPng(r);
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fs.promises.writeFile(file, data);
  return { path: path.resolve(file), format: ext === '.svg' ? 'svg' : 'png', bytes: data.length };
}
