import { CONFIG_LIMITS, ConfigError, PRESET_NAMES, countConfigParameters, describeArchitecture, getPreset, validateConfig } from '../../src/models';

describe('presets', () => {
  test('spikeclip-b is the reference architecture', () => {
    const c = getPreset('spikeclip-b');
    expect(c.image).toMatchObject({ embedDim: 384, depth: 4, heads: 8, mlpRatio: 4, timeSteps: 4, imageSize: 32, inChannels: 3, outputDim: 512, attnThreshold: 0.5, attnScale: 0.125 });
    expect(c.image.neuron).toEqual({ kind: 'lif', tau: 2, vThreshold: 1, vReset: 0, detachReset: true, surrogate: { name: 'sigmoid', alpha: 4 } });
    expect(c.text).toMatchObject({ contextLength: 20, vocabSize: 49408, width: 512, maxPositions: 77, hidden: 2048, outputDim: 512, timeSteps: 4 });
  });

  test('every preset validates and survives a JSON round trip unchanged', () => {
    expect(PRESET_NAMES).toEqual(expect.arrayContaining(['spikeclip-b', 'spikeclip-tiny']));
    for (const name of PRESET_NAMES) {
      const c = getPreset(name);
      expect(validateConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    }
    expect(getPreset('spikeclip-tiny').image).toMatchObject({ embedDim: 64, depth: 1, heads: 4, timeSteps: 2 });
  });

  test('presets are fresh copies', () => {
    const a = getPreset('spikeclip-b');
    a.image.depth = 99;
    expect(getPreset('spikeclip-b').image.depth).toBe(4);
  });

  test('unknown preset lists the choices', () => {
    expect(() => getPreset('spikeclip-xl')).toThrow(/unknown model preset "spikeclip-xl"; choose one of spikeclip-b, spikeclip-tiny/);
  });
});

describe('validateConfig', () => {
  const base = () => JSON.parse(JSON.stringify(getPreset('spikeclip-tiny')));
  const bad = (edit: (c: any) => void, message: RegExp) => {
    const c = base();
    edit(c);
    expect(() => validateConfig(c)).toThrow(ConfigError);
    expect(() => validateConfig(c)).toThrow(message);
  };

  test('rejects T < 1 naming the value', () => {
    bad((c) => (c.image.timeSteps = 0), /config\.image\.timeSteps: must be an integer >= 1, got 0/);
    bad((c) => (c.text.timeSteps = 1.5), /config\.text\.timeSteps: must be an integer >= 1, got 1\.5/);
  });

  test('rejects heads that do not divide D', () => {
    bad((c) => (c.image.heads = 3), /config\.image\.heads: 3 heads do not divide embedDim 64/);
  });

  test('rejects an image size not divisible by 4', () => {
    bad((c) => (c.image.imageSize = 30), /config\.image\.imageSize: must be divisible by 4 .*got 30/);
  });

  test('rejects unknown neurons and surrogates via the neuron validator', () => {
    bad((c) => (c.image.neuron.kind = 'izhikevich'), /config\.image\.neuron\.kind: unknown neuron "izhikevich"/);
    bad((c) => (c.text.neuron.surrogate = { name: 'erf', alpha: 2 }), /config\.text\.neuron\.surrogate.*"erf"/);
  });

  test('other checks: D multiple of 8, mlp ratio, context vs positions, unknown keys, matching output dims', () => {
    bad((c) => (c.image.embedDim = 36), /embedDim: must be a multiple of 8/);
    bad((c) => (c.image.mlpRatio = 0.3), /mlpRatio: embedDim \* mlpRatio must be an integer/);
    bad((c) => (c.text.contextLength = 80), /config\.text\.contextLength: 80 exceeds maxPositions 77/);
    bad((c) => (c.image.dim = 3), /config\.image: unknown key "dim"/);
    bad((c) => (c.text.outputDim = 256), /image\.outputDim 512 and text\.outputDim 256 must match/);
    bad((c) => delete c.image.depth, /config\.image\.depth: missing/);
    expect(() => validateConfig(null)).toThrow(/config: expected an object, got null/);
  });

  test('fills optional fields and neuron defaults', () => {
    const c = base();
    delete c.image.attnThreshold;
    delete c.image.attnScale;
    delete c.text.maxPositions;
    c.image.neuron = { vThreshold: 0.75 };
    delete c.text.neuron;
    const v = validateConfig(c);
    expect(v.image.attnThreshold).toBe(0.5);
    expect(v.image.attnScale).toBe(0.125);
    expect(v.text.maxPositions).toBe(77);
    expect(v.image.neuron).toMatchObject({ kind: 'lif', tau: 2, vThreshold: 0.75 });
    expect(v.text.neuron.vThreshold).toBe(1);
  });
});

describe('validateConfig: bounds before anything is allocated (issue 13, items 1-3)', () => {
  const base = () => JSON.parse(JSON.stringify(getPreset('spikeclip-tiny')));
  const bad = (edit: (c: any) => void, message: RegExp) => {
    const c = base();
    edit(c);
    const t0 = Date.now();
    expect(() => validateConfig(c, 'ck/config.json: architecture')).toThrow(ConfigError);
    expect(() => validateConfig(c, 'ck/config.json: architecture')).toThrow(message);
    expect(Date.now() - t0).toBeLessThan(200);
  };

  test('each size field has an upper bound, named with the file and key', () => {
    bad((c) => (c.image.timeSteps = 1e9), /^ck\/config\.json: architecture\.image\.timeSteps: 1000000000 is beyond the limit 64/);
    bad((c) => (c.image.depth = 1e7), /architecture\.image\.depth: 10000000 is beyond the limit 64/);
    bad((c) => (c.image.embedDim = 2 ** 20), /architecture\.image\.embedDim: 1048576 is beyond the limit 8192/);
    bad((c) => (c.image.imageSize = 4096), /architecture\.image\.imageSize: 4096 is beyond the limit 1024/);
    bad((c) => (c.image.mlpRatio = 1e6), /architecture\.image\.mlpRatio: 1000000 is beyond the limit 16/);
    bad((c) => (c.image.heads = 2048), /architecture\.image\.heads: 2048 is beyond the limit 1024/);
    bad((c) => (c.text.vocabSize = 1e9), /architecture\.text\.vocabSize: 1000000000 is beyond the limit 1000000/);
    bad((c) => (c.text.width = 1e6), /architecture\.text\.width: 1000000 is beyond the limit 8192/);
    bad((c) => (c.text.hidden = 1e8), /architecture\.text\.hidden: 100000000 is beyond the limit 65536/);
    bad((c) => (c.text.timeSteps = 1e9), /architecture\.text\.timeSteps: 1000000000 is beyond the limit 64/);
    bad((c) => ((c.text.maxPositions = 1e9), (c.text.contextLength = 1e9)), /architecture\.text\.contextLength: 1000000000 is beyond the limit 1024/);
    bad((c) => ((c.image.outputDim = 1e9), (c.text.outputDim = 1e9)), /architecture\.image\.outputDim: 1000000000 is beyond the limit 8192/);
  });

  test('fields within their bounds but together too large: the parameter and activation budgets', () => {
    // every field legal, the model 8192-wide and 64 deep: far beyond 2^28 parameters
    bad((c) => ((c.image.embedDim = 8192), (c.image.heads = 8), (c.image.depth = 64)), /architecture: the architecture has [\d,]+ parameters .* beyond the limit of 268,435,456/);
    bad((c) => ((c.text.vocabSize = 1_000_000), (c.text.width = 8192)), /parameters .*beyond the limit/);
    bad((c) => ((c.image.imageSize = 1024), (c.image.heads = 1)), /architecture\.image: one sample would need [\d,]+ activations \(attention scores/);
  });

  test('the presets are far inside the limits; the closed-form count matches the tensor list', () => {
    for (const name of PRESET_NAMES) {
      const c = getPreset(name);
      const p = countConfigParameters(c);
      const d = describeArchitecture(c);
      expect(p.image).toBe(d.image.parameters);
      expect(p.text).toBe(d.text.parameters);
      expect(p.image + p.text).toBeLessThan(CONFIG_LIMITS.parameters / 2);
    }
  });
});
