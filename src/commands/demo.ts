import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { EXIT, UserError } from '../cli/errors';
import { makeProvenance } from '../cli/provenance';
import { trainHooks, withStopSignals } from '../cli/train-flags';
import { DEMO_DATASETS } from '../demo/plan';
import { DemoError, executeDemo, prepareDemo } from '../demo/run';
import { formatDemoSummary, type DemoSummary } from '../demo/summary';

export default class Demo extends SpikeclipCommand<typeof Demo> {
  static override summary = 'The whole SpikeCLIP pipeline on built-in synthetic shapes data: no download needed.';
  static override description = [
    'A real run, stage by stage, of the same code the commands use, into one run folder (--out).',
    '1. teacher: a small ANN CLIP (clip-tiny) trained contrastively on the shapes captions (pretrain --part clip --target teacher; --teacher CKPT skips it).',
    '2. align-text, align-image: the spiking text encoder, then the spiking image encoder (spikeclip-tiny), aligned to that teacher (pretrain --part text, then --part image).',
    '3. finetune: dual-loss (CE + KL) fine-tuning of the spiking image encoder on the shapes classes.',
    '4. eval: the teacher and the student before and after fine-tuning on the test split; zero-shot accuracy on the six colour-shape combinations held out of training, among their own names (chance 1/6) and among all 36 names (chance 1/36).',
    '5. energy: energy report of the student against its ANN twin, with its chart (SVG).',
    'Then a summary: accuracy per stage, energy per image, firing rate, wall time, every file, and the commands that do the same on CIFAR-10 with a real CLIP teacher. --quick is a smaller budget (a smoke run; the tests run it). docs/demo.md has the timings.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> demo',
    '<%= config.bin %> demo --out runs/my-demo --json',
    '<%= config.bin %> demo --quick',
    '<%= config.bin %> demo --dataset shapes',
    '<%= config.bin %> demo --teacher ckpt/clip-b16',
  ];

  static override flags = {
    out: Flags.string({ description: 'Run folder (default: runs/demo-<date>, or -2, -3, ... when taken).' }),
    teacher: Flags.string({ description: 'A teacher checkpoint to align to instead of training one (from `convert teacher` or `pretrain --part clip --target teacher`).' }),
    dataset: Flags.string({
      description: 'Which built-in set: shapes-simple (upright, centred shapes on plain backgrounds) or shapes (random position, size, rotation and backgrounds: harder; in this budget the small teacher learns colour and hardly any shape from either, docs/demo.md).',
      options: [...DEMO_DATASETS],
      default: DEMO_DATASETS[0],
    }),
    quick: Flags.boolean({ description: 'A much smaller budget: every stage runs, too briefly to learn much (what the tests run).' }),
  };

  async run(): Promise<DemoSummary> {
    const f = this.flags;
    let prepared;
    try {
      prepared = await prepareDemo({ out: f.out, teacher: f.teacher, quick: f.quick, seed: f.seed, dataset: f.dataset as (typeof DEMO_DATASETS)[number] });
    } catch (e) {
      throw toUserError(e);
    }
    const backend = await this.useBackend();
    const b = { name: backend.name, threads: backend.threads, simd: backend.simd };
    prepared.o.backend = b;
    prepared.o.provenance = makeProvenance({ seed: f.seed, backend: { name: b.name, threads: b.threads }, teacher: f.teacher, data: [f.dataset] }) as unknown as Record<string, unknown>;
    const hooks = trainHooks(this.progress, (line) => this.note(line));
    Object.assign(prepared.o, hooks);
    prepared.o.onStage = (stage, i, n, what) => {
      this.progress.stop();
      this.note(`[${i}/${n}] ${stage}: ${what}`);
    };
    const result = await withStopSignals((stop) => {
      prepared.o.stopRequested = stop;
      return executeDemo(prepared);
    }, (line) => this.note(line));
    this.progress.stop();
    if ('stopped' in result) {
      throw new UserError(`demo interrupted during the ${result.stage} stage; what finished is in ${result.out}`, { code: 'E_INTERRUPTED', exitCode: 130, fix: 'run `spikeclip demo` again (a new run folder)' });
    }
    if (!this.jsonEnabled()) this.log(formatDemoSummary(result));
    return result;
  }
}

function toUserError(e: unknown): unknown {
  if (e instanceof DemoError) return new UserError(e.message, { code: e.code, exitCode: EXIT.usage, fix: e.fix });
  return e;
}
