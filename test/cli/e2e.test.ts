/**
 * End-to-end: runs the real CLI (bin/run.js over the compiled dist/; `npm test` builds first).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPIKECLIP_BACKEND: '', CI: '1', ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMANDS = [
  'pretrain',
  'finetune',
  'eval',
  'energy report',
  'convert teacher',
  'convert import',
  'convert export',
  'embed',
  'inspect',
  'data info',
  'data verify',
  'data download',
  'demo',
];

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'inspect.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before the end-to-end tests');
  }
});

describe('spikeclip --help', () => {
  it('lists every command and topic', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['pretrain', 'finetune', 'eval', 'energy', 'convert', 'embed', 'inspect', 'data', 'demo']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\s`, 'm'));
    }
  });

  // commands that compute nothing have no --seed, --backend, --threads (data info: --seed only, for its carved split)
  const NON_COMPUTING = ['convert teacher', 'convert export', 'inspect', 'data info', 'data verify', 'data download'];

  it.each(COMMANDS)('%s --help has a summary, examples and the global flags', (cmd) => {
    const r = cli([...cmd.split(' '), '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('EXAMPLES');
    expect(r.stdout).toContain(`$ spikeclip ${cmd}`);
    for (const f of ['--json', '--config', '--quiet']) expect(r.stdout).toContain(f);
    const computes = !NON_COMPUTING.includes(cmd);
    for (const f of ['--backend', '--threads']) expect([f, r.stdout.includes(f)]).toEqual([f, computes]);
    expect(r.stdout.includes('--seed')).toBe(computes || cmd === 'data info');
  });
});

describe('--json envelope', () => {
  const REQUIRED: Record<string, string[]> = {
    pretrain: ['--out', 'x'],
    finetune: ['--out', 'x'],
    embed: ['--checkpoint', 'x'],
    'convert teacher': ['--from', 'x', '--out', 'y'],
    'convert import': ['--from', 'x', '--out', 'y'],
    'convert export': ['--checkpoint', 'x', '--format', 'tfjs', '--out', 'y'],
    'data info': ['--dataset', 'cifar10'],
    // shapes is built in: nothing is fetched, whatever network the machine has
    'data verify': ['--dataset', 'shapes', '--data-dir', os.tmpdir()],
    'data download': ['--dataset', 'shapes', '--data-dir', os.tmpdir()],
    // a missing teacher stops the demo before any training (the full run is tested on its own)
    demo: ['--teacher', path.join(os.tmpdir(), 'spikeclip-no-such-teacher'), '--out', path.join(os.tmpdir(), 'spikeclip-demo-never')],
  };

  it.each(COMMANDS)('%s --json prints one JSON document with a status that is the exit code', (cmd) => {
    const r = cli([...cmd.split(' '), ...(REQUIRED[cmd] ?? []), '--json']);
    const doc = JSON.parse(r.stdout) as { status: number; result?: unknown; error?: { message: string; code: string } };
    expect(doc.status).toBe(r.status);
    if (doc.status === 0) {
      expect(doc.result).toBeDefined();
    } else {
      expect(doc.error?.message).toEqual(expect.any(String));
      expect(doc.error?.code).toMatch(/^E_/);
    }
  });

  it('reports a usage error as JSON too', () => {
    const r = cli(['inspect', '--no-such-flag', '--json']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 2, error: { code: 'E_USAGE' } });
  });
});

describe('errors', () => {
  it('an unknown backend is one line listing the choices, no stack', () => {
    const r = cli(['embed', '--checkpoint', 'x', '--backend', 'cuda']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Expected --backend=cuda to be one of: auto, node, wasm, cpu/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown SPIKECLIP_BACKEND is a clear error', () => {
    const r = cli(['embed', '--checkpoint', 'x', '--json'], { SPIKECLIP_BACKEND: 'gpu' });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('one of: auto, node, wasm, cpu');
  });

  it('a bad value of one of our own flag types is a usage error, one line naming the flag', () => {
    const r = cli(['pretrain', '--out', 'x', '--lr', 'fast']);
    expect(r.status).toBe(2);
    // (from a git checkout oclif may add its own "did not parse its arguments" warning line)
    expect(r.stderr.trim().split('\n')[0]).toBe('Error: --lr: expected a number but received: fast (fix: see --help for the flags this command accepts)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--debug adds the stack trace', () => {
    const r = cli(['inspect', path.join(os.tmpdir(), 'spikeclip-no-such-checkpoint'), '--debug']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('an unknown key in a config file is an error naming the file and the key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-cfg-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'sead: 3\n');
    const r = cli(['inspect', '--config', file, '--json']);
    expect(r.status).toBe(2); // a usage error, like an unknown flag (docs/cli.md)
    const doc = JSON.parse(r.stdout) as { error: { message: string } };
    expect(doc.error.message).toContain(`${file}: unknown key "sead"`);
  });
});

describe('inspect', () => {
  it('describes the default architecture with the reference parameter counts', () => {
    const r = cli(['inspect', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { status: number; result: { parts: { name: string; parameters: number }[]; total: { parameters: number }; tensors: unknown[] } };
    const byPart = Object.fromEntries(doc.result.parts.map((p) => [p.name, p.parameters]));
    expect(byPart).toEqual({ image: 9_513_396, text: 47_358_980 });
    expect(doc.result.total.parameters).toBe(56_872_376);
    expect(doc.result.tensors.length).toBeGreaterThan(100);
  });

  it('human output shows the part table', () => {
    const r = cli(['inspect', '--summary']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^image\s+9,513,396\s/m);
    expect(r.stdout).toMatch(/^text\s+47,358,980\s/m);
    expect(r.stdout).toMatch(/^total\s+56,872,376\s/m);
    expect(r.stdout).not.toContain('tensors:');
  });

  it('takes --preset from a config file, and the command line over the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-cfg-'));
    const yaml = path.join(dir, 'c.yaml');
    fs.writeFileSync(yaml, 'preset: spikeclip-tiny\nsummary: true\n');
    const fromFile = JSON.parse(cli(['inspect', '--config', yaml, '--json']).stdout) as { result: { name: string } };
    expect(fromFile.result.name).toBe('spikeclip-tiny');
    const json = path.join(dir, 'c.json');
    fs.writeFileSync(json, JSON.stringify({ preset: 'spikeclip-tiny' }));
    const overridden = JSON.parse(cli(['inspect', '--config', json, '--preset', 'spikeclip-b', '--json']).stdout) as { result: { name: string } };
    expect(overridden.result.name).toBe('spikeclip-b');
  });

  it('an unknown preset is a usage error with the choices', () => {
    const r = cli(['inspect', '--preset', 'huge']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('Error: unknown preset "huge" (fix: choose one of spikeclip-b, spikeclip-tiny)');
  });

  it('a directory that is not a checkpoint is one clear line, exit 4', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-notckpt-'));
    const r = cli(['inspect', dir]);
    expect(r.status).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('config.json');
  });
});
