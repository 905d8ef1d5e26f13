/** Usage errors keep their reason (issue 13, item 7): which flag, and what it allows. */
import { Args, Flags, Parser } from '@oclif/core';
import { toErrorReport } from '../../src/cli/errors';
import { describeUsageError, type UsageFlagInfo } from '../../src/cli/usage-message';

const flags = {
  checkpoint: Flags.string({ description: 'Student checkpoint to export.', required: true }),
  format: Flags.string({ options: ['safetensors', 'tfjs'], required: true }),
  'batch-size': Flags.integer({ description: 'Images per batch.', min: 1 }),
  threads: Flags.integer({ min: 1, max: 64 }),
};
const args = { model: Args.string({ description: 'Checkpoint folder.', required: true }) };

async function parseError(argv: string[]): Promise<Error> {
  try {
    await Parser.parse(argv, { flags, args });
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a parse error');
}

const specs = flags as unknown as Record<string, UsageFlagInfo>;

describe('usage errors', () => {
  it('missing required flags: each named with what it allows, in one line', async () => {
    const e = await parseError(['ck']);
    const line = describeUsageError(e.message, specs);
    expect(line).toBe('missing required flags --checkpoint (Student checkpoint to export), --format (one of safetensors, tfjs)');
    // without the definitions (toErrorReport alone) the names still come through
    const r = toErrorReport(e);
    expect(r.status).toBe(2);
    expect(r.message).toBe('missing required flags --checkpoint, --format');
    expect(r.message).not.toMatch(/following error/);
  });

  it('a bad value: the flag and the parser\'s reason', async () => {
    const e = await parseError(['ck', '--checkpoint', 'x', '--format', 'tfjs', '--batch-size', '0']);
    expect(toErrorReport(e).message).toBe('--batch-size: expected an integer greater than or equal to 1 but received: 0');
    const e2 = await parseError(['ck', '--checkpoint', 'x', '--format', 'tfjs', '--threads', 'many']);
    expect(toErrorReport(e2).message).toBe('--threads: expected an integer but received: many');
  });

  it('a missing argument names it and its description; a choice lists the choices', async () => {
    const e = await parseError(['--checkpoint', 'x', '--format', 'tfjs']);
    expect(toErrorReport(e).message).toBe('missing required argument MODEL (Checkpoint folder)');
    const e2 = await parseError(['ck', '--checkpoint', 'x', '--format', 'zip']);
    expect(toErrorReport(e2).message).toBe('Expected --format=zip to be one of: safetensors, tfjs');
  });

  it('a one-line message stays as it is', () => {
    expect(describeUsageError('Nonexistent flag: --bogus\nSee more help with --help')).toBe('Nonexistent flag: --bogus');
  });
});
