import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class ConvertTeacher extends SpikeclipCommand<typeof ConvertTeacher> {
  static override summary = 'Convert a Hugging Face CLIP folder into a spikeclip teacher checkpoint.';
  static override examples = ['<%= config.bin %> convert teacher --from ~/models/clip-vit-base-patch16 --out ckpt/clip-b16'];
  static override flags = {
    from: Flags.string({ description: 'Hugging Face CLIP folder (config.json, model.safetensors or pytorch_model.bin, vocab.json, merges.txt).', required: true }),
    out: Flags.string({ description: 'Checkpoint directory to write.', required: true }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip convert teacher', 'the CLIP teacher and the safe PyTorch reader have not landed in this version');
  }
}
