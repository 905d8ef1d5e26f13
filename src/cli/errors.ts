/**
 * One error path for every command. A `SpikeclipError` (src/errors.ts) is a mistake the user can
 * fix or a capability that is not there: it prints as one line with its fix and no stack trace,
 * and exits with its own status. oclif's own errors (unknown flag, missing argument, bad value)
 * carry an `oclif.exit` status and are usage errors. A file the system cannot open is bad input.
 * Anything else is an internal error: one line plus a hint to rerun with --debug for the stack.
 */
import { EXIT, SpikeclipError } from '../errors';
import { describeUsageError } from './usage-message';

// Commands import these from here; they live in the leaf module so that lower layers need not import cli/.
export { EXIT, NotAvailableError, SpikeclipError, UserError, type UserErrorOptions } from '../errors';

export interface ErrorReport {
  /** Exit status. */
  status: number;
  name: string;
  code: string;
  message: string;
  fix?: string;
  /** True when it is the user's to fix (no stack trace shown). */
  user: boolean;
  stack?: string;
}

/** What oclif puts on the errors it throws (CLIError and its parse errors, ExitError). */
interface OclifError extends Error {
  oclif: { exit?: number };
}

/** oclif's own errors: its parser's (unknown flag, missing argument, bad option or value), `this.error`, `this.exit`. */
function isOclifError(e: Error): e is OclifError {
  const o = (e as Error & { oclif?: unknown }).oclif;
  return typeof o === 'object' && o !== null;
}

/** Turns anything thrown into the report both output modes print. */
export function toErrorReport(err: unknown): ErrorReport {
  if (!(err instanceof Error)) {
    return { status: EXIT.internal, name: 'Error', code: 'E_INTERNAL', message: String(err), user: false };
  }
  if (err instanceof SpikeclipError) {
    return { status: err.exitCode, name: err.name, code: err.code, message: err.message, fix: err.fix, user: err.exitCode !== EXIT.internal, stack: err.stack };
  }
  if (isOclifError(err)) {
    return {
      status: typeof err.oclif.exit === 'number' ? err.oclif.exit : EXIT.usage,
      name: 'UsageError',
      code: 'E_USAGE',
      message: describeUsageError(err.message),
      fix: 'see --help for the flags this command accepts',
      user: true,
      stack: err.stack,
    };
  }
  const sys = err as NodeJS.ErrnoException;
  if (typeof sys.code === 'string' && ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EROFS'].includes(sys.code)) {
    return { status: EXIT.badInput, name: 'FileError', code: `E_${sys.code}`, message: err.message, user: true, stack: err.stack };
  }
  return { status: EXIT.internal, name: err.name, code: 'E_INTERNAL', message: firstLine(err.message), user: false, stack: err.stack };
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? s;
}

export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}

/** The one human line, fix included (plus the stack with --debug). */
export function formatErrorForHuman(r: ErrorReport, debug: boolean): string {
  let line = `Error: ${r.message}`;
  if (r.fix) line += ` (fix: ${r.fix})`;
  else if (!r.user && !debug) line += ' (this looks like a bug in spikeclip: rerun with --debug for the stack trace and report it)';
  if (debug && r.stack) line += `\n${r.stack}`;
  return line;
}

/** The --json error envelope. */
export function errorEnvelope(r: ErrorReport, debug: boolean): { status: number; error: Record<string, unknown> } {
  const error: Record<string, unknown> = { name: r.name, code: r.code, message: r.message };
  if (r.fix) error.fix = r.fix;
  if (debug && r.stack) error.stack = r.stack;
  return { status: r.status, error };
}
