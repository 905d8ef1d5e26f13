import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class DataInfo extends SpikeclipCommand<typeof DataInfo> {
  static override summary = 'Split sizes, class counts, class names and the files found for a dataset.';
  static override examples = ['<%= config.bin %> data info --dataset cifar10 --data-dir ~/data', '<%= config.bin %> data info --dataset shapes --json'];
  static override flags = {
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes or folder:DIR', required: true }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are.' }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip data info', 'the dataset layer has not landed in this version');
  }
}
