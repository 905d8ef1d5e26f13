import { Args, Errors, Flags, Parser } from '@oclif/core';
import { errorEnvelope, EXIT, formatErrorForHuman, NotAvailableError, toErrorReport, UserError } from '../../src/cli/errors';
import { floatFlag } from '../../src/cli/train-flags';
import { SpikeclipError } from '../../src/errors';
import { SafetensorsError } from '../../src/io/safetensors';

/** What oclif's parser throws for `argv` (the error a command's catch receives). */
async function parseError(argv: string[]): Promise<Error> {
  const err = await Parser.parse(argv, {
    args: { model: Args.string({ description: 'Checkpoint folder', required: true }) },
    flags: { lr: floatFlag('Learning rate.'), steps: Flags.integer({ min: 1 }) },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error(`parsing ${argv.join(' ')} did not fail`);
  return err;
}

describe('error reports', () => {
  it('prints user errors as one line with the fix and no stack', () => {
    const r = toErrorReport(new UserError('no such preset "x"', { fix: 'use spikeclip-b or spikeclip-tiny', code: 'E_PRESET' }));
    expect(r).toMatchObject({ status: EXIT.usage, code: 'E_PRESET', user: true });
    const line = formatErrorForHuman(r, false);
    expect(line).toBe('Error: no such preset "x" (fix: use spikeclip-b or spikeclip-tiny)');
    expect(line.split('\n')).toHaveLength(1);
    expect(formatErrorForHuman(r, true)).toContain('at ');
  });

  it('maps any SpikeclipError by its type: its code, its exit status, its fix, one line', () => {
    const e = new SpikeclipError('weights.bin: 12 bytes, expected 4096', { code: 'E_WEIGHTS', exitCode: EXIT.badInput, fix: 'export the model again' });
    const r = toErrorReport(e);
    expect(r).toMatchObject({ status: 4, name: 'SpikeclipError', code: 'E_WEIGHTS', fix: 'export the model again', user: true });
    expect(formatErrorForHuman(r, false)).toBe('Error: weights.bin: 12 bytes, expected 4096 (fix: export the model again)');
    expect(errorEnvelope(r, false)).toEqual({ status: 4, error: { name: 'SpikeclipError', code: 'E_WEIGHTS', message: 'weights.bin: 12 bytes, expected 4096', fix: 'export the model again' } });
    // a reader's error class: bad input (exit 4), no stack, no bug hint
    const s = toErrorReport(new SafetensorsError('model.safetensors', 'header length 9999 exceeds the file size'));
    expect(s).toMatchObject({ status: EXIT.badInput, name: 'SafetensorsError', code: 'E_SAFETENSORS', user: true });
    expect(formatErrorForHuman(s, false)).toBe('Error: model.safetensors: invalid safetensors file: header length 9999 exceeds the file size');
  });

  it('does not go by names: an Error that only calls itself SafetensorsError is internal', () => {
    const e = new Error('model.safetensors: header length 9999 exceeds the file size');
    e.name = 'SafetensorsError';
    expect(toErrorReport(e)).toMatchObject({ status: EXIT.internal, code: 'E_INTERNAL', user: false });
  });

  it("maps oclif's parse errors by their oclif exit status, with oclif's reason", async () => {
    const unknown = await parseError(['ck', '--bogus']);
    expect(unknown).toBeInstanceOf(Errors.CLIError);
    const r = toErrorReport(unknown);
    expect(r).toMatchObject({ status: EXIT.usage, name: 'UsageError', code: 'E_USAGE', message: 'Nonexistent flag: --bogus', user: true });
    expect(formatErrorForHuman(r, false)).toBe('Error: Nonexistent flag: --bogus (fix: see --help for the flags this command accepts)');
    expect(toErrorReport(await parseError([]))).toMatchObject({ status: 2, message: 'missing required argument MODEL (Checkpoint folder)' });
    expect(toErrorReport(await parseError(['ck', '--steps', '0']))).toMatchObject({ status: 2, message: '--steps: expected an integer greater than or equal to 1 but received: 0' });
    // our own custom flag parser fails the way oclif's do
    expect(toErrorReport(await parseError(['ck', '--lr', 'fast']))).toMatchObject({ status: 2, message: '--lr: expected a number but received: fast' });
  });

  it('takes the status from oclif, not from the message text', () => {
    const exit3 = new Errors.CLIError('Nonexistent flag: --bogus', { exit: 3 });
    expect(toErrorReport(exit3).status).toBe(3);
    // the same words without oclif's property are not a usage error
    expect(toErrorReport(new Error('Nonexistent flag: --bogus'))).toMatchObject({ status: EXIT.internal, user: false });
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
