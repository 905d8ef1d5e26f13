/**
 * Deprecated flag names (docs/cli.md, "Flag vocabulary"): they keep working, warn once on stderr
 * naming the new flag, and leave --json's stdout one JSON document. The CLI cases run the real
 * CLI over dist/ (`npm test` builds first) on paths that fail fast after parsing, so that the
 * message shows the value reached the new flag.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mergeConfig, type FlagSpec } from '../../src/cli/config';
import { deprecatedNamesUsed, flagOfAlias } from '../../src/cli/deprecated-flags';
import { renameOldEnergyPreset } from '../../src/commands/energy/report';

const ROOT = path.resolve(__dirname, '..', '..');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1' },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FLAGS = {
  checkpoint: { aliases: ['model'], deprecateAliases: true },
  'val-fraction': { aliases: ['val-split'] },
  out: {},
};

describe('deprecatedNamesUsed', () => {
  it('names the new flag for `--old v` and `--old=v`, once per name', () => {
    const msg = '--model is deprecated and will be removed in the next release: use --checkpoint';
    expect(deprecatedNamesUsed(['--model', 'x', '--out', 'y'], FLAGS)).toEqual([msg]);
    expect(deprecatedNamesUsed(['--model=x'], FLAGS)).toEqual([msg]);
    expect(deprecatedNamesUsed(['--model', 'x', '--model', 'y'], FLAGS)).toEqual([msg]);
  });

  it('says nothing for the new name, an alias that is not deprecated, a value, or after --', () => {
    expect(deprecatedNamesUsed(['--checkpoint', '--model'], { checkpoint: {} })).toEqual([]);
    expect(deprecatedNamesUsed(['--checkpoint', 'x', '--val-split', '0.2'], FLAGS)).toEqual([]);
    expect(deprecatedNamesUsed(['--text', 'model', '--models'], FLAGS)).toEqual([]);
    expect(deprecatedNamesUsed(['--', '--model'], FLAGS)).toEqual([]);
  });

  it('flagOfAlias finds the flag of an alias', () => {
    expect(flagOfAlias('model', FLAGS)).toEqual({ name: 'checkpoint', deprecated: true });
    expect(flagOfAlias('val-split', FLAGS)).toEqual({ name: 'val-fraction', deprecated: false });
    expect(flagOfAlias('nope', FLAGS)).toBeUndefined();
  });
});

describe('--config keys', () => {
  const specs: Record<string, FlagSpec> = {
    checkpoint: { type: 'option', aliases: ['model'], deprecateAliases: true },
    'val-fraction': { type: 'option', aliases: ['val-split'] },
  };

  it('an old name sets the new flag, with a warning naming the file', async () => {
    const warnings: string[] = [];
    const out = await mergeConfig('c.yaml', { model: 'ck', valSplit: '0.2' }, {}, specs, new Set(), (m) => warnings.push(m));
    expect(out).toEqual({ checkpoint: 'ck', 'val-fraction': '0.2' });
    expect(warnings).toEqual(['c.yaml: --model is deprecated and will be removed in the next release: use --checkpoint']);
  });

  it('the command line still wins over an old key', async () => {
    const out = await mergeConfig('c.yaml', { model: 'file' }, { checkpoint: 'typed' }, specs, new Set(['checkpoint']));
    expect(out).toEqual({ checkpoint: 'typed' });
  });
});

describe('energy report --preset ENERGY (the old meaning)', () => {
  it('becomes --energy-preset before parsing; architectures and other flags stay', () => {
    expect(renameOldEnergyPreset(['--preset', 'fp16', '--arch', 'spikeclip-tiny'])).toEqual({ argv: ['--energy-preset', 'fp16', '--arch', 'spikeclip-tiny'], values: ['fp16'] });
    expect(renameOldEnergyPreset(['--preset=int8'])).toEqual({ argv: ['--energy-preset=int8'], values: ['int8'] });
    expect(renameOldEnergyPreset(['--preset', 'spikeclip-b'])).toEqual({ argv: ['--preset', 'spikeclip-b'], values: [] });
    expect(renameOldEnergyPreset(['--', '--preset', 'fp16'])).toEqual({ argv: ['--', '--preset', 'fp16'], values: [] });
    // with --energy-preset as well, the command's check names both
    expect(renameOldEnergyPreset(['--preset', 'fp16', '--energy-preset', 'int8']).values).toEqual([]);
  });
});

describe('old names on the real CLI', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'embed.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  });

  const missing = path.join(os.tmpdir(), 'spikeclip-no-such-checkpoint');
  it.each([
    ['embed --model', ['embed', '--model', missing, '--text', 'a cat'], 'model', /checkpoint not found/],
    ['embed --model=', ['embed', `--model=${missing}`, '--text', 'a cat'], 'model', /checkpoint not found/],
    ['finetune --student', ['finetune', '--student', missing, '--dataset', 'shapes', '--loss', 'ce', '--out', path.join(os.tmpdir(), 'spikeclip-ft-old')], 'student', /checkpoint not found/],
    ['pretrain --init', ['pretrain', '--init', missing, '--resume', 'latest', '--out', path.join(os.tmpdir(), 'spikeclip-pt-old')], 'init', /--checkpoint and --resume do not go together/],
  ])('%s: reaches --checkpoint; one warning on stderr; --json stdout is one JSON document', (_name, args, old, message) => {
    const r = cli([...args, '--json']);
    const doc = JSON.parse(r.stdout) as { status: number; error: { message: string } };
    expect(doc.status).toBe(r.status);
    expect(doc.error.message).toMatch(message);
    expect(r.stderr).toBe(`Warning: --${old} is deprecated and will be removed in the next release: use --checkpoint\n`);
  });

  it('--quiet silences the warning too', () => {
    const r = cli(['pretrain', '--init', missing, '--resume', 'latest', '--out', path.join(os.tmpdir(), 'spikeclip-pt-old'), '--json', '--quiet']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('');
  });

  it('inspect takes --checkpoint as well as its argument, and refuses two different ones', () => {
    const r = cli(['inspect', '--checkpoint', missing, '--json']);
    expect(r.status).toBe(4);
    expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toContain(missing);
    const two = cli(['inspect', missing, '--checkpoint', `${missing}-2`, '--json']);
    expect(two.status).toBe(2);
    expect((JSON.parse(two.stdout) as { error: { message: string } }).error.message).toMatch(/two checkpoints/);
  });

  it('commands that compute nothing have no --backend', () => {
    const r = cli(['inspect', '--backend', 'wasm', '--json']);
    expect(r.status).toBe(2);
    expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(/Nonexistent flag: --backend/);
  });
});
