import { EXIT, UserError } from '../errors';

/** A checkpoint that cannot serve as the encoder asked for (e.g. texts without a tokenizer). */
export class EncoderError extends UserError {
  constructor(message: string, code: string, fix?: string) {
    super(message, { code, fix, exitCode: EXIT.badInput });
    this.name = 'EncoderError';
  }
}
