import { ConfigKeyError, kebab, mergeConfig, FlagSpec } from '../../src/cli/config';
import { toErrorReport } from '../../src/cli/errors';

const intParse = async (s: string): Promise<number> => {
  if (!/^-?\d+$/.test(s)) throw new Error(`Expected an integer but received: ${s}`);
  return Number(s);
};

const specs: Record<string, FlagSpec> = {
  seed: { type: 'option', parse: intParse },
  preset: { type: 'option' },
  backend: { type: 'option', options: ['auto', 'node', 'wasm', 'cpu'] },
  quiet: { type: 'boolean' },
  dataset: { type: 'option', multiple: true },
  'batch-size': { type: 'option', parse: intParse },
  config: { type: 'option' },
  json: { type: 'boolean' },
};

describe('config files', () => {
  it('converts camelCase keys to flag names', () => {
    expect(kebab('batchSize')).toBe('batch-size');
    expect(kebab('data-dir')).toBe('data-dir');
  });

  it('fills flags the user did not type and keeps the ones they did', async () => {
    const flags = { seed: 7, preset: 'spikeclip-b', quiet: false };
    const out = await mergeConfig('c.yaml', { seed: 3, preset: 'spikeclip-tiny', quiet: true, batchSize: 16 }, flags, specs, new Set(['seed']));
    expect(out).toEqual({ seed: 7, preset: 'spikeclip-tiny', quiet: true, 'batch-size': 16 });
    expect(flags).toEqual({ seed: 7, preset: 'spikeclip-b', quiet: false });
  });

  it('takes lists for multiple flags and wraps single values', async () => {
    expect((await mergeConfig('c', { dataset: ['a', 'b'] }, {}, specs, new Set()))['dataset']).toEqual(['a', 'b']);
    expect((await mergeConfig('c', { dataset: 'a' }, {}, specs, new Set()))['dataset']).toEqual(['a']);
  });

  it('refuses unknown keys and lists the accepted ones', async () => {
    await expect(mergeConfig('c.json', { sead: 1 }, {}, specs, new Set())).rejects.toThrow(ConfigKeyError);
    // a usage error like an unknown flag: exit status 2, as docs/cli.md says
    const err = await mergeConfig('c.json', { sead: 1 }, {}, specs, new Set()).catch((e: unknown) => e);
    expect(toErrorReport(err).status).toBe(2);
    await expect(mergeConfig('c.json', { sead: 1 }, {}, specs, new Set())).rejects.toThrow(
      'c.json: unknown key "sead"; this command accepts: backend, batch-size, dataset, preset, quiet, seed',
    );
  });

  it('refuses meta flags in files', async () => {
    await expect(mergeConfig('c.json', { json: true }, {}, specs, new Set())).rejects.toThrow('unknown key "json"');
  });

  it('refuses wrong types with the key and the file', async () => {
    await expect(mergeConfig('c.json', { quiet: 'yes' }, {}, specs, new Set())).rejects.toThrow('c.json: "quiet" must be true or false, got "yes"');
    await expect(mergeConfig('c.json', { seed: 'abc' }, {}, specs, new Set())).rejects.toThrow('c.json: "seed": Expected an integer');
    await expect(mergeConfig('c.json', { backend: 'gpu' }, {}, specs, new Set())).rejects.toThrow('"backend" must be one of auto, node, wasm, cpu, got "gpu"');
    await expect(mergeConfig('c.json', { preset: { a: 1 } }, {}, specs, new Set())).rejects.toThrow('"preset" must be a string or a number, got object');
    await expect(mergeConfig('c.json', { preset: ['a'] }, {}, specs, new Set())).rejects.toThrow('"preset" takes one value, got a list');
  });
});
