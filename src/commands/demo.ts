import { SpikeclipCommand } from '../cli/base-command';
import { NotAvailableError } from '../cli/errors';

export default class Demo extends SpikeclipCommand<typeof Demo> {
  static override summary = 'End-to-end run on the built-in synthetic "shapes" data: no download needed.';
  static override description = `Pre-trains and fine-tunes a tiny spiking CLIP on the built-in shapes dataset against a small
random teacher, evaluates zero-shot accuracy and prints an energy report.`;
  static override examples = ['<%= config.bin %> demo', '<%= config.bin %> demo --json'];

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip demo', 'the shapes dataset, the teacher and the training loop have not landed in this version');
  }
}
