/**
 * Shell completion (@oclif/plugin-autocomplete) and "did you mean" for a mistyped command
 * (@oclif/plugin-not-found in a terminal, src/cli/hooks/command-not-found.ts elsewhere), through
 * the real CLI over dist/ (`npm test` builds first).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { closestCommand, editDistance } from '../../src/cli/hooks/command-not-found';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'run.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1', ...env }, timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  // eslint-disable-next-line no-control-regex
  const plain = (t: string): string => t.replace(/\u001b\[[0-9;]*m/g, '');
  return { status: r.status, stdout: plain(r.stdout), stderr: plain(r.stderr) };
}

describe('closestCommand', () => {
  const ids = ['eval', 'embed', 'inspect', 'data:verify', 'data:download', 'data:info', 'convert:teacher'];
  it('finds the command a typo meant, and nothing for unrelated words', () => {
    expect(editDistance('evl', 'eval')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closestCommand('evl', ids)).toBe('eval');
    expect(closestCommand('inpsect', ids)).toBe('inspect');
    expect(closestCommand('data:verfy', ids)).toBe('data:verify');
    expect(closestCommand('zzzzzz', ids)).toBeUndefined();
  });
});

describe('the CLI', () => {
  it('a mistyped command suggests the right one and exits 127', () => {
    const r = cli(['evl']);
    expect(r.status).toBe(127);
    expect(r.stderr).toContain('Did you mean `spikeclip eval`?');
    expect(r.stderr).toContain('evl is not a spikeclip command');
    const topic = cli(['data', 'verfy']);
    expect(topic.stderr).toContain('Did you mean `spikeclip data verify`?');
  });

  it('autocomplete prints the set-up and writes completion scripts naming our commands', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-ac-'));
    try {
      const r = cli(['autocomplete', 'bash'], { HOME: home, XDG_CACHE_HOME: path.join(home, 'cache') });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('spikeclip autocomplete script bash');
      const script = fs.readFileSync(path.join(home, 'cache', 'spikeclip', 'autocomplete', 'functions', 'bash', 'spikeclip.bash'), 'utf8');
      for (const c of ['eval', 'inspect', 'embed']) expect(script).toContain(c);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
