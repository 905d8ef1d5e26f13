import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { downloadFlag, resolveCheckpointArg } from '../cli/model-source';
import { makeProvenance } from '../cli/provenance';
import { formatDuration } from '../cli/progress';
import { STUDENT_RESIZES, type StudentResize } from '../data/transforms';
import { floatFlag, trainFlags, trainHooks, trainNumber, interruptedError, withStopSignals } from '../cli/train-flags';
import { executePretrain, PRETRAIN_PARTS, preparePretrain, type PretrainPart, type PretrainResult } from '../train/pretrain';

export default class Pretrain extends SpikeclipCommand<typeof Pretrain> {
  static override summary = 'Alignment pre-training: distil a spiking text or image encoder from a frozen CLIP teacher (or train contrastively).';
  static override description = [
    '--part text: the spiking text encoder learns to embed every "template.format(classname)" prompt of the --dataset names (and --prompts FILE) the way the teacher\'s text tower does; --part image: the spiking image encoder, on the 32x32 view of any image source, learns the teacher\'s image features (computed once and cached); --part both: text, then image; L = mean(1 - cos(student, teacher)). --part clip trains both spiking encoders (or, with --target teacher, a small ANN CLIP) from scratch with CLIP\'s contrastive loss on a captioned or labelled source.',
    'A fresh student has the architecture of --preset; --checkpoint starts from a student checkpoint instead. Adam with AMSGrad, cosine-annealed learning rate stepped per epoch; reference defaults per part (docs/training.md).',
    'Writes a run folder (--out): params.json, out.log, results.jsonl, checkpoints/epoch_K, latest and best. Ctrl-C finishes the current step, saves a resumable checkpoint and exits 130; --resume latest continues bit for bit.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> pretrain --part text --teacher ckpt/clip-b16 --dataset cifar10 --dataset cifar100 --out runs/text',
    '<%= config.bin %> pretrain --part image --teacher ckpt/clip-b16 --dataset folder:$HOME/imagenet/train --out runs/image',
    '<%= config.bin %> pretrain --part text --teacher openai/clip-vit-base-patch16 --download --dataset cifar10 --out runs/text',
    '<%= config.bin %> pretrain --part both --teacher ckpt/clip-b16 --dataset shapes --preset spikeclip-tiny --epochs 2 --batch-size 32 --out runs/demo',
    '<%= config.bin %> pretrain --part clip --target teacher --preset clip-tiny --dataset shapes-simple --epochs 8 --text-lr-scale 0.1 --out runs/teacher',
    '<%= config.bin %> pretrain --resume latest --part image --teacher ckpt/clip-b16 --dataset folder:$HOME/imagenet/train --out runs/image',
  ];

  static override flags = {
    part: Flags.string({ description: 'What to train: text, image, both (text then image) or clip (contrastive from scratch).', options: [...PRETRAIN_PARTS], default: 'image' }),
    target: Flags.string({ description: 'With --part clip: the spiking student, or a small ANN CLIP teacher (presets clip-tiny, clip-small).', options: ['student', 'teacher'], default: 'student' }),
    teacher: Flags.string({ description: 'Teacher checkpoint (from `convert teacher`, or `pretrain --part clip --target teacher`), or a Hugging Face CLIP model id such as openai/clip-vit-base-patch16[@revision] from the local Hugging Face cache (converted once into SPIKECLIP_CACHE/teachers); required by text, image and both.' }),
    ...downloadFlag,
    checkpoint: Flags.string({ description: 'Student checkpoint to start from (default: fresh weights of --preset, sized to the teacher).', aliases: ['init'], deprecateAliases: true }),
    preset: Flags.string({ description: 'Architecture of a fresh model: spikeclip-b (default) or spikeclip-tiny; clip-tiny (default) or clip-small with --target teacher.' }),
    dataset: Flags.string({ description: 'shapes, cifar10, cifar100, flowers102, pets, folder:DIR or captions:FILE.csv; repeatable. Text: their templates x class names; image/clip: their train images.', multiple: true }),
    prompts: Flags.string({ description: 'Text part: a file of extra prompts, one per line.' }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are (default: SPIKECLIP_DATA_DIR, else ~/.cache/spikeclip/data).' }),
    ...trainFlags,
    'val-fraction': floatFlag('Text part: share of the prompts held out for validation and selection of best (default 0: all train, best by training loss, as the reference).'),
    'student-resize': Flags.string({ description: 'How the student sees images.', options: [...STUDENT_RESIZES], default: 'reference' }),
    'text-lr-scale': floatFlag('--part clip: the text tower\'s learning rate as a fraction of --lr (default 1; 0 freezes it at its initialisation). Below 1 helps on data with few distinct captions, such as a labelled set (docs/training.md).'),
  };

  async run(): Promise<PretrainResult> {
    const f = this.flags;
    const datasets = typeof f.dataset === 'string' ? [f.dataset] : f.dataset ?? [];
    const hooks = trainHooks(this.progress, (line) => this.note(line));
    const teacher = f.teacher !== undefined ? await resolveCheckpointArg(f.teacher, { download: f.download, progress: this.progress, note: (l) => this.note(l), what: 'a teacher checkpoint folder', seed: f.seed }) : undefined;
    const prepared = await preparePretrain({
      part: f.part as PretrainPart,
      target: f.target as 'student' | 'teacher',
      teacher: teacher?.dir,
      init: f.checkpoint,
      preset: f.preset,
      datasets,
      prompts: f.prompts,
      dataDir: f['data-dir'],
      ...trainNumber(f),
      valFraction: f['val-fraction'],
      textLrScale: f['text-lr-scale'],
      studentResize: f['student-resize'] as StudentResize,
      seed: f.seed,
      ...hooks,
    });
    const backend = await this.useBackend();
    prepared.o.provenance = makeProvenance({ seed: f.seed, backend: { name: backend.name, threads: backend.threads }, teacher: f.teacher, teacherSource: teacher?.source, data: datasets }) as unknown as Record<string, unknown>;
    const t0 = Date.now();
    const result = await withStopSignals((stop) => {
      prepared.o.stopRequested = stop;
      return executePretrain(prepared);
    }, (line) => this.note(line));
    this.progress.stop();
    if (result.stopped === 'interrupted') throw interruptedError('pretrain', result.out, result.checkpoint);
    if (!this.jsonEnabled()) this.log(formatPretrain(result, (Date.now() - t0) / 1000));
    return result;
  }
}

function formatPretrain(r: PretrainResult, seconds: number): string {
  const lines = [`pretrain --part ${r.part}${r.part === 'clip' ? ` (${r.target})` : ''}: ${r.stopped === 'epochs' ? 'done' : r.stopped === 'max-steps' ? 'stopped at --max-steps' : 'stopped early (no improvement)'} in ${formatDuration(seconds)}`];
  for (const p of r.phases) {
    const last = p.lastEpoch ?? {};
    const metrics = Object.entries(last)
      .filter(([k]) => k === 'loss' || k.startsWith('val_'))
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ');
    lines.push(`  ${p.part}: ${p.epochs} epochs, ${p.steps} steps; ${metrics}`);
  }
  if (r.checkpoint) lines.push(`latest checkpoint: ${r.checkpoint}`);
  if (r.best) lines.push(`best checkpoint:   ${r.best}`);
  lines.push(`run folder:        ${r.out} (params.json, out.log, results.jsonl)`);
  return lines.join('\n');
}
