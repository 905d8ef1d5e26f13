import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { NotAvailableError } from '../cli/errors';

export default class Pretrain extends SpikeclipCommand<typeof Pretrain> {
  static override summary = 'Alignment pre-training: distil a spiking image or text encoder from a frozen CLIP teacher.';
  static override description = `Trains the student's image encoder (on any image set, e.g. ImageNet train folders) or its
text encoder (on every "template.format(classname)" prompt of the chosen datasets) so that its
512-d embedding points the same way as the teacher's: L = mean(1 - cos(student, teacher)).
Adam with AMSGrad, cosine-annealed learning rate stepped per epoch (METHOD.md section 6).
Writes a run directory with params.json, results.jsonl and checkpoints/epoch_K; --resume latest continues.`;

  static override examples = [
    '<%= config.bin %> pretrain --part text --teacher ckpt/clip-b16 --dataset cifar10 --out runs/text',
    '<%= config.bin %> pretrain --part image --teacher ckpt/clip-b16 --dataset folder:~/imagenet/train --epochs 50 --out runs/image',
    '<%= config.bin %> pretrain --part image --teacher ckpt/clip-b16 --dataset shapes --preset spikeclip-tiny --epochs 2 --out runs/demo',
    '<%= config.bin %> pretrain --resume latest --out runs/image',
  ];

  static override flags = {
    part: Flags.string({ description: 'Which encoder to align.', options: ['image', 'text'], default: 'image' }),
    teacher: Flags.string({ description: 'Teacher checkpoint (from `spikeclip convert teacher`).' }),
    init: Flags.string({ description: 'Student checkpoint to start from (default: fresh weights of --preset).' }),
    preset: Flags.string({ description: 'Student architecture preset.', default: 'spikeclip-b' }),
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes, folder:DIR or captions:FILE.csv', multiple: true }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are.' }),
    epochs: Flags.integer({ description: 'Epochs (reference: 50 image, up to 2000 text with early stopping).', min: 1 }),
    'batch-size': Flags.integer({ description: 'Batch size (reference: 196 image, 1024 text).', min: 1 }),
    lr: Flags.string({ description: 'Initial learning rate (reference 5e-3).' }),
    'lr-min': Flags.string({ description: 'Final learning rate of the cosine schedule (reference 5e-4).' }),
    out: Flags.string({ description: 'Run directory.', required: true }),
    resume: Flags.string({ description: 'Resume from a checkpoint path, or "latest" in --out.' }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip pretrain', 'the training loop (losses, AMSGrad, schedules, run directories) has not landed in this version');
  }
}
