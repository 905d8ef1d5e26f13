/**
 * One error path for every command. A `UserError` is a mistake the user can fix: it prints as one
 * line with the fix and no stack trace. Errors from our file readers and validators are user errors
 * too (a bad file is not a bug). Anything else is an internal error: one line plus a hint to rerun
 * with --debug for the stack.
 */
import { describeUsageError } from './usage-message';

export interface UserErrorOptions {
  /** What to do about it, shown after the message. */
  fix?: string;
  /** Stable machine-readable code, e.g. `E_CONFIG`. */
  code?: string;
  /** Process exit status (default 2 for usage errors, see EXIT). */
  exitCode?: number;
}

/** Exit statuses shared by all commands. */
export const EXIT = Object.freeze({
  ok: 0,
  internal: 1,
  usage: 2,
  notAvailable: 3,
  badInput: 4,
});

export class UserError extends Error {
  readonly fix?: string;
  readonly code: string;
  readonly exitCode: number;
  constructor(message: string, opts: UserErrorOptions = {}) {
    super(message);
    this.name = 'UserError';
    this.fix = opts.fix;
    this.code = opts.code ?? 'E_USAGE';
    this.exitCode = opts.exitCode ?? EXIT.usage;
  }
}

/** A command or option whose capability has not landed yet: never a fake success. */
export class NotAvailableError extends UserError {
  constructor(what: string, missing: string) {
    super(`${what} is not available yet: ${missing}`, {
      code: 'E_NOT_AVAILABLE',
      exitCode: EXIT.notAvailable,
      fix: 'see `spikeclip --help` and the README for what this version can do',
    });
    this.name = 'NotAvailableError';
  }
}

/** Error classes thrown by our own validators and readers; their messages are written for users. */
const USER_ERROR_NAMES = new Set([
  'UserError',
  'NotAvailableError',
  'BackendError',
  'SafetensorsError',
  'CheckpointError',
  'ConfigFileError',
  'ModuleError',
  'ConfigError',
  'NeuronConfigError',
  'ModelConfigError',
  'PickleError',
  'ZipError',
  'ClipConfigError',
  'OptimizerError',
  'NonFiniteLossError',
  'MatError',
  'TarError',
  'DatasetError',
  'TokenizerError',
  'ChartError',
  'EnergyModelError',
  'EnergyReportError',
  'MetricsError',
  'PytorchNameError',
  'RatesError',
  'TfjsModelError',
]);

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

interface OclifLike {
  oclif?: { exit?: number };
  code?: string;
}

function isOclifParseError(e: Error): boolean {
  // oclif's parser errors (unknown flag, missing argument, bad option) are CLIErrors with an oclif exit code.
  const o = e as Error & OclifLike;
  return o.oclif !== undefined || /^(Nonexistent flag|Unexpected argument|Missing required|Expected --|Parsing --|Expected a|Expected an integer)/.test(e.message);
}

/** Turns anything thrown into the report both output modes print. */
export function toErrorReport(err: unknown): ErrorReport {
  if (!(err instanceof Error)) {
    return { status: EXIT.internal, name: 'Error', code: 'E_INTERNAL', message: String(err), user: false };
  }
  if (err instanceof UserError) {
    return { status: err.exitCode, name: err.name, code: err.code, message: err.message, fix: err.fix, user: true, stack: err.stack };
  }
  if (USER_ERROR_NAMES.has(err.name)) {
    const code = (err as Error & { code?: unknown }).code;
    return {
      status: EXIT.badInput,
      name: err.name,
      code: typeof code === 'string' && code.startsWith('E_') ? code : `E_${err.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`,
      message: err.message,
      user: true,
      stack: err.stack,
    };
  }
  if (isOclifParseError(err)) {
    const o = err as Error & OclifLike;
    return {
      status: EXIT.usage,
      name: 'UsageError',
      code: 'E_USAGE',
      message: describeUsageError(err.message),
      fix: 'see --help for the flags this command accepts',
      user: true,
      stack: err.stack,
      ...(o.oclif?.exit === 0 ? { status: 0 } : {}),
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
