import { Args, Flags } from '@oclif/core';
import * as fs from 'fs';
import * as path from 'path';
import { SpikeclipBaseCommand } from '../../cli/base-command';
import { UserError } from '../../cli/errors';
import { COLLECT_FORMATS, collectResults, formatOfFile, renderCsv, renderMarkdown, type CollectFormat, type CollectTable } from '../../eval/collect';
import { writeFileAtomic } from '../../io/atomic';

export default class EvalCollect extends SpikeclipBaseCommand<typeof EvalCollect> {
  static override summary = 'Gather many eval result files into one CSV or Markdown table.';
  static override description =
    'One row per result file, as CLIP_benchmark\'s `build` does: the metrics as columns (acc1, acc5, mean_per_class_recall), ' +
    'model_fullname, then every scalar field that makes a number traceable (split, images, T, mean firing rate, checkpoint hash, ' +
    'backend, seed, ...). Takes files written by `spikeclip eval --output`, CLIP_benchmark\'s own result files, and folders of them. ' +
    'The CSV has every column; the Markdown table the ones a reader compares, metrics in percent. See docs/eval.md.';

  static override examples = [
    '<%= config.bin %> eval collect results/ --output benchmark.csv',
    '<%= config.bin %> eval collect results/*.json --format markdown',
    '<%= config.bin %> eval collect results/ ../clip_benchmark/out/*.json --output table.md',
  ];

  static override strict = false;

  static override args = {
    files: Args.string({ description: 'Result files or folders of them (repeatable).', required: true }),
  };

  static override flags = {
    output: Flags.string({ description: 'File to write (.csv or .md; written atomically). Without it the table goes to stdout.' }),
    format: Flags.string({ description: 'csv or markdown (default: from --output\'s extension, else markdown).', options: [...COLLECT_FORMATS] }),
  };

  async run(): Promise<CollectTable & { output?: string; format: CollectFormat }> {
    const files = this.argvRest;
    const fromFile = this.flags.output === undefined ? undefined : formatOfFile(this.flags.output);
    if (this.flags.output !== undefined && fromFile === undefined && this.flags.format === undefined) {
      throw new UserError(`--output ${this.flags.output}: cannot tell the format from the extension`, { fix: 'name the file .csv or .md, or give --format csv|markdown' });
    }
    const format = (this.flags.format as CollectFormat | undefined) ?? fromFile ?? 'markdown';
    const table = collectResults(files);
    const text = format === 'csv' ? renderCsv(table) : renderMarkdown(table);
    if (this.flags.output !== undefined) {
      await fs.promises.mkdir(path.dirname(path.resolve(this.flags.output)), { recursive: true });
      await writeFileAtomic(this.flags.output, text);
      this.note(`${table.rows.length} result(s) -> ${this.flags.output}`);
    } else if (!this.jsonEnabled()) {
      process.stdout.write(text);
    }
    return { ...table, format, ...(this.flags.output !== undefined ? { output: this.flags.output } : {}) };
  }
}
