import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { UserError } from '../cli/errors';
import { downloadFlag, resolveCheckpointArg } from '../cli/model-source';
import { makeProvenance } from '../cli/provenance';
import { STUDENT_RESIZES, type StudentResize } from '../data/transforms';
import { formatResults, type EvalRun } from '../eval/results';
import { executeEval, prepareEval } from '../eval/run';

export default class Eval extends SpikeclipCommand<typeof Eval> {
  static override summary = 'Zero-shot / fine-tuned classification accuracy of a student or teacher checkpoint.';
  static override description = [
    'Builds the class matrix W from the checkpoint\'s text encoder over templates x class names (mean of the L2-normalised prompt embeddings per class; cached on disk), ranks the candidates of every image by cosine similarity and reports top-1, top-5 (5 or more candidates), mean per-class recall, per-class accuracy, the confusion matrix and, for students, the image encoder\'s firing rate per layer, as CLIP_benchmark-compatible JSON.',
    'Student checkpoints see the 32x32 student view; teacher checkpoints (convert teacher) see CLIP\'s 224 view, so one command gives both rows of a comparison. --classnames and --templates take a JSON list, a JSON dictionary or a text file with one entry per line: replaced class names (same count, or {"horse": "zebra"}), or with --expand extra distractor names. See docs/eval.md.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> eval --checkpoint runs/ft-c10/checkpoints/best --dataset cifar10 --data-dir ~/data',
    '<%= config.bin %> eval --checkpoint ckpt/clip-b16 --dataset cifar10 --dataset cifar100 --data-dir ~/data --output "results/{dataset}_{checkpoint}.json" --skip-existing',
    '<%= config.bin %> eval --checkpoint ckpt/student --dataset cifar10 --classnames unseen.json --json',
    '<%= config.bin %> eval --checkpoint ckpt/student --dataset cifar10 --classnames cifar10+distractors.txt --expand --plot confusion.svg',
    '<%= config.bin %> eval --checkpoint ckpt/student --dataset shapes --limit 100',
    '<%= config.bin %> eval --checkpoint runs/demo/finetune/checkpoints/best --dataset shapes-simple --classes "red circle,orange square,yellow triangle,green star,blue hexagon,purple cross"',
    '<%= config.bin %> eval --checkpoint openai/clip-vit-base-patch16 --download --dataset cifar10 --data-dir ~/data',
  ];

  static override flags = {
    // (required, but checked in run() so that a --config file may give them)
    checkpoint: Flags.string({ description: 'Student or teacher checkpoint (required), or a Hugging Face CLIP model id such as openai/clip-vit-base-patch16[@revision] from the local Hugging Face cache.' }),
    ...downloadFlag,
    dataset: Flags.string({ description: 'cifar10, cifar100, flowers102, pets, shapes or folder:DIR; repeatable (required).', multiple: true }),
    'data-dir': Flags.string({ description: 'Where the dataset archives or folders are (default: SPIKECLIP_DATA_DIR, else ~/.cache/spikeclip/data).' }),
    split: Flags.string({ description: 'Split to evaluate (val is carved from train with --seed where the dataset has none).', default: 'test' }),
    templates: Flags.string({ description: 'Prompt templates file: a JSON list or text lines with {} for the class name, or a per-class JSON dictionary of prompts.' }),
    classnames: Flags.string({ description: 'Class names file: a JSON list or text lines (one name per class, in label order), or a JSON dictionary renaming some classes.' }),
    classes: Flags.string({ description: 'Evaluate among these classes only (comma-separated names, or repeat the flag): their test images, classified among their names alone, e.g. the classes held out of training (the standard zero-shot protocol).', multiple: true, delimiter: ',' }),
    expand: Flags.boolean({ description: 'Allow more --classnames than classes: the extra names are distractors (candidates with no images).' }),
    renormalize: Flags.boolean({ description: 'L2-normalise each class vector of W after averaging over templates (the reference does not).' }),
    output: Flags.string({ description: "Result file (JSON); may contain CLIP_benchmark's placeholders {dataset}, {model}, {pretrained}, {pretrained_full_path}, {task}, {language}, and {checkpoint} (the directory name), {split}." }),
    'skip-existing': Flags.boolean({ description: 'Skip datasets whose --output file exists.' }),
    plot: Flags.string({ description: 'Confusion matrix picture (.svg or .png); may contain the same placeholders as --output.' }),
    limit: Flags.integer({ description: 'Evaluate a seeded random subset of N images of the split (--seed chooses it).', min: 1 }),
    'batch-size': Flags.integer({ description: 'Images per forward pass.', default: 32, min: 1 }),
    'student-resize': Flags.string({ description: 'How a student checkpoint sees images: the reference resize (224 then 32), antialias, or direct.', options: [...STUDENT_RESIZES], default: 'reference' }),
    'firing-rates': Flags.boolean({ description: "Measure the student image encoder's firing rate per layer (--no-firing-rates skips it, a little faster).", default: true, allowNo: true }),
    'classifier-cache': Flags.boolean({ description: 'Cache the class matrix W on disk under SPIKECLIP_CACHE (or ~/.cache/spikeclip)/classifiers.', default: true, allowNo: true }),
  };

  async run(): Promise<EvalRun> {
    const f = this.flags;
    if (f.checkpoint === undefined) throw new UserError('no checkpoint to evaluate', { fix: 'give --checkpoint DIR (a student or a teacher checkpoint)' });
    const datasets = typeof f.dataset === 'string' ? [f.dataset] : f.dataset ?? [];
    if (datasets.length === 0) throw new UserError('no dataset to evaluate', { fix: 'give --dataset NAME (cifar10, cifar100, flowers102, pets, shapes or folder:DIR); repeat it for several' });
    if (f.expand && f.classnames === undefined) {
      throw new UserError('--expand needs --classnames', { fix: 'give --classnames FILE listing the dataset\'s classes first, then the distractor names' });
    }
    const model = await resolveCheckpointArg(f.checkpoint, { download: f.download, progress: this.progress, note: (l) => this.note(l), what: 'a student or teacher checkpoint folder', seed: f.seed });
    const prepared = await prepareEval({
      checkpoint: model.dir,
      datasets,
      dataDir: f['data-dir'],
      split: f.split,
      seed: f.seed,
      templatesFile: f.templates,
      classNamesFile: f.classnames,
      classes: f.classes === undefined ? undefined : (typeof f.classes === 'string' ? [f.classes] : f.classes).map((c) => c.trim()),
      expand: f.expand,
      renormalize: f.renormalize,
      output: f.output,
      skipExisting: f['skip-existing'],
      plot: f.plot,
      limit: f.limit,
      batchSize: f['batch-size'],
      studentResize: f['student-resize'] as StudentResize,
      firingRates: f['firing-rates'],
      classifierCache: f['classifier-cache'],
      onProgress: (t) => this.progress.update(t),
      onNote: (line) => {
        this.progress.stop();
        this.note(line);
      },
      onWarning: (m) => process.emitWarning(m),
    });
    // checked and opened without TF.js; the backend starts only when there is something to run
    let extra = {};
    if (prepared.datasets.length > 0) {
      const backend = await this.useBackend();
      const b = { name: backend.name, threads: backend.threads, simd: backend.simd };
      extra = { backend: b, provenance: makeProvenance({ seed: f.seed, backend: { name: b.name, threads: b.threads }, teacherSource: model.source }) as unknown as Record<string, unknown> };
    }
    const run = await executeEval(prepared, extra);
    this.progress.stop();
    if (!this.jsonEnabled()) this.log(formatResults(run));
    return run;
  }
}
