import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { downloadFlag, resolveCheckpointArg } from '../cli/model-source';
import { makeProvenance } from '../cli/provenance';
import { formatDuration } from '../cli/progress';
import { floatFlag, interruptedError, trainFlags, trainHooks, trainNumber, withStopSignals } from '../cli/train-flags';
import { STUDENT_RESIZES, type StudentResize } from '../data/transforms';
import { executeFinetune, prepareFinetune, type FinetuneResult } from '../train/finetune';
import type { KlReduction } from '../train/losses';
import type { FinetuneTarget } from '../train/finetune-teacher';
import type { FinetuneLoss } from '../train/tasks/dual-loss';

export default class Finetune extends SpikeclipCommand<typeof Finetune> {
  static override summary = 'Dual-loss fine-tuning of the spiking image encoder on a labelled dataset.';
  static override description = [
    'Fine-tunes the image encoder with L = CE(z, y) + KL(p || softmax(z)): z are the student\'s cosine logits against the class matrix W that the frozen spiking text encoder builds from the dataset\'s class names and templates (exactly as eval builds it), p is the teacher\'s distribution over the same classes (its image features computed once and cached). --loss ce is the ablation (and the only choice without a teacher); --boundary-angle A is the gate mode. Without --checkpoint, a fresh --preset student is the from-scratch baseline (its random text encoder a fixed class head).',
    'Checkpoints are selected by top-1 on a validation split (carved from train where the dataset has none), never on test unless --select-on test reproduces the reference. Writes the same run folder as pretrain; Ctrl-C saves and exits 130; --resume latest continues bit for bit.',
    '--target teacher fine-tunes the teacher\'s image tower instead, as the reference does first: CE of exp(logit_scale) * cos against the class matrix its own text tower builds; its checkpoints are teacher checkpoints that finetune --teacher and eval take.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> finetune --checkpoint runs/image/checkpoints/best --teacher ckpt/clip-b16 --dataset cifar10 --data-dir ~/data --out runs/ft-c10',
    '<%= config.bin %> finetune --checkpoint ckpt/student --teacher ckpt/clip-b16 --dataset pets --kl-reduction batchmean --out runs/ft-pets',
    '<%= config.bin %> finetune --checkpoint ckpt/student --teacher openai/clip-vit-base-patch16 --dataset cifar10 --out runs/ft-c10',
    '<%= config.bin %> finetune --checkpoint ckpt/student --teacher ckpt/clip-b16 --dataset cifar10 --boundary-angle 90 --out runs/ft-gate',
    '<%= config.bin %> finetune --dataset cifar10 --data-dir ~/data --preset spikeclip-tiny --teacher ckpt/clip-b16 --loss ce --lr 1e-3 --batch-size 64 --max-steps 200 --out runs/scratch',
    '<%= config.bin %> finetune --target teacher --teacher ckpt/clip-b16 --dataset cifar10 --data-dir ~/data --epochs 10 --out runs/teacher-c10',
    '<%= config.bin %> finetune --resume latest --checkpoint ckpt/student --teacher ckpt/clip-b16 --dataset cifar10 --out runs/ft-c10',
  ];

