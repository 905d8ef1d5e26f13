import { Flags } from '@oclif/core';
import { seedFlag, SpikeclipBaseCommand } from '../../cli/base-command';
import { dataInfo, DataInfoReport, renderDataInfo } from '../../data/info';

export default class DataInfo extends SpikeclipBaseCommand<typeof DataInfo> {
  static override summary = 'Split sizes, class counts, class names and the files found for a dataset.';
  static override description = [
    'Opens every split of the dataset and reports its size, the number of images per class, the class names, where each split comes from (official, or carved from train with --val-fraction and --seed) and which of the expected archives or folders were found in --data-dir.',
    'The built-in synthetic set "shapes" needs no files (--seed chooses the images); its report also names the colour-shape combinations held out of train and val for zero-shot tests.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> data info --dataset shapes',
    '<%= config.bin %> data info --dataset cifar10 --data-dir ~/data',
    '<%= config.bin %> data info --dataset folder:$HOME/photos --json',
  ];

  static override flags = {
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes, folder:DIR or captions:FILE', required: true }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are (default: SPIKECLIP_DATA_DIR, else ~/.cache/spikeclip/data).' }),
    'val-fraction': Flags.string({ description: 'Fraction of each class carved from train as val where the dataset has no official val split (default 0.1).' }),
    seed: seedFlag,
  };

  async run(): Promise<DataInfoReport> {
    const vf = this.flags['val-fraction'];
    const report = await dataInfo(this.flags.dataset, {
      dataDir: this.flags['data-dir'],
      seed: this.flags.seed,
      valFraction: vf === undefined ? undefined : Number(vf),
    });
    if (!this.jsonEnabled()) this.log(renderDataInfo(report));
    return report;
  }
}
