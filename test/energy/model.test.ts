/**
 * The energy model as data: the hand counts of docs/method.md §8, the ANN twin's FLOPs against the twin's own
 * monitor records, presets and overrides, and the energy arithmetic on hand numbers.
 */
import * as tf from '../../src/tf';
import {
  ENERGY_PRESETS,
  annTwinImageLayers,
  annTwinTextLayers,
  assumptions,
  encoderEnergy,
  energyConstants,
  layerEnergy,
  totalEnergy,
  type LayerMeasurement,
} from '../../src/energy/model';
import { ScratchClip, describeArchitecture, getPreset } from '../../src/models';
import type { LayerOpSpec } from '../../src/models/describe';
import { SpikeMonitor } from '../../src/snn';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('FLOPs of the default image encoder equal docs/method.md §8', () => {
  const d = describeArchitecture(getPreset('spikeclip-b'));
  const flops = new Map(d.image.layers.map((l) => [l.name, l.flopsPerStep]));

  test('tokenizer convs and projection', () => {
    expect(flops.get('image.patch_embed.block0_conv')).toBe(1_327_104);
    expect(flops.get('image.patch_embed.block1_conv')).toBe(42_467_328);
    expect(flops.get('image.patch_embed.block2_conv')).toBe(169_869_312);
    expect(flops.get('image.patch_embed.block3_conv')).toBe(169_869_312);
    expect(flops.get('image.patch_embed.block4_conv')).toBe(84_934_656);
    expect(flops.get('image.proj')).toBe(196_608);
  });

  test('each block 116,391,936 (q, k, v, proj, both attention matmuls, MLP)', () => {
    for (let k = 0; k < 4; k++) {
      const block = d.image.layers.filter((l) => l.name.startsWith(`image.block.${k}.`));
      expect(block.map((l) => l.name.split('.').pop())).toEqual(['q_conv', 'k_conv', 'v_conv', 'qk_matmul', 'av_matmul', 'proj_conv', 'mlp1_conv', 'mlp2_conv']);
      expect(block.reduce((s, l) => s + l.flopsPerStep, 0)).toBe(116_391_936);
    }
  });

  test('about 934 M per image and step; text encoder 22.02 M', () => {
    expect(d.image.flopsPerStep).toBe(934_232_064);
    expect(d.text.flopsPerStep).toBe(22_020_096);
  });

  test('kinds: only the first conv and the projection are MACs; the projection runs once', () => {
    const mac = d.image.layers.filter((l) => l.kind === 'mac');
    expect(mac.map((l) => l.name)).toEqual(['image.patch_embed.block0_conv', 'image.proj']);
    expect(mac.map((l) => l.timeSteps)).toEqual([4, 1]);
    expect(d.text.layers.every((l) => l.kind === 'ac' && l.timeSteps === 4)).toBe(true);
  });
});

describe('ANN twin', () => {
  test('spikeclip-b: same FLOPs as the spiking encoder per step (934,232,064), softmax matmuls included', () => {
    const cfg = getPreset('spikeclip-b');
    const ann = annTwinImageLayers(cfg.image);
    expect(ann.reduce((s, l) => s + l.flops, 0)).toBe(934_232_064);
    expect(ann.filter((l) => l.name.endsWith('_matmul')).map((l) => l.flops)).toEqual(Array(8).fill(64 * 64 * 384));
    expect(annTwinTextLayers(cfg.text).reduce((s, l) => s + l.flops, 0)).toBe(22_020_096);
  });

  test("the analytic list equals ScratchCLIP's own monitor records (tiny)", () => {
    const cfg = getPreset('spikeclip-tiny').image;
    const twin = new ScratchClip(cfg, { seed: 1 });
    const monitor = new SpikeMonitor();
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 3);
    tf.tidy(() => {
      twin.forward(x, { training: false, monitor });
    });
    const recs = monitor.observations();
    const ann = annTwinImageLayers(cfg);
    expect(recs.map((r) => r.layer)).toEqual(ann.map((l) => l.name));
    recs.forEach((r, i) => {
      expect(r.kind).toBe('mac');
      expect(r.flopsPerStep).toBe(ann[i].flops);
    });
    x.dispose();
    twin.dispose();
  });
});

describe('energy constants', () => {
  test('presets (45 nm): fp32 4.6/0.9, fp16 1.5/0.4, int8 0.23/0.03', () => {
    expect(ENERGY_PRESETS.fp32).toEqual({ eMacPj: 4.6, eAcPj: 0.9 });
    expect(ENERGY_PRESETS.fp16).toEqual({ eMacPj: 1.5, eAcPj: 0.4 });
    expect(ENERGY_PRESETS.int8).toEqual({ eMacPj: 0.23, eAcPj: 0.03 });
    expect(energyConstants()).toMatchObject({ preset: 'fp32', eMacPj: 4.6, eAcPj: 0.9, overridden: [] });
  });

  test('overrides replace single values and are recorded', () => {
    expect(energyConstants('int8', { eAcPj: 0.05 })).toMatchObject({ preset: 'int8', eMacPj: 0.23, eAcPj: 0.05, overridden: ['eAcPj'] });
    expect(energyConstants('fp16', { eMacPj: 2, eAcPj: 0.5 }).overridden).toEqual(['eMacPj', 'eAcPj']);
  });

  test('bad values are errors naming the choice', () => {
    expect(() => energyConstants('fp64')).toThrow(/fp32, fp16, int8/);
    expect(() => energyConstants('fp32', { eMacPj: -1 })).toThrow(/E_MAC/);
    expect(() => energyConstants('fp32', { eAcPj: Number.NaN })).toThrow(/E_AC/);
  });
});

