import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class DataVerify extends SpikeclipCommand<typeof DataVerify> {
  static override summary = 'Check the official archives of a dataset against their published MD5 checksums.';
  static override examples = ['<%= config.bin %> data verify --dataset cifar10 --data-dir ~/data'];
  static override flags = {
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102 or pets', required: true }),
    'data-dir': Flags.string({ description: 'Where the archives are.', required: true }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip data verify', 'the dataset layer has not landed in this version');
  }
}
