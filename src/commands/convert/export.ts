import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class ConvertExport extends SpikeclipCommand<typeof ConvertExport> {
  static override summary = 'Export a checkpoint as reference-named PyTorch safetensors or as a TF.js model folder.';
  static override examples = [
    '<%= config.bin %> convert export --checkpoint ckpt/student --format safetensors --out export/pt',
    '<%= config.bin %> convert export --checkpoint ckpt/student --format tfjs --out export/web',
  ];
  static override flags = {
    checkpoint: Flags.string({ description: 'Checkpoint to export.', required: true }),
    format: Flags.string({ description: 'Output format.', options: ['safetensors', 'tfjs'], required: true }),
    out: Flags.string({ description: 'Output directory.', required: true }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip convert export', 'export needs the model layer and its PyTorch name mapping, which have not landed in this version');
  }
}