  static override flags = {
    checkpoint: Flags.string({ description: 'Student checkpoint to fine-tune (both encoders; the text encoder stays frozen).', aliases: ['student'], deprecateAliases: true }),
    teacher: Flags.string({ description: 'Teacher checkpoint, or a Hugging Face CLIP model id such as openai/clip-vit-base-patch16[@revision] from the local Hugging Face cache: its class distribution is the KL target (needed by --loss dual and kl).' }),
    ...downloadFlag,
    preset: Flags.string({ description: 'Without --checkpoint: the fresh student\'s architecture (spikeclip-b, spikeclip-tiny), sized to --teacher.' }),
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes or folder:DIR (required).' }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are (default: SPIKECLIP_DATA_DIR, else ~/.cache/spikeclip/data).' }),
    loss: Flags.string({ description: 'dual (CE + KL; default with a teacher), ce (default without), or kl.', options: ['dual', 'ce', 'kl'] }),
    'kl-weight': floatFlag('Weight of the KL term (reference 1).'),
    'kl-reduction': Flags.string({ description: 'KL over the batch: sum (reference) or batchmean.', options: ['sum', 'batchmean'] }),
    temperature: floatFlag('Temperature T of both distributions in the KL term (reference 1).'),
    'boundary-angle': floatFlag('Gate mode: a CE-only step when the CE/KL gradient angle is <= A degrees, else the batch is skipped.'),
    classnames: Flags.string({ description: 'Class names file (JSON list, text lines, or a JSON dictionary renaming classes), as eval takes.' }),
    templates: Flags.string({ description: 'Prompt templates file, as eval takes (default: the dataset\'s CLIP templates).' }),
    renormalize: Flags.boolean({ description: 'L2-normalise each class vector of W after averaging over templates (the reference does not).' }),
    augment: Flags.boolean({ description: 'Random crop (padding 4) and horizontal flip, seeded per (seed, epoch, image). The KL target stays the teacher\'s view of the un-augmented image.' }),
    'val-fraction': floatFlag('Share of train carved (per class, seeded) as the validation split where the dataset has none (default 0.1).', { aliases: ['val-split'] }),
    'select-on': Flags.string({ description: 'Split whose top-1 selects checkpoints/best: val, or test (the reference; recorded in params.json).', options: ['val', 'test'], default: 'val' }),
    ...trainFlags,
    target: Flags.string({ description: 'What trains: the student (default), or the teacher\'s image tower (CE against the teacher\'s own class matrix; writes teacher checkpoints).', options: ['student', 'teacher'], default: 'student' }),
    'student-resize': Flags.string({ description: 'How the student sees images.', options: [...STUDENT_RESIZES], default: 'reference' }),
  };

  async run(): Promise<FinetuneResult> {
    const f = this.flags;
    if (f.dataset === undefined) {
      const { UserError } = await import('../cli/errors');
      throw new UserError('no dataset to fine-tune on', { fix: 'give --dataset NAME (cifar10, cifar100, flowers102, pets, shapes or folder:DIR)' });
    }
    const teacher = f.teacher !== undefined ? await resolveCheckpointArg(f.teacher, { download: f.download, progress: this.progress, note: (l) => this.note(l), what: 'a teacher checkpoint folder', seed: f.seed }) : undefined;
    const prepared = await prepareFinetune({
      checkpoint: f.checkpoint,
      teacher: teacher?.dir,
      preset: f.preset,
      dataset: f.dataset,
      dataDir: f['data-dir'],
      loss: f.loss as FinetuneLoss | undefined,
      klWeight: f['kl-weight'],
      klReduction: f['kl-reduction'] as KlReduction | undefined,
      temperature: f.temperature,
      boundaryAngle: f['boundary-angle'],
      classNamesFile: f.classnames,
      templatesFile: f.templates,
      renormalize: f.renormalize,
      augment: f.augment,
      valFraction: f['val-fraction'],
      selectOn: f['select-on'] as 'val' | 'test',
      target: f.target as FinetuneTarget,
      ...trainNumber(f),
      studentResize: f['student-resize'] as StudentResize,
      seed: f.seed,
      ...trainHooks(this.progress, (line) => this.note(line)),
    });
    const backend = await this.useBackend();
    prepared.o.provenance = makeProvenance({ seed: f.seed, backend: { name: backend.name, threads: backend.threads }, teacher: f.teacher, teacherSource: teacher?.source, data: [f.dataset] }) as unknown as Record<string, unknown>;
    const t0 = Date.now();
    const result = await withStopSignals((stop) => {
      prepared.o.stopRequested = stop;
      return executeFinetune(prepared);
    }, (line) => this.note(line));
    this.progress.stop();
    if (result.stopped === 'interrupted') throw interruptedError('finetune', result.out, result.checkpoint);
    if (!this.jsonEnabled()) this.log(formatFinetune(result, (Date.now() - t0) / 1000));
    return result;
  }
}

function formatFinetune(r: FinetuneResult, seconds: number): string {
  const last = r.lastEpoch ?? {};
  const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : 'n/a');
  const lines = [
    `finetune${r.target === 'teacher' ? ' --target teacher' : ''} (${r.gate ? 'gate' : r.loss}) on ${r.dataset}, ${r.classes} classes: ${r.stopped === 'epochs' ? 'done' : r.stopped === 'max-steps' ? 'stopped at --max-steps' : 'stopped early (no improvement)'} in ${formatDuration(seconds)} (${r.epochs} epochs, ${r.steps} steps)`,
    `  last: loss ${String(last.loss)}${last.ce !== undefined ? `, ce ${String(last.ce)}` : ''}${last.kl !== undefined ? `, kl ${String(last.kl)}` : ''}; ${r.selectOn} top-1 ${pct(last.val_top1)}, top-5 ${pct(last.val_top5)}`,
  ];
  if (r.bestMetric) lines.push(`  best: ${r.selectOn} top-1 ${pct(r.bestMetric.value)} at epoch ${r.bestMetric.epoch}`);
  if (r.checkpoint) lines.push(`latest checkpoint: ${r.checkpoint}`);
  if (r.best) lines.push(`best checkpoint:   ${r.best}`);
  lines.push(`run folder:        ${r.out} (params.json, out.log, results.jsonl)`);
  return lines.join('\n');
}
