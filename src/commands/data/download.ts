import { Flags } from '@oclif/core';
import * as path from 'path';
import { SpikeclipBaseCommand } from '../../cli/base-command';
import { BUILT_IN_DATASETS, fetchDataset, FetchReport, progressText, readChecksumFile, renderFetchReport } from '../../data/archives';
import { defaultDataDir } from '../../data/registry';

export default class DataDownload extends SpikeclipBaseCommand<typeof DataDownload> {
  static override summary = 'Download (resumable) and verify the official archives of a dataset.';
  static override description =
    'Fetches the official files of the dataset into --data-dir: an interrupted transfer resumes where it stopped (HTTP Range) when the command runs again; each file\'s MD5 is checked against the published one before anything uses it (a mismatch deletes the download and fails); archives are then extracted safely (no file may land outside --data-dir). Files already there with the right checksum are not fetched again. SPIKECLIP_DATA_MIRROR (or the hidden --url-base) fetches <mirror>/<file name> instead of the official URLs.';

  static override examples = [
    '<%= config.bin %> data download --dataset cifar10 --data-dir ~/data',
    '<%= config.bin %> data download --dataset cifar100 --variant python --data-dir ~/data',
    'SPIKECLIP_DATA_MIRROR=http://mirror.local/datasets <%= config.bin %> data download --dataset pets --data-dir ~/data',
  ];

  static override flags = {
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102 or pets', required: true }),
    'data-dir': Flags.string({ description: 'Where to put the archives (default: SPIKECLIP_DATA_DIR, else ~/.cache/spikeclip/data).' }),
    variant: Flags.string({ description: 'CIFAR only: the binary version (read without any pickle) or the python version.', options: ['binary', 'python'], default: 'binary' }),
    extract: Flags.boolean({ description: 'Extract the archives after verifying them.', default: true, allowNo: true }),
    'url-base': Flags.string({ description: 'Fetch <url-base>/<file name> instead of the official URLs (a mirror).', env: 'SPIKECLIP_DATA_MIRROR', hidden: true }),
    checksums: Flags.string({ description: 'JSON file of file name -> MD5 replacing the published checksums (for a mirror of re-packed archives).', hidden: true }),
  };

  async run(): Promise<FetchReport | { dataset: string; builtIn: true; files: [] }> {
    const dataset = this.flags.dataset.trim().toLowerCase();
    if (BUILT_IN_DATASETS.includes(dataset)) {
      this.note(`${dataset} is built in (generated from --seed): there is nothing to download`);
      return { dataset, builtIn: true, files: [] };
    }
    const dataDir = path.resolve(this.flags['data-dir'] ?? defaultDataDir());
    const urlBase = this.flags['url-base']?.trim() || undefined;
    const report = await fetchDataset(dataset, {
      dataDir,
      variant: this.flags.variant as 'binary' | 'python',
      extract: this.flags.extract,
      urlBase,
      checksums: this.flags.checksums ? readChecksumFile(this.flags.checksums) : undefined,
      onProgress: (p) => this.progress.update(progressText(p)),
      onStep: (s) => {
        this.progress.stop();
        if (s.action === 'download') this.note(`fetching ${s.file} from ${s.url}`);
        else if (s.action === 'skip') this.note(`${s.file} is already there with the ${this.flags.checksums ? `checksum given in ${this.flags.checksums}` : 'published checksum'}`);
        else this.note(`extracting ${s.file}`);
      },
    });
    this.progress.stop();
    if (!this.jsonEnabled()) this.log(renderFetchReport(report));
    return report;
  }
}
