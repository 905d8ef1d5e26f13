import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../../cli/base-command';
import { makeProvenance } from '../../cli/provenance';
import { describePart, PART_NAMES } from '../../convert/architecture';
import { executeImport, prepareImport, type ImportResult } from '../../convert/import';
import { PRESET_NAMES } from '../../models/config';

export default class ConvertImport extends SpikeclipCommand<typeof ConvertImport> {
  static override summary = 'Import reference SpikeCLIP PyTorch checkpoints (image and/or text encoder).';
  static override description = [
    'Reads Lvchangze/SpikeCLIP Vision_Encoder / Language_Encoder weights: timm-style training checkpoints ({state_dict, epoch, ...}) or bare state dicts, with or without a DataParallel "module." prefix, as torch.save zip files (.pth, .pth.tar, .bin; read safely: nothing in the file can run code) or .safetensors. Which encoder a file holds is read from its tensor names.',
    'The architecture is inferred from the tensor shapes (--arch checks it against a preset or an architecture JSON file); the head count is not in the weights (--heads, default 8). A part that is not imported is initialised fresh from --seed and config.json records which parts were imported. Nothing is written unless every check passes. See docs/convert-import-export.md.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> convert import --from output/CIFAR10/model_best.pth.tar --text output/last_text/model_best.pth.tar --out ckpt/student',
    '<%= config.bin %> convert import --from image_encoder.safetensors --out ckpt/image-only --arch spikeclip-b --json',
    '<%= config.bin %> convert import --from text_encoder.pth --out ckpt/text-only --tokenizer ~/models/clip-vit-base-patch16',
  ];

  static override flags = {
    from: Flags.string({ description: 'Reference checkpoint of the image encoder (or of the text encoder alone): .pth, .pth.tar, .bin or .safetensors.', required: true }),
    text: Flags.string({ description: 'Reference checkpoint of the text encoder.' }),
    out: Flags.string({ description: 'Checkpoint directory to write.', required: true }),
    arch: Flags.string({ description: `Architecture: auto (from the tensor shapes), a preset (${PRESET_NAMES.join(', ')}) or an architecture JSON file (a checkpoint's config.json works); the files must match it.`, default: 'auto' }),
    heads: Flags.integer({ description: 'Attention heads of the image encoder (not stored in the weights; default 8, or what --arch says).', min: 1 }),
    'image-size': Flags.integer({ description: 'Input size of the image encoder (not stored in the weights; default 32, or what --arch says).', min: 4 }),
    tokenizer: Flags.string({ description: 'Folder with CLIP\'s vocab.json and merges.txt (a Hugging Face CLIP folder or a teacher checkpoint) to store in the checkpoint, so `embed` can tokenize texts.' }),
    force: Flags.boolean({ description: 'Replace --out if it is already a spikeclip checkpoint.', default: false }),
  };

  async run(): Promise<ImportResult> {
    const f = this.flags;
    this.progress.update(`reading ${f.from}${f.text ? ` and ${f.text}` : ''}`);
    // Every check runs before the backend starts and before anything is written.
    const plan = await prepareImport({
      from: f.from,
      text: f.text,
      out: f.out,
      arch: f.arch,
      heads: f.heads,
      imageSize: f['image-size'],
      tokenizer: f.tokenizer,
      seed: f.seed,
      force: f.force,
      warn: (m) => process.emitWarning(m),
    });
    await this.useBackend();
    const backend = this.backendInfo ? { name: this.backendInfo.name, threads: this.backendInfo.threads } : undefined;
    plan.opts.provenance = { ...makeProvenance({ seed: f.seed, backend }) };
    this.progress.update(`writing ${f.out}`);
    const result = await executeImport(plan);
    this.progress.stop();
    if (!this.jsonEnabled()) {
      for (const n of result.notes) if (!n.startsWith('only the ')) this.note(`note: ${n}`);
      this.log(`wrote student checkpoint ${result.out}`);
      for (const part of ['image', 'text'] as const) {
        const src = result.sources.find((s) => s.part === part);
        const how = src ? `imported from ${src.file}` : `fresh (seed ${this.flags.seed})`;
        this.log(`  ${part.padEnd(6)} ${how}`);
        this.log(`         ${PART_NAMES[part]}: ${describePart(part, result.architecture[part])}${part === 'image' ? `, ${result.architecture.image.heads} heads, ${result.architecture.image.imageSize}x${result.architecture.image.imageSize}` : ''}`);
      }
      this.log(`  parameters ${result.parameters.total.toLocaleString('en-US')} (image ${result.parameters.image.toLocaleString('en-US')}, text ${result.parameters.text.toLocaleString('en-US')})${result.preset ? `; preset ${result.preset}` : ''}`);
    }
    return result;
  }
}
