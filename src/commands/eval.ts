import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { NotAvailableError } from '../cli/errors';

export default class Eval extends SpikeclipCommand<typeof Eval> {
  static override summary = 'Zero-shot / fine-tuned classification accuracy of a student or teacher checkpoint.';
  static override description = `Builds the class matrix W from the text encoder over templates x class names and reports
top-1, top-5, mean per-class recall, per-class accuracy, the confusion matrix and the image
encoder's firing rates, as CLIP_benchmark-compatible JSON.`;

  static override examples = [
    '<%= config.bin %> eval --checkpoint runs/ft-c10/checkpoints/best --dataset cifar10 --data-dir ~/data',
    '<%= config.bin %> eval --checkpoint ckpt/clip-b16 --dataset cifar10 --dataset cifar100 --data-dir ~/data --output "results/{dataset}_{checkpoint}.json" --skip-existing',
    '<%= config.bin %> eval --checkpoint ckpt/student --dataset cifar10 --classnames unseen.json --json',
  ];

  static override flags = {
    checkpoint: Flags.string({ description: 'Student or teacher checkpoint.' }),
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes or folder:DIR', multiple: true }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are.' }),
    split: Flags.string({ description: 'Split to evaluate.', default: 'test' }),
    templates: Flags.string({ description: 'Prompt templates file (a JSON list, or a per-class dictionary).' }),
    classnames: Flags.string({ description: 'Class names file (replaced or expanded candidate sets).' }),
    renormalize: Flags.boolean({ description: 'L2-normalise each class vector of W after averaging over templates.' }),
    output: Flags.string({ description: 'Result file; may contain {dataset} and {checkpoint}.' }),
    'skip-existing': Flags.boolean({ description: 'Skip datasets whose --output file exists.' }),
    plot: Flags.string({ description: 'Confusion matrix picture (.svg or .png).' }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip eval', 'zero-shot evaluation needs the dataset layer, the CLIP tokenizer and the eval service, which have not landed in this version');
  }
}
