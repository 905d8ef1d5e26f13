/**
 * src/errors.ts: the one base of the errors spikeclip raises on purpose. It is a leaf (any layer
 * may import it), and every error class a module of src/ exports is one of them, with its own
 * name, a stable code and an exit status from the table, so the CLI can map by `instanceof`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BadInputError, EXIT, NotAvailableError, SpikeclipError, UserError } from '../src/errors';
import { sourceFiles } from './helpers/sources';

const sources = (dir: string): string[] => sourceFiles(dir, (n) => n.endsWith('.ts') && !n.endsWith('.d.ts'));

const SRC = path.resolve(__dirname, '..', 'src');

type ErrorClass = new (...args: unknown[]) => Error;

/** Every exported class of src/ (commands aside: they export oclif commands) that is an Error. */
function exportedErrorClasses(): Array<{ file: string; name: string; cls: ErrorClass }> {
  const found: Array<{ file: string; name: string; cls: ErrorClass }> = [];
  for (const file of sources(SRC)) {
    const rel = path.relative(SRC, file);
    if (rel.startsWith(`commands${path.sep}`)) continue;
    if (!/^export (abstract )?class /m.test(fs.readFileSync(file, 'utf8'))) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value === 'function' && value.prototype instanceof Error) found.push({ file: rel, name, cls: value as ErrorClass });
    }
  }
  return found;
}

describe('SpikeclipError', () => {
  it('carries a code, an exit status and an optional fix', () => {
    const e = new SpikeclipError('the file is truncated', { code: 'E_TRUNCATED', exitCode: EXIT.badInput, fix: 'download it again' });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'SpikeclipError', message: 'the file is truncated', code: 'E_TRUNCATED', exitCode: 4, fix: 'download it again' });
    expect(new SpikeclipError('x', { code: 'E_X', exitCode: 2 }).fix).toBeUndefined();
  });

  it('names a subclass after itself', () => {
    class ShapeError extends SpikeclipError {}
    expect(new ShapeError('x', { code: 'E_SHAPE', exitCode: 4 }).name).toBe('ShapeError');
  });

  it('has the family bases the layers use', () => {
    expect(new UserError('bad flag')).toMatchObject({ name: 'UserError', code: 'E_USAGE', exitCode: EXIT.usage });
    expect(new BadInputError('x.json: not JSON', 'E_JSON', 'fix it')).toMatchObject({ name: 'BadInputError', code: 'E_JSON', exitCode: EXIT.badInput, fix: 'fix it' });
    expect(new NotAvailableError('spikeclip demo', 'not yet')).toMatchObject({ code: 'E_NOT_AVAILABLE', exitCode: EXIT.notAvailable, message: 'spikeclip demo is not available yet: not yet' });
  });

  it('is a leaf: src/errors.ts imports nothing', () => {
    const text = fs.readFileSync(path.join(SRC, 'errors.ts'), 'utf8');
    expect(text.match(/^\s*import\b.*$/gm) ?? []).toEqual([]);
    expect(text).not.toMatch(/\brequire\(/);
  });

  it('keeps the exit statuses docs/cli.md lists', () => {
    expect(EXIT).toEqual({ ok: 0, internal: 1, usage: 2, notAvailable: 3, badInput: 4, interrupted: 130 });
    const doc = fs.readFileSync(path.resolve(__dirname, '..', 'docs', 'cli.md'), 'utf8');
    for (const status of Object.values(EXIT)) expect(doc).toMatch(new RegExp(`^\\| ${status} \\|`, 'm'));
  });
});

describe('every error class exported under src/', () => {
  const classes = exportedErrorClasses();

  it('is found (the scan is not empty)', () => {
    expect(classes.length).toBeGreaterThan(30);
  });

  it('is a SpikeclipError with its own name, a code and an exit status from the table', () => {
    const statuses = new Set<number>([EXIT.usage, EXIT.notAvailable, EXIT.badInput, EXIT.interrupted]);
    const bad: string[] = [];
    for (const { file, name, cls } of classes) {
      // Constructors take (message), (message, code, fix) or (file, reason): strings fit each,
      // as many as the constructor declares before its first default.
      const args = name === 'SpikeclipError' ? ['one', { code: 'E_TWO', exitCode: EXIT.usage }] : ['one', 'E_TWO', 'three'].slice(0, cls.length);
      const e = Reflect.construct(cls, args) as Error;
      if (!(e instanceof SpikeclipError)) {
        bad.push(`${file}: ${name} is not a SpikeclipError`);
        continue;
      }
      if (e.name !== name) bad.push(`${file}: ${name} names itself ${e.name}`);
      if (!/^E_[A-Z0-9_]+$/.test(e.code)) bad.push(`${file}: ${name} has code ${JSON.stringify(e.code)}`);
      if (!statuses.has(e.exitCode)) bad.push(`${file}: ${name} exits with ${e.exitCode}`);
    }
    expect(bad).toEqual([]);
  });

  it('has a name no other error class has', () => {
    // a class re-exported by an index (or by cli/errors) is still one class
    const byName = new Map<string, Map<ErrorClass, string>>();
    for (const { file, name, cls } of classes) {
      const m = byName.get(name) ?? new Map<ErrorClass, string>();
      if (!m.has(cls)) m.set(cls, file);
      byName.set(name, m);
    }
    const clashes = [...byName].filter(([, m]) => m.size > 1).map(([name, m]) => `${name}: ${[...m.values()].join(', ')}`);
    expect(clashes).toEqual([]);
  });
});
