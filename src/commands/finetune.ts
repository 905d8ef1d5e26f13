import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { NotAvailableError } from '../cli/errors';

export default class Finetune extends SpikeclipCommand<typeof Finetune> {
  static override summary = 'Dual-loss fine-tuning of the spiking image encoder on a labelled dataset.';
  static override description = `Fine-tunes the image encoder with L = CE(z, y) + KL(p || softmax(z)), where z are the
student's cosine logits against the class matrix W built by the (frozen) spiking text encoder and
p is the teacher's distribution over the same classes (METHOD.md section 6). Checkpoints are
selected on a validation split, never on test, unless --select-on test reproduces the reference.`;

  static override examples = [
    '<%= config.bin %> finetune --student runs/image/checkpoints/latest --teacher ckpt/clip-b16 --dataset cifar10 --data-dir ~/data --out runs/ft-c10',
    '<%= config.bin %> finetune --student ckpt/student --teacher ckpt/clip-b16 --dataset pets --kl-reduction batchmean --out runs/ft-pets',
  ];

  static override flags = {
    student: Flags.string({ description: 'Student checkpoint (image + text encoders).' }),
    teacher: Flags.string({ description: 'Teacher checkpoint.' }),
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes or folder:DIR' }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are.' }),
    epochs: Flags.integer({ description: 'Epochs (reference 200).', min: 1 }),
    'batch-size': Flags.integer({ description: 'Batch size (reference 196).', min: 1 }),
    lr: Flags.string({ description: 'Initial learning rate (reference 5e-4).' }),
    'lr-min': Flags.string({ description: 'Final learning rate (reference 1e-5).' }),
    'kl-weight': Flags.string({ description: 'Weight of the KL term (reference 1).' }),
    'kl-reduction': Flags.string({ description: 'KL reduction over the batch (reference: sum).', options: ['sum', 'batchmean'] }),
    temperature: Flags.string({ description: 'Temperature of the teacher distribution (reference 1).' }),
    'boundary-angle': Flags.string({ description: 'Gate mode: take a CE-only step when the CE/KL gradient angle is <= A degrees, else skip.' }),
    'select-on': Flags.string({ description: 'Split that selects the best checkpoint.', options: ['val', 'test'], default: 'val' }),
    out: Flags.string({ description: 'Run directory.', required: true }),
    resume: Flags.string({ description: 'Resume from a checkpoint path, or "latest" in --out.' }),
  };

  async run(): Promise<never> {
    throw new NotAvailableError('spikeclip finetune', 'dual-loss fine-tuning needs the training loop and the dataset layer, which have not landed in this version');
  }
}
