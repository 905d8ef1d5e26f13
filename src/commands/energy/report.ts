import { Flags } from '@oclif/core';
import * as path from 'path';
import { SpikeclipCommand } from '../../cli/base-command';
import { EXIT, UserError } from '../../cli/errors';
import { ChartError, writeEnergyChart } from '../../energy/chart';
import { ENERGY_PRESET_NAMES, EnergyModelError, energyConstants, type EnergyConstants } from '../../energy/model';
import { RatesError } from '../../energy/rates';
import { renderEnergyCsv, renderEnergyText } from '../../energy/render';
import { EnergyReportError, runEnergyReport, type EnergyReport, type EnergyReportRequest, type ModelSource } from '../../energy/report';
import { PRESET_NAMES } from '../../models/config';

export type EnergyReportResult = EnergyReport & { chart?: { path: string; format: 'svg' | 'png'; bytes: number } };

const DEFAULT_ARCH = 'spikeclip-b';

export default class EnergyReportCommand extends SpikeclipCommand<typeof EnergyReportCommand> {
  static override summary = 'Per-layer firing rates, synaptic operations and energy of a spiking model.';
  static override description = [
    'Runs inputs through the model with spike monitors and counts, per layer, MACs (real-valued input) and exact SOPs (non-zero input spikes x fan-out, summed over T), then E = E_MAC * MACs + E_AC * SOPs with 45 nm figures (docs/method.md §8), beside the estimate fr x T x FLOPs and the ANN twin\'s energy at the same width (E_MAC * FLOPs, T = 1).',
    '',
    'Inputs: --synthetic (seeded random images and prompts: no data needed), --dataset NAME (a seeded random subset of --samples images of --split, in the student view; prompts from the class names when a tokenizer is at hand), or --rates FILE (given per-layer firing rates: nothing is run). Without --checkpoint the architecture --preset is used with fresh weights seeded by --seed.',
    '',
    'The energy constants are --energy-preset (fp32, fp16 or int8 arithmetic at 45 nm), or --e-mac and --e-ac. Until the next release --preset also takes an energy preset name (its old meaning here), with a warning.',
    '',
    'The report records the weights (checkpoint SHA-256 or seed), the inputs, the number of images, T, the energy constants and the backend. See docs/energy.md.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> energy report --synthetic --preset spikeclip-tiny --samples 8',
    '<%= config.bin %> energy report --checkpoint ckpt/student --dataset cifar10 --data-dir ~/data --samples 256 --plot energy.svg',
    '<%= config.bin %> energy report --synthetic --energy-preset int8 --csv > energy.csv',
    '<%= config.bin %> energy report --rates paper-rates.json --energy-preset fp16 --json',
  ];

  static override flags = {
    checkpoint: Flags.string({ description: 'Student checkpoint directory (default: fresh weights of --preset).' }),
    preset: Flags.custom<string>({
      description: `Architecture of fresh weights without a checkpoint: ${PRESET_NAMES.join(', ')} (default ${DEFAULT_ARCH}). An energy preset name (${ENERGY_PRESET_NAMES.join(', ')}) is the deprecated old meaning of --preset here: use --energy-preset.`,
      aliases: ['arch', 'model-preset'],
      deprecateAliases: true,
      parse: async (input: string) => {
        if ((PRESET_NAMES as readonly string[]).includes(input) || (ENERGY_PRESET_NAMES as readonly string[]).includes(input)) return input;
        throw new Error(`Expected one of ${PRESET_NAMES.join(', ')} but received: ${input}`);
      },
    })(),
    synthetic: Flags.boolean({ description: 'Feed seeded random images and prompts (no data needed).' }),
    dataset: Flags.string({ description: 'Dataset whose images are fed (cifar10, cifar100, flowers102, pets, shapes, folder:DIR, ...).' }),
    'data-dir': Flags.string({ description: 'Where the dataset is (default: SPIKECLIP_DATA_DIR or ~/.cache/spikeclip/data).' }),
    split: Flags.string({ description: 'Dataset split.', default: 'test' }),
    tokenizer: Flags.string({ description: 'CLIP tokenizer folder for the class prompts with --dataset (default: the checkpoint\'s tokenizer/).' }),
    samples: Flags.integer({ description: 'Number of images (and prompts) to average over.', min: 1, default: 64 }),
    'batch-size': Flags.integer({ description: 'Inputs per forward pass.', min: 1, default: 16 }),
    rates: Flags.string({ description: 'Compute from given per-layer firing rates (JSON) without running data.' }),
    'energy-preset': Flags.string({ description: 'Energy per operation: the 45 nm figures for fp32 (default), fp16 or int8 arithmetic.', options: [...ENERGY_PRESET_NAMES] }),
    'e-mac': Flags.string({ description: 'Energy of one MAC in pJ (overrides the preset).' }),
    'e-ac': Flags.string({ description: 'Energy of one AC in pJ (overrides the preset).' }),
    csv: Flags.boolean({ description: 'CSV table on stdout (one row per layer, then totals).' }),
    plot: Flags.string({ description: 'Write the per-layer chart to FILE (.svg or .png).', aliases: ['chart'], deprecateAliases: true }),
  };