const spec = (name: string, kind: 'mac' | 'ac', flopsPerStep: number, timeSteps: number): LayerOpSpec => ({ name, kind, flopsPerStep, fanOut: 1, timeSteps });

describe('energy arithmetic on hand numbers', () => {
  const k = { eMacPj: 4.6, eAcPj: 0.9 };

  test('a MAC layer costs E_MAC x FLOPs x steps, whatever its input rate', () => {
    const e = layerEnergy({ spec: spec('image.conv0', 'mac', 100, 4), encoder: 'image', firingRate: 0.7, exactSops: 12345, connections: null }, k);
    expect(e).toMatchObject({ macs: 400, ops: 400, basis: 'macs', sops: null, sopsEstimate: null });
    expect(e.energyPj).toBeCloseTo(1840, 10);
  });

  test('an AC layer costs E_AC x exact SOPs; the estimate fr x T x FLOPs is kept beside it', () => {
    const e = layerEnergy({ spec: spec('image.conv1', 'ac', 1000, 4), encoder: 'image', firingRate: 0.125, exactSops: 480, connections: 3800 }, k);
    expect(e).toMatchObject({ sops: 480, sopsEstimate: 500, ops: 480, macs: 0, basis: 'sops-exact' });
    expect(e.energyPj).toBeCloseTo(432, 10);
  });

  test('from a rate only: the estimate is used', () => {
    const e = layerEnergy({ spec: spec('image.fc', 'ac', 1000, 4), encoder: 'image', firingRate: 0.25, exactSops: null, connections: null }, k);
    expect(e).toMatchObject({ sops: null, sopsEstimate: 1000, ops: 1000, basis: 'sops-estimate' });
    expect(e.energyPj).toBeCloseTo(900, 10);
    expect(() => layerEnergy({ spec: spec('image.fc', 'ac', 1000, 4), encoder: 'image', firingRate: null, exactSops: null, connections: null }, k)).toThrow(/neither/);
  });

  test('encoder and total: sums, mJ, ANN twin and ratio', () => {
    const m: LayerMeasurement[] = [
      { spec: spec('image.conv0', 'mac', 100, 4), encoder: 'image', firingRate: 1, exactSops: 1200, connections: 1200 },
      { spec: spec('image.conv1', 'ac', 1000, 4), encoder: 'image', firingRate: 0.125, exactSops: 480, connections: 3800 },
      { spec: spec('image.proj', 'mac', 50, 1), encoder: 'image', firingRate: 1, exactSops: 50, connections: 50 },
    ];
    const img = encoderEnergy('image', m, { model: 'twin', layers: [{ name: 'a', flops: 1000 }, { name: 'b', flops: 150 }] }, k, { timeSteps: 4, samples: 3 });
    // MACs 400 + 50 = 450 -> 2070 pJ; SOPs 480 -> 432 pJ; total 2502 pJ
    expect(img.macs).toBe(450);
    expect(img.sops).toBe(480);
    expect(img.energyPj).toBeCloseTo(2502, 9);
    expect(img.energyMj).toBeCloseTo(2.502e-6, 18);
    expect(img.flopsPerStep).toBe(1150);
    expect(img.meanFiringRate).toBeCloseTo(480 / 4000, 12);
    expect(img.ann.flops).toBe(1150);
    expect(img.ann.energyPj).toBeCloseTo(5290, 9);
    expect(img.ratio).toBeCloseTo(5290 / 2502, 12);
    const txt = encoderEnergy('text', [{ spec: spec('text.fc1', 'ac', 200, 2), encoder: 'text', firingRate: 0.5, exactSops: 200, connections: 400 }], { model: 'mlp', layers: [{ name: 'fc1', flops: 200 }] }, k, { timeSteps: 2, samples: 3 });
    expect(txt.energyPj).toBeCloseTo(180, 9);
    const tot = totalEnergy([img, txt]);
    expect(tot.covers).toBe('one image + one prompt');
    expect(tot.energyPj).toBeCloseTo(2682, 9);
    expect(tot.ann.energyPj).toBeCloseTo(5290 + 920, 9);
    expect(tot.ratio).toBeCloseTo(6210 / 2682, 12);
  });

  test('no operations at all: ratio null, not Infinity', () => {
    const e = encoderEnergy('text', [{ spec: spec('text.fc1', 'ac', 200, 2), encoder: 'text', firingRate: 0, exactSops: 0, connections: 400 }], { model: 'mlp', layers: [{ name: 'fc1', flops: 200 }] }, k, { timeSteps: 2, samples: 1 });
    expect(e.energyPj).toBe(0);
    expect(e.ratio).toBeNull();
  });

  test('the stated assumptions name the projection choice and the values', () => {
    const a = assumptions(getPreset('spikeclip-b'), energyConstants('fp16', { eAcPj: 0.3 })).join('\n');
    expect(a).toMatch(/E_MAC = 1\.5 pJ and E_AC = 0\.3 pJ: preset fp16 \(overridden: E_AC\)/);
    expect(a).toMatch(/final projection runs once per image.*would add 589824 MACs/);
    expect(a).toMatch(/padding are not synapses/);
  });
});
