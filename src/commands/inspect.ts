import { Args, Flags } from '@oclif/core';
import * as path from 'path';
import { SpikeclipBaseCommand } from '../cli/base-command';
import { UserError } from '../cli/errors';
import { inspectArchitecture, inspectCheckpoint, InspectReport, renderInspectReport } from '../inspect/inspect';
import { PRESET_NAMES } from '../models/config';

export default class Inspect extends SpikeclipBaseCommand<typeof Inspect> {
  static override summary = 'Show a checkpoint\'s config, parameter counts per part, tensors and provenance.';
  static override description = [
    'With a checkpoint (the argument, or --checkpoint): its kind, config, parameter counts per part (image encoder, text encoder, total; BatchNorm running statistics are counted apart, as PyTorch does), every tensor with its shape and dtype, whether the tensors match the architecture in its config, the weights\' SHA-256, training state and tokenizer files, and provenance (teacher, data, command line, code version, seed). Reads only the safetensors header, so inspecting a large teacher is instant.',
    'Without a checkpoint: the architecture of --preset (default spikeclip-b, the reference SpikeCLIP of docs/method.md §§3-4) with its parameter counts, tensors and per-layer FLOPs, without allocating weights.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> inspect',
    '<%= config.bin %> inspect --preset spikeclip-tiny --json',
    '<%= config.bin %> inspect runs/image/checkpoints/epoch_10',
    '<%= config.bin %> inspect ckpt/clip-b16 --summary',
    '<%= config.bin %> inspect --checkpoint runs/image/checkpoints/best --json',
  ];

  static override args = {
    checkpoint: Args.string({ description: 'Checkpoint directory (or give --checkpoint; omit both to describe --preset).', required: false }),
  };

  static override flags = {
    checkpoint: Flags.string({ description: 'Checkpoint directory, as the argument takes (the name every other command uses).' }),
    preset: Flags.string({ description: `Architecture to describe without a checkpoint: ${PRESET_NAMES.join(', ')}.`, default: 'spikeclip-b' }),
    summary: Flags.boolean({ description: 'Omit the tensor list from the human output (JSON always has it).' }),
  };

  async run(): Promise<InspectReport> {
    const checkpoint = this.checkpoint();
    let report: InspectReport;
    if (checkpoint) {
      report = await inspectCheckpoint(path.resolve(checkpoint));
    } else {
      if (!PRESET_NAMES.includes(this.flags.preset)) {
        throw new UserError(`unknown preset "${this.flags.preset}"`, { fix: `choose one of ${PRESET_NAMES.join(', ')}` });
      }
      report = inspectArchitecture(this.flags.preset);
    }
    if (!this.jsonEnabled()) this.log(renderInspectReport(report, { tensors: !this.flags.summary }));
    return report;
  }

  /** The argument or --checkpoint (both only when they agree). */
  private checkpoint(): string | undefined {
    const arg = this.args.checkpoint;
    const flag = this.flags.checkpoint;
    if (arg !== undefined && flag !== undefined && path.resolve(arg) !== path.resolve(flag)) {
      throw new UserError(`two checkpoints: ${arg} (argument) and --checkpoint ${flag}`, { fix: 'give one of them' });
    }
    return arg ?? flag;
  }
}
