import { Flags } from '@oclif/core';
import * as fs from 'fs';
import * as path from 'path';
import { SpikeclipBaseCommand } from '../../cli/base-command';
import { EXIT, UserError } from '../../cli/errors';
import { makeProvenance } from '../../cli/provenance';
import { ConvertTeacherResult, convertHfClipFolder } from '../../teacher/checkpoint';
import { downloadFlag, resolveHfFolderArg } from '../../cli/model-source';

export default class ConvertTeacher extends SpikeclipBaseCommand<typeof ConvertTeacher> {
  static override summary = 'Convert a Hugging Face CLIP folder into a spikeclip teacher checkpoint.';
  static override description =
    'Reads config.json, model.safetensors (preferred) or pytorch_model.bin (read safely: nothing in the file can run code), vocab.json, merges.txt and preprocessor_config.json; checks every tensor against config.json; writes the checkpoint atomically (nothing is written when anything is wrong). Tensor names stay the Hugging Face ones; see docs/convert.md.';

  static override examples = [
    '<%= config.bin %> convert teacher --from ~/models/clip-vit-base-patch16 --out ckpt/clip-b16',
    '<%= config.bin %> convert teacher --from openai/clip-vit-base-patch16 --out ckpt/clip-b16',
    '<%= config.bin %> convert teacher --from openai/clip-vit-base-patch16@main --download --out ckpt/clip-b16',
    '<%= config.bin %> convert teacher --from ./clip-vit-base-patch32 --out ckpt/clip-b32 --force --json',
  ];

  static override flags = {
    from: Flags.string({
      description:
        'Hugging Face CLIP folder (config.json, model.safetensors or pytorch_model.bin, vocab.json, merges.txt), or a model id such as openai/clip-vit-base-patch16[@revision] found in the local Hugging Face cache (HF_HUB_CACHE, HF_HOME; offline unless --download).',
      required: true,
    }),
    out: Flags.string({ description: 'Checkpoint directory to write.', required: true }),
    force: Flags.boolean({ description: 'Replace --out if it is already a spikeclip checkpoint.', default: false }),
    ...downloadFlag,
  };

  async run(): Promise<ConvertTeacherResult> {
    const { out, force } = this.flags;
    const source = await resolveHfFolderArg(this.flags.from, { download: this.flags.download, progress: this.progress, note: (l) => this.note(l), what: 'the folder of a Hugging Face CLIP model' });
    const from = source.dir;
    checkOut(from, out, force);
    this.progress.update(`converting ${this.flags.from}`);
    const teacher = source.source ? `${source.source.repo}@${source.source.commit}` : path.resolve(from);
    const result = await convertHfClipFolder(from, out, { provenance: { ...makeProvenance({ teacherSource: source.source }), teacher } });
    this.progress.stop();
    if (!this.jsonEnabled()) {
      for (const n of result.notes) this.note(`note: ${n}`);
      const v = result.vision;
      const t = result.text;
      this.log(`wrote teacher checkpoint ${result.out}`);
      this.log(`  from      ${result.weightsFile} (${result.weightsFormat})`);
      this.log(`  image     ViT ${v.layers} layers, width ${v.hiddenSize}, ${v.heads} heads, patch ${v.patchSize}, ${v.imageSize}x${v.imageSize}, ${v.hiddenAct}`);
      this.log(`  text      ${t.layers} layers, width ${t.hiddenSize}, ${t.heads} heads, vocabulary ${t.vocabSize}, context ${t.contextLength}, ${t.hiddenAct}`);
      this.log(`  embedding ${result.projectionDim}-d; ${result.tensors} tensors, ${result.parameters.toLocaleString('en-US')} parameters`);
    }
    return result;
  }
}

/** --out must not be the source, and may only replace an existing checkpoint with --force. */
function checkOut(from: string, out: string, force: boolean): void {
  const fix = 'choose a new --out directory';
  if (path.resolve(from) === path.resolve(out)) throw new UserError(`--out ${out} is the same folder as --from`, { fix });
  if (!fs.existsSync(out)) return;
  const st = fs.statSync(out);
  if (!st.isDirectory()) throw new UserError(`--out ${out} exists and is not a directory`, { fix, exitCode: EXIT.badInput, code: 'E_OUT_EXISTS' });
  if (fs.readdirSync(out).length === 0) return;
  const marker = path.join(out, 'config.json');
  let isCkpt = false;
  try {
    isCkpt = JSON.parse(fs.readFileSync(marker, 'utf8')).format === 'spikeclip-checkpoint';
  } catch {
    isCkpt = false;
  }
  if (!isCkpt) throw new UserError(`refusing to replace ${out}: it exists and is not a spikeclip checkpoint`, { fix, exitCode: EXIT.badInput, code: 'E_OUT_EXISTS' });
  if (!force) throw new UserError(`${out} is already a checkpoint`, { fix: 'pass --force to replace it, or choose a new --out', exitCode: EXIT.badInput, code: 'E_OUT_EXISTS' });
}
