import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class ConvertImport extends SpikeclipCommand<typeof ConvertImport> {
  static override summary = 'Import reference SpikeCLIP PyTorch checkpoints (image and/or text encoder).';
  static override examples = ['<%= config.bin %> convert import --from image_encoder.pth.tar --text text_encoder.pth --out ckpt/student'];
  static override flags = {
    from: Flags.string({ description: 'Reference image-encoder checkpoint (.pth, .pth.tar, .bin or .safetensors).', required: true }),
    text: Flags.string({ description: 'Reference text-encoder checkpoint.' }),
    out: Flags.string({ description: 'Checkpoint directory to write.', required: true }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip convert import', 'the safe PyTorch reader has not landed in this version');
  }
}
