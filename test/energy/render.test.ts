/**
 * Renderers: human table, JSON and CSV shape, the SVG chart (parsed) and its PNG (decoded).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as tf from '../../src/tf';
import { renderEnergySvg, renderEnergyPng, writeEnergyChart, niceMax, escapeXml } from '../../src/energy/chart';
import { energyConstants } from '../../src/energy/model';
import { CSV_COLUMNS, renderEnergyCsv, renderEnergyText, si } from '../../src/energy/render';
import { reportFromRates, runEnergyReport, type EnergyReport } from '../../src/energy/report';

let tmp: string;
let measured: EnergyReport;
let rated: EnergyReport;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-render-'));
  measured = await runEnergyReport({ model: { kind: 'preset', name: 'spikeclip-tiny', seed: 1 }, energy: energyConstants('fp32'), inputs: { kind: 'synthetic', samples: 2, seed: 3 }, batchSize: 2 });
  const f = path.join(tmp, 'rates.json');
  fs.writeFileSync(f, JSON.stringify({ '*': 0.12, 'patch_embed.block1_conv': 0.3, 'text.*': 0.08 }));
  rated = await reportFromRates({ model: { kind: 'preset', name: 'spikeclip-b', seed: 0 }, energy: energyConstants('fp16', { eAcPj: 0.35 }), inputs: { kind: 'rates', file: f } });
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A small XML well-formedness check: tags nest and close, attributes are quoted, entities known. */
function parseXml(xml: string): { root: string; elements: Array<{ name: string; attrs: Record<string, string> }> } {
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const elements: Array<{ name: string; attrs: Record<string, string> }> = [];
  let root = '';
  const checkText = (t: string) => {
    if (/[<>]/.test(t)) throw new Error(`stray < or > in text: ${t.slice(0, 40)}`);
    for (const m of t.matchAll(/&([^;\s]*);?/g)) if (!['amp', 'lt', 'gt', 'quot', 'apos'].includes(m[1]) || !m[0].endsWith(';')) throw new Error(`bad entity ${m[0]}`);
  };
  while (s.length > 0) {
    const lt = s.indexOf('<');
    if (lt < 0) {
      checkText(s);
      break;
    }
    checkText(s.slice(0, lt));
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = s.slice(lt + 1, gt);
    s = s.slice(gt + 1);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) throw new Error(`mismatched </${name}>`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*$/.exec(body);
    if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}>`);
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      checkText(a[2]);
      attrs[a[1]] = a[2];
    }
    if (stack.length === 0) {
      if (root) throw new Error('more than one root element');
      root = m[1];
    }
    elements.push({ name: m[1], attrs });
    if (!selfClosing) stack.push(m[1]);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.pop()}>`);
  return { root, elements };
}

