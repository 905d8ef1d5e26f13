import { EXIT, UserError } from '../errors';

/** A training command's user-facing error: bad flags, run folders, checkpoints, data (exit 2 or 4). */
export class TrainError extends UserError {
  constructor(message: string, code: string, fix?: string, exitCode: number = EXIT.badInput) {
    super(message, { code, fix, exitCode });
    this.name = 'TrainError';
  }
}

/** A usage mistake in a training command's flags (exit 2). */
export function trainUsage(message: string, fix: string): TrainError {
  return new TrainError(message, 'E_USAGE', fix, EXIT.usage);
}
