import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class DataDownload extends SpikeclipCommand<typeof DataDownload> {
  static override summary = 'Download (resumable) and verify the official archives of a dataset.';
  static override examples = ['<%= config.bin %> data download --dataset cifar10 --data-dir ~/data'];
  static override flags = {
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102 or pets', required: true }),
    'data-dir': Flags.string({ description: 'Where to put the archives.', required: true }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip data download', 'the dataset layer has not landed in this version');
  }
}
