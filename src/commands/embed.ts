import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { NotAvailableError } from '../cli/errors';

export default class Embed extends SpikeclipCommand<typeof Embed> {
  static override summary = 'Embed images and texts with a teacher or student checkpoint and show their cosine similarities.';
  static override examples = [
    '<%= config.bin %> embed --model ckpt/clip-b16 --image cat.jpg --text "a photo of a cat" --text "a photo of a dog"',
    '<%= config.bin %> embed --model ckpt/student --image a.png --image b.png --json',
  ];

  static override flags = {
    model: Flags.string({ description: 'Teacher or student checkpoint.', required: true }),
    image: Flags.string({ description: 'Image file (jpg, png, webp); repeatable.', multiple: true }),
    text: Flags.string({ description: 'Text; repeatable.', multiple: true }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip embed', 'the CLIP tokenizer, image preprocessing and the teacher have not landed in this version');
  }
}
