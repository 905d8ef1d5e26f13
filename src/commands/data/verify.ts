import { Flags } from '@oclif/core';
import * as path from 'path';
import { SpikeclipBaseCommand } from '../../cli/base-command';
import { BUILT_IN_DATASETS, readChecksumFile, renderVerifyReport, verifyArchives, verifyFailure, VerifyReport } from '../../data/archives';
import { defaultDataDir } from '../../data/registry';

export default class DataVerify extends SpikeclipBaseCommand<typeof DataVerify> {
  static override summary = 'Check the official archives of a dataset against their published MD5 checksums.';
  static override description =
    'Computes the MD5 of every official file of the dataset found in --data-dir (also in its flowers-102/ and oxford-iiit-pet/ sub-folders) and compares it with the published checksum. Succeeds when every file found matches and at least one complete set is there (CIFAR: the binary or the python version); a mismatch, no file at all, or a missing file fails with exit status 4 and names the file and the fix.';

  static override examples = [
    '<%= config.bin %> data verify --dataset cifar10 --data-dir ~/data',
    '<%= config.bin %> data verify --dataset flowers102 --data-dir ~/data --json',
  ];

  static override flags = {
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102 or pets', required: true }),
    'data-dir': Flags.string({ description: 'Where the archives are (default: SPIKECLIP_DATA_DIR, else ~/.cache/spikeclip/data).' }),
    checksums: Flags.string({ description: 'JSON file of file name -> MD5 replacing the published checksums (for re-packed archives).', hidden: true }),
  };

  async run(): Promise<VerifyReport | { dataset: string; builtIn: true; files: [] }> {
    const dataset = this.flags.dataset.trim().toLowerCase();
    if (BUILT_IN_DATASETS.includes(dataset)) {
      this.note(`${dataset} is built in (generated from --seed): there are no files to verify`);
      return { dataset, builtIn: true, files: [] };
    }
    const dataDir = path.resolve(this.flags['data-dir'] ?? defaultDataDir());
    const checksums = this.flags.checksums ? readChecksumFile(this.flags.checksums) : undefined;
    const report = await verifyArchives(
      dataset,
      dataDir,
      (file, bytes, total) => this.progress.update(`md5 ${file}: ${total > 0 ? Math.floor((100 * bytes) / total) : 100}%`),
      checksums,
    );
    this.progress.stop();
    if (!this.jsonEnabled()) this.log(renderVerifyReport(report));
    const failure = verifyFailure(report);
    if (failure) throw failure;
    return report;
  }
}
