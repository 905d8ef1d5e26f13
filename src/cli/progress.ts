/**
 * Progress on stderr (ora). It turns itself off when stderr is not a TTY, with --json and with
 * --quiet, so piped and machine-read output never contains spinner frames.
 */
import ora from 'ora';

export interface Progress {
  /** Starts or updates the spinner text. */
  update(text: string): void;
  /** Stops with a success mark and a final line (printed as a plain stderr line when not a TTY and not quiet). */
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Spinner allowed at all (false for --json and --quiet). */
  enabled: boolean;
  /** Plain log lines allowed (false for --quiet and --json). */
  log: boolean;
  stream?: NodeJS.WriteStream;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const spinning = opts.enabled && stream.isTTY === true && process.env.CI === undefined;
  const spinner = spinning ? ora({ stream, discardStdin: false }) : undefined;
  return {
    update(text) {
      if (!spinner) return;
      if (spinner.isSpinning) spinner.text = text;
      else spinner.start(text);
    },
    succeed(text) {
      if (spinner) spinner.succeed(text);
      else if (opts.log) stream.write(`${text}\n`);
    },
    fail(text) {
      if (spinner) spinner.fail(text);
      else if (opts.log) stream.write(`${text}\n`);
    },
    stop() {
      spinner?.stop();
    },
  };
}
