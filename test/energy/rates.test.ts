/**
 * `--rates FILE`: the accepted JSON shapes, name matching, errors, and the energy it gives.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { energyConstants } from '../../src/energy/model';
import { parseRates, resolveRates } from '../../src/energy/rates';
import { reportFromRates } from '../../src/energy/report';
import { describeArchitecture, getPreset } from '../../src/models';
import type { FiringRate } from '../../src/eval/results';

const d = describeArchitecture(getPreset('spikeclip-tiny'));
const layers = { image: d.image.layers, text: d.text.layers };
const imageAc = d.image.layers.filter((l) => l.kind === 'ac').map((l) => l.name);
const resolve = (json: unknown) => resolveRates(parseRates(json, 'r.json'), layers, 'r.json');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-rates-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, json: unknown): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, JSON.stringify(json));
  return f;
}

describe('rates files', () => {
  test('full names for every layer: both encoders', () => {
    const json = Object.fromEntries([...imageAc, 'text.fc1', 'text.fc2'].map((n, i) => [n, i / 100]));
    const r = resolve(json);
    expect(r.encoders).toEqual(['image', 'text']);
    expect(r.rates.get('image.patch_embed.block2_conv')).toBe(0.01);
    expect(r.rates.get('text.fc2')).toBe((imageAc.length + 1) / 100);
  });

  test('names without the encoder prefix, patterns, exact beats pattern, longer pattern beats shorter', () => {
    const r = resolve({ '*': 0.1, 'block.*': 0.2, 'block.0.mlp.*': 0.3, 'block.0.mlp.mlp2_conv': 0.4, 'patch_embed.block1_conv': 0.5 });
    expect(r.encoders).toEqual(['image', 'text']);
    expect(r.rates.get('image.patch_embed.block1_conv')).toBe(0.5);
    expect(r.rates.get('image.patch_embed.block2_conv')).toBe(0.1);
    expect(r.rates.get('image.block.0.attn.q_conv')).toBe(0.2);
    expect(r.rates.get('image.block.0.mlp.mlp1_conv')).toBe(0.3);
    expect(r.rates.get('image.block.0.mlp.mlp2_conv')).toBe(0.4);
    expect(r.rates.get('text.fc1')).toBe(0.1);
  });

  test('image layers only: the text encoder is left out', () => {
    const r = resolve({ 'image.*': 0.2 });
    expect(r.encoders).toEqual(['image']);
    expect([...r.rates.keys()]).toEqual(imageAc);
  });

  test('a list of numbers in report order (image, or image + text); a list of {layer, rate}', () => {
    expect(resolve(imageAc.map(() => 0.25)).encoders).toEqual(['image']);
    const both = resolve([...imageAc.map(() => 0.25), 0.5, 0.75]);
    expect(both.encoders).toEqual(['image', 'text']);
    expect(both.rates.get('text.fc2')).toBe(0.75);
    expect(() => resolve([0.1, 0.2])).toThrow(/a list of 2 rates; this architecture has 12 spike-input image layers/);
    const objs = resolve([{ layer: '*', rate: 0.3 }, { layer: 'fc1', firingRate: 0.6 }]);
    expect(objs.rates.get('text.fc1')).toBe(0.6);
    expect(objs.rates.get('image.block.0.attn.qk_matmul')).toBe(0.3);
  });

  test('a document with a firingRates list (e.g. an eval result, enveloped or not)', () => {
    const rates = [...d.image.layers, ...d.text.layers].map((l, i) => ({ layer: l.name, rate: l.kind === 'mac' ? 1 : i / 100, non_zero: 0 }));
    for (const doc of [{ firingRates: rates }, { status: 0, result: { dataset: 'shapes', firingRates: rates } }]) {
      const r = resolve(doc);
      expect(r.encoders).toEqual(['image', 'text']);
      expect(r.rates.get('image.patch_embed.block1_conv')).toBe(0.01);
      expect(r.ignored).toEqual(['image.patch_embed.block0_conv', 'image.proj']);
    }
  });

  test("eval's result files and eval --json output (image encoder rates only)", () => {
    const firing_rates: FiringRate[] = d.image.layers
      .filter((l) => l.kind === 'ac')
      .map((l, i) => ({ layer: l.name, rate: (i + 1) / 100, input_elements: 100, non_zero: i + 1 }));
    const file = { dataset: 'shapes', task: 'zeroshot_classification', metrics: { acc1: 0.1 }, firing_rates };
    const envelope = { status: 0, result: { results: [{ ...file, firing_rates: null }, file], files: [], skipped: [] } };
    for (const doc of [file, envelope]) {
      const r = resolve(doc);
      expect(r.encoders).toEqual(['image']);
      expect(r.rates.get('image.patch_embed.block1_conv')).toBe(0.01);
      expect(r.rates.size).toBe(firing_rates.length);
    }
    expect(() => resolve({ ...file, firing_rates: null })).toThrow('this eval result has no firing rates');
    expect(() => resolve({ status: 0, result: { results: [file, file] } })).toThrow('2 eval results with firing rates; pass one result file');
    expect(() => resolve({ status: 0, result: { results: [] } })).toThrow('none of its eval results has firing rates');
  });

  test('rates for MAC layers are ignored and reported', () => {
    const r = resolve({ '*': 0.1, 'patch_embed.block0_conv': 0.9, 'image.proj': 1 });
    expect(r.ignored).toEqual(['patch_embed.block0_conv', 'image.proj']);
    expect(r.rates.has('image.patch_embed.block0_conv')).toBe(false);
  });

  test('errors name what is wrong', () => {
    expect(() => resolve({ 'image.block.9.mlp.mlp1_conv': 0.1 })).toThrow(/no layer named "image.block.9.mlp.mlp1_conv"; the spike-input layers are image.patch_embed.block1_conv/);
    expect(() => resolve({ '*': 1.5 })).toThrow(/r.json: \*: a firing rate must be a number from 0 to 1, got 1.5/);
    expect(() => resolve({ 'image.block.*': 0.1 })).toThrow(/no rate for 4 image layers: image.patch_embed.block1_conv/);
    expect(() => resolve({ '*': 0.1, 'image.nothing*': 0.2 })).toThrow(/pattern "image.nothing\*" matches no spike-input layer/);
    expect(() => resolve({ 'text.*': 0.1 })).toThrow(/no rates for the image encoder/);
    expect(() => resolve('0.1')).toThrow(/expected a JSON object/);
    expect(() => resolve({})).toThrow(/no rates/);
  });
});

describe('reportFromRates', () => {
  test('energy = E_AC x fr x T x FLOPs + E_MAC x MACs, by hand on spikeclip-tiny', async () => {
    const f = file('uniform.json', { '*': 0.2 });
    const r = await reportFromRates({ model: { kind: 'preset', name: 'spikeclip-tiny', seed: 0 }, energy: energyConstants('fp32'), inputs: { kind: 'rates', file: f } });
    expect(r.mode).toBe('rates');
    expect(r.weights.kind).toBe('none');
    expect(r.inputs).toMatchObject({ kind: 'rates', images: 0, ratesFile: { path: f } });
    expect(r.inputs.ratesFile?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const img = r.encoders[0];
    const t = 2;
    const acFlops = d.image.layers.filter((l) => l.kind === 'ac').reduce((s, l) => s + l.flopsPerStep, 0);
    const macs = d.image.layers[0].flopsPerStep * t + d.image.layers[d.image.layers.length - 1].flopsPerStep;
    expect(img.macs).toBe(macs);
    expect(img.sops).toBeCloseTo(0.2 * t * acFlops, 3);
    expect(img.energyPj).toBeCloseTo(4.6 * macs + 0.9 * 0.2 * t * acFlops, 3);
    expect(img.layers.every((l) => l.kind === 'mac' || (l.basis === 'sops-estimate' && l.sops === null))).toBe(true);
    expect(r.assumptions.join(' ')).toMatch(/Computed from given firing rates/);
  });

  test("a report's own JSON (or its --json envelope) is a rates file: the same energy back", async () => {
    const f1 = file('paper.json', { '*': 0.15, 'block.0.attn.*_matmul': 0.05, 'text.fc1': 0.3 });
    const r1 = await reportFromRates({ model: { kind: 'preset', name: 'spikeclip-tiny', seed: 0 }, energy: energyConstants('int8'), inputs: { kind: 'rates', file: f1 } });
    const f2 = file('envelope.json', { status: 0, result: r1, warnings: [] });
    const r2 = await reportFromRates({ model: { kind: 'preset', name: 'spikeclip-tiny', seed: 0 }, energy: energyConstants('int8'), inputs: { kind: 'rates', file: f2 } });
    expect(r2.encoders.map((e) => e.energyPj)).toEqual(r1.encoders.map((e) => e.energyPj));
  });

  test('a file that is not JSON is a clear error', async () => {
    const f = path.join(tmp, 'bad.json');
    fs.writeFileSync(f, '{ nope');
    await expect(reportFromRates({ model: { kind: 'preset', name: 'spikeclip-tiny', seed: 0 }, energy: energyConstants(), inputs: { kind: 'rates', file: f } })).rejects.toThrow(/bad.json: not valid JSON/);
  });
});
