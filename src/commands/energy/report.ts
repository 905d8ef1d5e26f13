import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { NotAvailableError } from '../../cli/errors';

export default class EnergyReport extends SpikeclipCommand<typeof EnergyReport> {
  static override summary = 'Per-layer firing rates, synaptic operations and energy of a spiking model.';
  static override description = `Runs inputs through the model with spike monitors and counts, per layer, MACs (real-valued
input) and exact SOPs (non-zero input spikes x fan-out), then E = E_MAC * MACs + E_AC * SOPs with
45 nm figures (METHOD.md section 8), beside the ANN twin's energy at the same width.`;

  static override examples = [
    '<%= config.bin %> energy report --synthetic',
    '<%= config.bin %> energy report --checkpoint ckpt/student --dataset cifar10 --data-dir ~/data --samples 256 --chart energy.svg',
    '<%= config.bin %> energy report --rates paper-rates.json --preset fp16 --csv',
  ];

  static override flags = {
    checkpoint: Flags.string({ description: 'Student checkpoint (default: fresh weights of the default architecture).' }),
    dataset: Flags.string({ description: 'Dataset whose images are fed.' }),
    'data-dir': Flags.string({ description: 'Where the dataset is.' }),
    samples: Flags.integer({ description: 'Number of images.', min: 1, default: 64 }),
    synthetic: Flags.boolean({ description: 'Feed seeded random images (no data needed).' }),
    preset: Flags.string({ description: 'Energy per operation preset.', options: ['fp32', 'fp16', 'int8'], default: 'fp32' }),
    'e-mac': Flags.string({ description: 'Energy of one MAC in pJ (overrides the preset).' }),
    'e-ac': Flags.string({ description: 'Energy of one AC in pJ (overrides the preset).' }),
    csv: Flags.boolean({ description: 'CSV table on stdout.' }),
    chart: Flags.string({ description: 'Per-layer chart (.svg or .png).' }),
    rates: Flags.string({ description: 'Compute from given per-layer firing rates (JSON) without running data.' }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip energy report', 'the energy accounting service has not landed in this version');
  }
}
