/**
 * The errors spikeclip raises on purpose. Every one is a `SpikeclipError`: a message written for
 * the user, a stable machine-readable `code` (`E_...`), the process exit status it ends with, and
 * optionally what to do about it (`fix`). The CLI prints them as one line (src/cli/errors.ts)
 * and treats anything that is not one as an internal bug.
 *
 * A leaf module: it imports nothing from the project, so every layer (io, models, train, eval,
 * convert, ..., cli) may import it.
 */

/** Exit statuses shared by all commands (docs/cli.md). */
export const EXIT = Object.freeze({
  ok: 0,
  /** A bug in spikeclip: anything that is not a SpikeclipError. */
  internal: 1,
  /** A mistake in the command line: unknown flag, bad value, flags that exclude each other. */
  usage: 2,
  /** A capability that is not available: not landed yet, or its package is not installed. */
  notAvailable: 3,
  /** A missing, truncated or malformed file or data set. */
  badInput: 4,
  /** A run stopped by SIGINT/SIGTERM (128 + 2, as shells report it). */
  interrupted: 130,
});

export interface SpikeclipErrorOptions {
  /** Stable machine-readable code, e.g. `E_CONFIG`. */
  code: string;
  /** Process exit status (see EXIT). */
  exitCode: number;
  /** What to do about it, shown after the message. */
  fix?: string;
}

export class SpikeclipError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly fix?: string;
  constructor(message: string, opts: SpikeclipErrorOptions) {
    super(message);
    this.name = new.target.name;
    this.code = opts.code;
    this.exitCode = opts.exitCode;
    if (opts.fix !== undefined) this.fix = opts.fix;
  }
}

export interface UserErrorOptions {
  fix?: string;
  /** Default `E_USAGE`. */
  code?: string;
  /** Default 2 (usage). */
  exitCode?: number;
}

/** A mistake the user can fix; by default a usage error (exit status 2). */
export class UserError extends SpikeclipError {
  constructor(message: string, opts: UserErrorOptions = {}) {
    super(message, { code: opts.code ?? 'E_USAGE', exitCode: opts.exitCode ?? EXIT.usage, fix: opts.fix });
    this.name = 'UserError';
  }
}

/** The family of errors about a file or data set that is missing, truncated or malformed (exit status 4). */
export class BadInputError extends SpikeclipError {
  constructor(message: string, code: string, fix?: string) {
    super(message, { code, exitCode: EXIT.badInput, fix });
    this.name = 'BadInputError';
  }
}

/** A command or option whose capability has not landed yet: never a fake success. */
export class NotAvailableError extends SpikeclipError {
  constructor(what: string, missing: string) {
    super(`${what} is not available yet: ${missing}`, {
      code: 'E_NOT_AVAILABLE',
      exitCode: EXIT.notAvailable,
      fix: 'see `spikeclip --help` and the README for what this version can do',
    });
    this.name = 'NotAvailableError';
  }
}