describe('human table', () => {
  test('states the model, the inputs, per-layer rows, totals, the ANN twin, assumptions and what is not counted', () => {
    const t = renderEnergyText(measured);
    expect(t).toMatch(/weights: +fresh weights of spikeclip-tiny, seed 1/);
    expect(t).toMatch(/images: +synthetic: 2 seeded/);
    expect(t).toMatch(/E_MAC = 4.6 pJ, E_AC = 0.9 pJ/);
    expect(t).toMatch(/^patch_embed\.block1_conv +AC /m);
    expect(t).toMatch(/image total: .* MACs \+ .* SOPs = .* mJ/);
    expect(t).toMatch(/ANN twin, ScratchCLIP/);
    expect(t).toMatch(/not counted: BatchNorm/);
    expect(t).toMatch(/warning: fresh, untrained weights/);
    expect(renderEnergyText(rated)).toMatch(/rates: +.*rates\.json \(sha256 /);
    expect(si(1_327_104)).toBe('1.327 M');
    expect(si(0)).toBe('0');
  });
});

describe('JSON', () => {
  test('plain data: round-trips through JSON unchanged, no NaN or Infinity', () => {
    const back = JSON.parse(JSON.stringify(measured)) as EnergyReport;
    expect(back).toEqual(measured);
    expect(JSON.stringify(measured)).not.toMatch(/NaN|Infinity/);
    expect(back).toMatchObject({ format: 'spikeclip-energy-report', formatVersion: 1, mode: 'measured', architecture: 'spikeclip-tiny' });
    for (const k of ['energy', 'weights', 'inputs', 'backend', 'provenance', 'assumptions', 'notCounted', 'encoders', 'total', 'warnings']) expect(back).toHaveProperty(k);
    const l = back.encoders[0].layers[1];
    for (const k of ['layer', 'encoder', 'kind', 'flopsPerStep', 'timeSteps', 'firingRate', 'sops', 'sopsEstimate', 'macs', 'ops', 'basis', 'energyPj']) expect(l).toHaveProperty(k);
  });
});

describe('CSV', () => {
  function parseCsv(text: string): string[][] {
    expect(text.endsWith('\r\n')).toBe(true);
    return text
      .slice(0, -2)
      .split('\r\n')
      .map((line) => {
        const out: string[] = [];
        let cur = '';
        let q = false;
        for (let i = 0; i < line.length; i++) {
          const c = line[i];
          if (q) {
            if (c === '"' && line[i + 1] === '"') {
              cur += '"';
              i++;
            } else if (c === '"') q = false;
            else cur += c;
          } else if (c === '"') q = true;
          else if (c === ',') {
            out.push(cur);
            cur = '';
          } else cur += c;
        }
        out.push(cur);
        return out;
      });
  }

  test('a header, one row per layer, per-encoder total and twin rows, overall rows; every row traceable', () => {
    const rows = parseCsv(renderEnergyCsv(measured));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const nLayers = measured.encoders.reduce((s, e) => s + e.layers.length, 0);
    expect(rows).toHaveLength(1 + nLayers + 2 * measured.encoders.length + 2);
    for (const r of rows) expect(r).toHaveLength(CSV_COLUMNS.length);
    const col = (n: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(n);
    const conv1 = rows.find((r) => r[col('layer')] === 'image.patch_embed.block1_conv') as string[];
    const l = measured.encoders[0].layers[1];
    expect(Number(conv1[col('flops_per_step')])).toBe(l.flopsPerStep);
    expect(Number(conv1[col('energy_pj')])).toBe(l.energyPj);
    expect(conv1[col('basis')]).toBe('sops-exact');
    expect(conv1.slice(col('preset'))).toEqual(['fp32', '4.6', '0.9', 'fresh:seed=1', 'synthetic:seed=3']);
    const total = rows.find((r) => r[col('encoder')] === 'all' && r[col('layer')] === '(total)') as string[];
    expect(Number(total[col('energy_pj')])).toBeCloseTo(measured.total.energyPj, 6);
    const rr = parseCsv(renderEnergyCsv(rated));
    const rconv1 = rr.find((r) => r[col('layer')] === 'image.patch_embed.block1_conv') as string[];
    expect(rconv1[col('sops_exact')]).toBe('');
    expect(Number(rconv1[col('firing_rate')])).toBe(0.3);
    expect(rconv1[col('e_ac_pj')]).toBe('0.35');
    expect(rconv1[col('inputs')]).toMatch(/^rates:sha256:[0-9a-f]{64}$/);
  });
});

describe('chart', () => {
  test('the SVG is well-formed, has a bar per layer and no NaN', () => {
    for (const r of [measured, rated]) {
      const svg = renderEnergySvg(r);
      const doc = parseXml(svg);
      expect(doc.root).toBe('svg');
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
      const texts = svg.match(/<text[^>]*>[^<]*<\/text>/g) ?? [];
      const nLayers = r.encoders.reduce((s, e) => s + e.layers.length, 0);
      // one energy bar per layer (rects with a layer colour)
      const bars = doc.elements.filter((e) => e.name === 'rect' && (e.attrs.fill === '#3ebd93' || e.attrs.fill === '#e12d39') && e.attrs.y !== undefined && Number(e.attrs.height) > 10 && e.attrs.width !== '12');
      expect(bars).toHaveLength(nLayers);
      for (const l of r.encoders.flatMap((e) => e.layers)) expect(texts.some((t) => t.includes(`>${l.layer.replace(/^(image|text)\./, '')}<`))).toBe(true);
    }
    expect(escapeXml(`a<b & "c"`)).toBe('a&lt;b &amp; &quot;c&quot;');
    expect([niceMax(0.37), niceMax(3), niceMax(0), niceMax(61)]).toEqual([0.4, 4, 1, 80]);
  });

  test('the PNG decodes (sharp) at twice the SVG size', async () => {
    const png = await renderEnergyPng(rated);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    const svgW = Number(/width="(\d+)"/.exec(renderEnergySvg(rated))?.[1]);
    expect(meta.width).toBe(svgW * 2);
    const stats = await sharp(png).stats();
    // not blank: some dark text and coloured bars on the white background
    expect(stats.channels[0].min).toBeLessThan(100);
  });

  test('writeEnergyChart picks the format from the extension and refuses others', async () => {
    const a = await writeEnergyChart(measured, path.join(tmp, 'sub', 'e.svg'));
    expect(a.format).toBe('svg');
    expect(fs.readFileSync(a.path, 'utf8')).toMatch(/^<\?xml/);
    const b = await writeEnergyChart(measured, path.join(tmp, 'e.PNG'));
    expect(b.format).toBe('png');
    expect((await sharp(b.path).metadata()).format).toBe('png');
    await expect(writeEnergyChart(measured, path.join(tmp, 'e.jpg'))).rejects.toThrow(/\.svg or \.png/);
  });
});