  /** The command line as typed (init renames the old --preset ENERGY before parsing). */
  private typedArgv: string[] = [];

  public override async init(): Promise<void> {
    this.typedArgv = [...this.argv];
    const renamed = renameOldEnergyPreset(this.argv);
    this.argv = renamed.argv;
    await super.init();
    for (const v of renamed.values) this.warn(oldEnergyPresetWarning(v));
  }

  private parsePj(flag: string, v: string | undefined): number | undefined {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || x < 0) throw new UserError(`--${flag} must be a non-negative number of picojoules, got "${v}"`, { fix: `e.g. --${flag} ${flag === 'e-mac' ? '4.6' : '0.9'}` });
    return x;
  }

  /** --preset is the architecture; an energy preset name there is the old meaning (deprecated). */
  private presets(): { arch?: string; energy: string } {
    const f = this.flags;
    if (f.preset !== undefined && (ENERGY_PRESET_NAMES as readonly string[]).includes(f.preset)) {
      if (f['energy-preset'] !== undefined) {
        throw new UserError(`--preset ${f.preset} (the old name of --energy-preset) and --energy-preset ${f['energy-preset']} both given`, { fix: 'give --energy-preset only' });
      }
      this.warn(oldEnergyPresetWarning(f.preset));
      return { energy: f.preset };
    }
    return { arch: f.preset, energy: f['energy-preset'] ?? 'fp32' };
  }

  private constants(energy: string): EnergyConstants {
    const f = this.flags;
    return energyConstants(energy, { eMacPj: this.parsePj('e-mac', f['e-mac']), eAcPj: this.parsePj('e-ac', f['e-ac']) });
  }

  private request(): EnergyReportRequest {
    const f = this.flags;
    if (f.csv && this.jsonEnabled()) throw new UserError('--csv and --json are exclusive', { fix: 'choose one output format' });
    const presets = this.presets();
    if (f.checkpoint && presets.arch) throw new UserError('--preset and --checkpoint are exclusive: a checkpoint carries its own architecture', { fix: 'drop --preset' });
    const sources = [f.synthetic ? '--synthetic' : '', f.dataset ? '--dataset' : '', f.rates ? '--rates' : ''].filter((s) => s !== '');
    if (sources.length === 0) {
      throw new UserError('energy report needs inputs', { fix: 'give --synthetic (seeded random images), --dataset NAME [--data-dir DIR], or --rates FILE' });
    }
    if (sources.length > 1) throw new UserError(`${sources.join(' and ')} are exclusive`, { fix: 'give one source of inputs' });
    if (f['data-dir'] && !f.dataset) throw new UserError('--data-dir needs --dataset', { fix: 'add --dataset NAME' });
    if (f.plot && !/\.(svg|png)$/i.test(f.plot)) throw new UserError(`${f.plot}: the chart is written as .svg or .png`, { fix: 'name the file FILE.svg or FILE.png' });
    if (f.tokenizer && !f.dataset) throw new UserError('--tokenizer needs --dataset (it tokenizes the class prompts)', { fix: 'add --dataset NAME, or drop --tokenizer' });
    const model: ModelSource = f.checkpoint ? { kind: 'checkpoint', dir: path.resolve(f.checkpoint) } : { kind: 'preset', name: presets.arch ?? DEFAULT_ARCH, seed: f.seed };
    const inputs: EnergyReportRequest['inputs'] = f.rates
      ? { kind: 'rates', file: f.rates }
      : f.dataset
        ? { kind: 'dataset', dataset: f.dataset, dataDir: f['data-dir'], split: f.split, samples: f.samples, seed: f.seed, tokenizer: f.tokenizer ? path.resolve(f.tokenizer) : undefined }
        : { kind: 'synthetic', samples: f.samples, seed: f.seed };
    return {
      model,
      energy: this.constants(presets.energy),
      inputs,
      batchSize: f['batch-size'],
      commandLine: ['spikeclip', 'energy', 'report', ...this.typedArgv],
    };
  }

  async run(): Promise<EnergyReportResult> {
    const req = this.request();
    if (req.inputs.kind !== 'rates') {
      const info = await this.useBackend();
      req.backend = { name: info.name, threads: info.threads, simd: info.simd };
    }
    req.onNote = (line) => this.note(line);
    req.onProgress = (p) => this.progress.update(`${p.encoder} encoder: ${p.done}${p.total !== null ? `/${p.total}` : ''} ${p.encoder === 'image' ? 'images' : 'prompts'}`);
    let result: EnergyReportResult;
    try {
      result = await runEnergyReport(req);
      if (req.inputs.kind !== 'rates') this.progress.succeed(`counted spikes of ${result.inputs.images} images and ${result.inputs.prompts} prompts`);
      if (this.flags.plot) {
        result.chart = await writeEnergyChart(result, this.flags.plot);
        this.note(`chart: ${result.chart.path}`);
      }
    } catch (e) {
      this.progress.stop();
      throw toUserError(e);
    }
    if (this.flags.csv) process.stdout.write(renderEnergyCsv(result));
    else if (!this.jsonEnabled()) this.log(renderEnergyText(result));
    return result;
  }
}

