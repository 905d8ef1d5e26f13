/**
 * Progress on stderr (ora). It turns itself off when stderr is not a TTY, with --json and with
 * --quiet, so piped and machine-read output never contains spinner frames.
 */
import ora from 'ora';

export interface Progress {
  /** Starts or updates the spinner text. */
  update(text: string): void;
  /**
   * Progress of a long job: the spinner text on a TTY; elsewhere (cluster logs, pipes) a plain
   * stderr line at most every `intervalMs` (SPIKECLIP_PROGRESS_INTERVAL seconds, default 30).
   */
  tick(text: string): void;
  /** Stops with a success mark and a final line (printed as a plain stderr line when not a TTY and not quiet). */
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

/** "1h02m", "3m05s", "42s" for a duration in seconds ("?" when unknown). */
export { formatDuration } from '../io/duration';

export interface ProgressOptions {
  /** Plain progress lines when not spinning: at most one per this many ms (default from SPIKECLIP_PROGRESS_INTERVAL seconds, else 30 s). */
  intervalMs?: number;
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
  const envInterval = Number(process.env.SPIKECLIP_PROGRESS_INTERVAL);
  const interval = opts.intervalMs ?? (Number.isFinite(envInterval) && envInterval >= 0 ? envInterval * 1000 : 30_000);
  let lastLine = 0;
  return {
    tick(text) {
      if (spinner) {
        if (spinner.isSpinning) spinner.text = text;
        else spinner.start(text);
        return;
      }
      if (!opts.log) return;
      const now = Date.now();
      if (now - lastLine < interval) return;
      lastLine = now;
      stream.write(`${text}\n`);
    },
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
