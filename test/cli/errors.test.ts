import { errorEnvelope, EXIT, formatErrorForHuman, NotAvailableError, toErrorReport, UserError } from '../../src/cli/errors';

describe('error reports', () => {
  it('prints user errors as one line with the fix and no stack', () => {
    const r = toErrorReport(new UserError('no such preset "x"', { fix: 'use spikeclip-b or spikeclip-tiny', code: 'E_PRESET' }));
    expect(r).toMatchObject({ status: EXIT.usage, code: 'E_PRESET', user: true });
    const line = formatErrorForHuman(r, false);
    expect(line).toBe('Error: no such preset "x" (fix: use spikeclip-b or spikeclip-tiny)');
    expect(line.split('\n')).toHaveLength(1);
    expect(formatErrorForHuman(r, true)).toContain('at ');
  });

  it('treats errors of our readers and validators as user errors', () => {
    const e = new Error('model.safetensors: header length 9999 exceeds the file size');
    e.name = 'SafetensorsError';
    const r = toErrorReport(e);
    expect(r).toMatchObject({ status: EXIT.badInput, code: 'E_SAFETENSORS', user: true });
    expect(formatErrorForHuman(r, false)).toBe('Error: model.safetensors: header length 9999 exceeds the file size');
  });

  it('treats missing files as user errors', () => {
    const e = Object.assign(new Error("ENOENT: no such file or directory, open 'x.json'"), { code: 'ENOENT' });
    expect(toErrorReport(e)).toMatchObject({ status: EXIT.badInput, code: 'E_ENOENT', user: true });
  });

  it('marks unexpected errors as bugs and points to --debug', () => {
    const r = toErrorReport(new TypeError('x is undefined\n    at foo'));
    expect(r).toMatchObject({ status: EXIT.internal, user: false, message: 'x is undefined' });
    expect(formatErrorForHuman(r, false)).toMatch(/rerun with --debug/);
  });

  it('gives not-yet-available capabilities their own status', () => {
    const r = toErrorReport(new NotAvailableError('spikeclip eval', 'the dataset layer has not landed'));
    expect(r.status).toBe(EXIT.notAvailable);
    expect(r.message).toBe('spikeclip eval is not available yet: the dataset layer has not landed');
  });

  it('builds the JSON error envelope', () => {
    const r = toErrorReport(new UserError('bad', { fix: 'do this' }));
    expect(errorEnvelope(r, false)).toEqual({ status: EXIT.usage, error: { name: 'UserError', code: 'E_USAGE', message: 'bad', fix: 'do this' } });
    expect(errorEnvelope(r, true).error.stack).toBeDefined();
  });
});

describe('every error class of our readers and validators is a user error', () => {
  it('covers each domain error class declared under src/', () => {
    // Scans the sources so a new reader's error class cannot silently become "a bug in spikeclip".
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require('fs') as typeof import('fs');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require('path') as typeof import('path');
    const names = new Set<string>();
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/class (\w+Error) extends Error/g)) names.add(m[1]);
      }
    };
    walk(path.join(__dirname, '..', '..', 'src'));
    const internal = new Set(['TransientError']); // retried inside the downloader, never reaches a user
    for (const n of names) {
      if (internal.has(n)) continue;
      const e = new Error('x');
      e.name = n;
      expect([n, toErrorReport(e).user]).toEqual([n, true]);
    }
  });
});