function oldEnergyPresetWarning(value: string): string {
  return `--preset ${value} naming energy constants is deprecated and will be removed in the next release: use --energy-preset ${value} (--preset is the architecture)`;
}

/**
 * --preset used to name the energy constants here; it now names the architecture (as in inspect,
 * pretrain and finetune). The value sets do not overlap, so `--preset fp16` still means
 * `--energy-preset fp16`: renamed before parsing, so that it may also go with --arch (which is now
 * --preset too, and oclif takes a flag once).
 */
export function renameOldEnergyPreset(argv: readonly string[]): { argv: string[]; values: string[] } {
  const isEnergy = (v: string | undefined): v is string => v !== undefined && (ENERGY_PRESET_NAMES as readonly string[]).includes(v);
  // with --energy-preset too, leave it to the check that names both
  if (argv.some((w) => w === '--energy-preset' || w.startsWith('--energy-preset='))) return { argv: [...argv], values: [] };
  const out: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i];
    if (w === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (w === '--preset' && isEnergy(argv[i + 1])) {
      values.push(argv[i + 1]);
      out.push('--energy-preset', argv[++i]);
    } else if (w.startsWith('--preset=') && isEnergy(w.slice('--preset='.length))) {
      values.push(w.slice('--preset='.length));
      out.push(`--energy-preset=${w.slice('--preset='.length)}`);
    } else {
      out.push(w);
    }
  }
  return { argv: out, values };
}

function toUserError(e: unknown): unknown {
  if (e instanceof EnergyModelError || e instanceof ChartError) return new UserError(e.message, { code: 'E_USAGE', exitCode: EXIT.usage });
  if (e instanceof RatesError) return new UserError(e.message, { code: 'E_RATES', exitCode: EXIT.badInput, fix: 'see docs/energy.md for the rates file format' });
  if (e instanceof EnergyReportError) return new UserError(e.message, { code: 'E_ENERGY', exitCode: EXIT.badInput });
  return e;
}
