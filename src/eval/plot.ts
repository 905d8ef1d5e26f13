/**
 * The confusion matrix as a picture: an SVG written by hand (rows: true classes; columns: every
 * candidate, distractors after a separator), each cell shaded by its share of the row (rows of
 * classes without images in grey), counts printed where they fit, the diagonal outlined; PNG by
 * rendering that SVG with sharp (librsvg). No browser involved.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { UserError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { EvalResultJson } from './results';

export class PlotError extends UserError {
  constructor(message: string) {
    super(message, { fix: 'name the picture FILE.svg or FILE.png', code: 'E_PLOT' });
    this.name = 'PlotError';
  }
}

export type PlotFormat = 'svg' | 'png';

/** `.svg` or `.png` from a file name; anything else is refused. */
export function plotFormat(file: string): PlotFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.svg') return 'svg';
  if (ext === '.png') return 'png';
  throw new PlotError(`--plot ${file}: the picture must be a .svg or .png file`);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function short(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** White -> deep blue by t in [0, 1]. */
function shade(t: number): string {
  const a = [255, 255, 255];
  const b = [8, 48, 107];
  const mid = [66, 146, 198];
  const [from, to, u] = t < 0.5 ? [a, mid, t * 2] : [mid, b, (t - 0.5) * 2];
  const c = from.map((x, i) => Math.round(x + (to[i] - x) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** The confusion matrix of a result as an SVG document. */
export function confusionMatrixSvg(r: EvalResultJson): string {
  const counts = r.confusion_matrix.counts;
  const rows = r.confusion_matrix.rows;
  const cols = r.confusion_matrix.columns;
  const K = rows.length;
  const C = cols.length;
  const cell = Math.max(3, Math.min(28, Math.floor(720 / Math.max(K, C, 1))));
  const labels = cell >= 9;
  const font = Math.min(12, cell - 2);
  const labelChars = 28;
  const longest = Math.min(labelChars, Math.max(1, ...cols.map((c) => c.length), ...rows.map((c) => c.length)));
  const margin = labels ? Math.ceil(longest * font * 0.62) + 12 : 24;
  const left = margin + 20;
  const top = 56 + margin;
  const gridW = C * cell;
  const gridH = K * cell;
  const legendW = 120;
  const width = left + gridW + 40 + legendW;
  const height = Math.max(top + gridH + 40, top + 200);
  const acc = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
  const title = `${r.dataset} (${r.split}, ${r.num_images} images) — ${r.model_kind} ${r.model}`;
  const sub = `top-1 ${acc(r.metrics.acc1)}   top-5 ${acc(r.metrics.acc5)}   mean per-class recall ${acc(r.metrics.mean_per_class_recall)}`;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="12" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="12" y="38" font-size="12">${esc(sub)}</text>`);
  out.push(`<g transform="translate(${left},${top})">`);
  for (let i = 0; i < K; i++) {
    const total = counts[i].reduce((a, b) => a + b, 0);
    for (let j = 0; j < C; j++) {
      const v = counts[i][j];
      const t = total > 0 ? v / total : 0;
      const tip = `${rows[i]} → ${cols[j]}: ${v}${total > 0 ? ` (${(100 * t).toFixed(1)}%)` : ''}`;
      // a class without images (a --limit subset can miss some) is greyed out
      const fill = total > 0 ? shade(t) : '#ececec';
      out.push(`<rect x="${j * cell}" y="${i * cell}" width="${cell}" height="${cell}" fill="${fill}"${i === j ? ' stroke="#d62728" stroke-width="1"' : ''}><title>${esc(tip)}</title></rect>`);
      if (v > 0 && cell >= 18) {
        const s = String(v);
        const fs = Math.min(11, Math.floor((cell - 2) / Math.max(1.8, s.length * 0.62)));
        out.push(`<text x="${j * cell + cell / 2}" y="${i * cell + cell / 2 + fs * 0.35}" font-size="${fs}" text-anchor="middle" fill="${t > 0.5 ? 'white' : 'black'}">${s}</text>`);
      }
    }
  }
  out.push(`<rect x="0" y="0" width="${gridW}" height="${gridH}" fill="none" stroke="#444" stroke-width="1"/>`);
  if (C > K) {
    out.push(`<line x1="${K * cell}" y1="-4" x2="${K * cell}" y2="${gridH + 4}" stroke="black" stroke-width="2"/>`);
    out.push(`<text x="${K * cell + 4}" y="${gridH + 16}" font-size="11">distractors →</text>`);
  }
  if (labels) {
    rows.forEach((n, i) => out.push(`<text x="-6" y="${i * cell + cell / 2 + font * 0.35}" font-size="${font}" text-anchor="end">${esc(short(n, labelChars))}</text>`));
    cols.forEach((n, j) =>
      out.push(`<text transform="translate(${j * cell + cell / 2 + font * 0.35},-6) rotate(-90)" font-size="${font}" text-anchor="start"${j >= K ? ' fill="#555" font-style="italic"' : ''}>${esc(short(n, labelChars))}</text>`),
    );
  }
  out.push(`<text x="${gridW / 2}" y="${gridH + 30}" font-size="12" text-anchor="middle">predicted</text>`);
  out.push(`<text transform="translate(${-margin - 6},${gridH / 2}) rotate(-90)" font-size="12" text-anchor="middle">true class</text>`);
  out.push('</g>');
  // colour bar: share of the row
  const lx = left + gridW + 40;
  const ly = top;
  const steps = 20;
  for (let s = 0; s < steps; s++) out.push(`<rect x="${lx}" y="${ly + (steps - 1 - s) * 8}" width="16" height="8" fill="${shade((s + 0.5) / steps)}"/>`);
  out.push(`<rect x="${lx}" y="${ly}" width="16" height="${steps * 8}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${lx + 22}" y="${ly + 10}" font-size="11">100%</text>`);
  out.push(`<text x="${lx + 22}" y="${ly + steps * 8}" font-size="11">0%</text>`);
  out.push(`<text x="${lx}" y="${ly + steps * 8 + 18}" font-size="11">share of the row</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes the confusion matrix of `r` to `file` (.svg, or .png rendered with sharp), atomically. */
export async function writeConfusionPlot(file: string, r: EvalResultJson): Promise<void> {
  const format = plotFormat(file);
  const svg = confusionMatrixSvg(r);
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  if (format === 'svg') {
    await writeFileAtomic(file, svg);
    return;
  }
  const png = await sharp(Buffer.from(svg), { density: 96, limitInputPixels: false }).png().toBuffer();
  await writeFileAtomic(file, png);
}
