import { validateNeuronConfig } from '../../src/snn/neuron';
import { NeuronConfigError } from '../../src/snn/surrogate';
import { DEFAULT_NEURON } from '../../src/snn/neuron-config';

describe('validateNeuronConfig', () => {
  test('empty or missing config gives the reference defaults (a fresh copy)', () => {
    for (const p of [undefined, null, {}]) {
      const c = validateNeuronConfig(p);
      expect(c).toEqual({ kind: 'lif', tau: 2, vThreshold: 1, vReset: 0, detachReset: true, surrogate: { name: 'sigmoid', alpha: 4 } });
      expect(c).not.toBe(DEFAULT_NEURON);
      expect(c.surrogate).not.toBe(DEFAULT_NEURON.surrogate);
    }
  });

  test('merges over the defaults', () => {
    expect(validateNeuronConfig({ kind: 'plif', tau: 3, vReset: null, detachReset: false, surrogate: { name: 'atan' } })).toEqual({
      kind: 'plif',
      tau: 3,
      vThreshold: 1,
      vReset: null,
      detachReset: false,
      surrogate: { name: 'atan', alpha: 2 },
    });
    expect(validateNeuronConfig({ kind: 'if', vThreshold: 0.5, vReset: -0.2, surrogate: 'triangle' })).toMatchObject({
      kind: 'if',
      vThreshold: 0.5,
      vReset: -0.2,
      surrogate: { name: 'triangle', alpha: 1 },
    });
  });

  test('IF ignores tau (any finite value is accepted)', () => {
    expect(validateNeuronConfig({ kind: 'if', tau: 0.5 }).tau).toBe(0.5);
  });

  test('unknown kind lists the choices', () => {
    expect(() => validateNeuronConfig({ kind: 'izhikevich' })).toThrow(NeuronConfigError);
    expect(() => validateNeuronConfig({ kind: 'izhikevich' })).toThrow('neuron.kind: unknown neuron "izhikevich"; choose one of lif, if, plif');
    expect(() => validateNeuronConfig({ kind: 'LIF' })).toThrow(/unknown neuron "LIF"/);
  });

  test.each([[1], [0.5], [0], [-2]])('tau %p is rejected for LIF and PLIF', (tau) => {
    expect(() => validateNeuronConfig({ kind: 'lif', tau })).toThrow(`neuron.tau: must be > 1 for LIF (1/tau is the leak per step), got ${tau}`);
    expect(() => validateNeuronConfig({ kind: 'plif', tau })).toThrow(`neuron.tau: must be > 1 for PLIF`);
  });

  test.each([[NaN], [Infinity], ['2'], [null]])('tau %p is not a finite number', (tau) => {
    expect(() => validateNeuronConfig({ tau })).toThrow(/neuron\.tau: must be a finite number, got/);
  });

  test.each([[NaN], [-Infinity], ['1'], [null], [undefined]])('vThreshold %p', (vThreshold) => {
    if (vThreshold === undefined) {
      expect(validateNeuronConfig({ vThreshold }).vThreshold).toBe(1);
    } else {
      expect(() => validateNeuronConfig({ vThreshold })).toThrow(/neuron\.vThreshold: must be a finite number, got/);
    }
  });

  test('vReset: a finite number or null', () => {
    expect(validateNeuronConfig({ vReset: null }).vReset).toBeNull();
    expect(validateNeuronConfig({ vReset: -0.5 }).vReset).toBe(-0.5);
    expect(() => validateNeuronConfig({ vReset: 'soft' })).toThrow('neuron.vReset: must be a finite number or null (soft reset), got "soft"');
    expect(() => validateNeuronConfig({ vReset: NaN })).toThrow(/got NaN/);
  });

  test('detachReset must be a boolean', () => {
    expect(() => validateNeuronConfig({ detachReset: 'yes' })).toThrow('neuron.detachReset: must be true or false, got "yes"');
  });

  test('surrogate errors carry the path', () => {
    expect(() => validateNeuronConfig({ surrogate: { name: 'relu' } }, 'image.neuron')).toThrow(
      'image.neuron.surrogate.name: unknown surrogate "relu"; choose one of sigmoid, atan, fast-sigmoid, triangle, rectangular',
    );
    expect(() => validateNeuronConfig({ surrogate: { name: 'atan', alpha: 0 } })).toThrow('neuron.surrogate.alpha: must be a positive finite number, got 0');
  });

  test('unknown keys (typos, snake_case) are rejected with the allowed list', () => {
    expect(() => validateNeuronConfig({ v_threshold: 1 })).toThrow(
      'neuron: unknown key "v_threshold" (allowed: kind, tau, vThreshold, vReset, detachReset, surrogate)',
    );
    expect(() => validateNeuronConfig({ T: 4, tua: 2 }, 'text.neuron')).toThrow(/^text\.neuron: unknown keys "T", "tua"/);
  });

  test('non-objects are rejected', () => {
    expect(() => validateNeuronConfig('lif')).toThrow('neuron: expected an object, got "lif"');
    expect(() => validateNeuronConfig([])).toThrow('neuron: expected an object, got []');
  });
});
