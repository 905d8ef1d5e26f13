/**
 * Errors of `convert import` / `convert export`: a bad input file, an architecture that does not
 * match, an output directory that may not be replaced. Each is a one-line user error (exit status 4)
 * with a stable code and, where there is one, the fix.
 */
import { EXIT, UserError } from '../errors';

export type ConvertErrorCode =
  | 'E_NOT_FOUND'
  | 'E_NOT_A_CHECKPOINT'
  | 'E_HF_CLIP'
  | 'E_WRONG_MODEL'
  | 'E_WRONG_PART'
  | 'E_MISSING_TENSORS'
  | 'E_UNEXPECTED_TENSORS'
  | 'E_SHAPE_MISMATCH'
  | 'E_DTYPE'
  | 'E_ARCH_MISMATCH'
  | 'E_ARCH'
  | 'E_TOKENIZER'
  | 'E_NOT_STUDENT'
  | 'E_OUT_EXISTS';

export class ConvertError extends UserError {
  constructor(message: string, code: ConvertErrorCode, fix?: string) {
    super(message, { code, fix, exitCode: EXIT.badInput });
    this.name = 'ConvertError';
  }
}

/** "a, b, c and 4 more" */
export function listNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

export function showShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
