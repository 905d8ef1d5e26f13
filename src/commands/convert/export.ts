import { Flags } from '@oclif/core';
import { SpikeclipBaseCommand } from '../../cli/base-command';
import { UserError } from '../../cli/errors';
import { makeProvenance } from '../../cli/provenance';
import { exportCheckpoint, EXPORT_FORMATS, type ExportFormat, type ExportResult } from '../../convert/export';
import type { EncoderPart } from '../../convert/architecture';
import { TFJS_SHARD_BYTES } from '../../convert/tfjs-format';

const ROLE_NAMES: Record<string, string> = { weights: 'weights', 'model.json': 'TF.js manifest', 'weights-shard': 'weight shard', tokenizer: 'tokenizer' };

export default class ConvertExport extends SpikeclipBaseCommand<typeof ConvertExport> {
  static override summary = 'Export a checkpoint as reference-named PyTorch safetensors or as a TF.js model folder.';
  static override description =
    'safetensors: image_encoder.safetensors and text_encoder.safetensors with the reference SpikeCLIP (Lvchangze/SpikeCLIP) names and PyTorch layouts, so Vision_Encoder / Language_Encoder .load_state_dict(safetensors.torch.load_file(...)) takes them as they are. tfjs: model.json (TF.js weights manifest, modelTopology = the architecture) and 4 MiB weight shards, loadable with tf.io.loadWeights in a browser. Both write export.json describing the files. See docs/convert-import-export.md.';

  static override examples = [
    '<%= config.bin %> convert export --checkpoint ckpt/student --format safetensors --out export/pt',
    '<%= config.bin %> convert export --checkpoint ckpt/student --format tfjs --out export/web',
    '<%= config.bin %> convert export --checkpoint ckpt/student --format safetensors --part image --out export/image --json',
  ];

  static override flags = {
    checkpoint: Flags.string({ description: 'Student checkpoint to export.', required: true }),
    format: Flags.string({ description: 'Output format.', options: [...EXPORT_FORMATS], required: true }),
    out: Flags.string({ description: 'Output directory.', required: true }),
    part: Flags.string({ description: 'Which encoders to export.', options: ['all', 'image', 'text'], default: 'all' }),
    'position-ids': Flags.boolean({
      description: 'safetensors: include the text embeddings\' position_ids buffer, which transformers 4.30 (the reference\'s version) keeps in the state dict; --no-position-ids for transformers >= 4.31.',
      default: true,
      allowNo: true,
    }),
    'shard-bytes': Flags.integer({ description: 'tfjs: largest weight shard in bytes (tfjs-converter\'s default, 4 MiB).', default: TFJS_SHARD_BYTES, min: 4 }),
    force: Flags.boolean({ description: 'Replace --out if it is a previous export.', default: false }),
  };

  async run(): Promise<ExportResult> {
    const f = this.flags;
    if (f['shard-bytes'] % 4 !== 0) {
      throw new UserError(`--shard-bytes must be a multiple of 4, got ${f['shard-bytes']}`, { fix: 'pass a multiple of 4 (default 4194304)' });
    }
    this.progress.update(`exporting ${f.checkpoint}`);
    const parts: EncoderPart[] = f.part === 'all' ? ['image', 'text'] : [f.part as EncoderPart];
    const result = await exportCheckpoint({
      checkpoint: f.checkpoint,
      format: f.format as ExportFormat,
      out: f.out,
      parts,
      force: f.force,
      positionIds: f['position-ids'],
      shardBytes: f['shard-bytes'],
      provenance: { ...makeProvenance({}) },
    });
    this.progress.stop();
    if (!this.jsonEnabled()) {
      for (const n of result.notes) this.note(`note: ${n}`);
      this.log(`wrote ${result.format} export ${result.out}`);
      const shards = result.files.filter((file) => file.role === 'weights-shard');
      for (const file of result.files) {
        if (file.role === 'weights-shard' && shards.length > 3) continue;
        const what = file.part ? `${file.part} encoder` : ROLE_NAMES[file.role];
        const tensors = file.tensors !== undefined ? `${file.tensors} tensors, ` : '';
        this.log(`  ${file.file.padEnd(28)} ${what.padEnd(14)} ${tensors}${file.bytes.toLocaleString('en-US')} bytes`);
      }
      if (shards.length > 3) {
        const bytes = shards.reduce((s, file) => s + file.bytes, 0);
        this.log(`  ${`group1-shard{1..${shards.length}}of${shards.length}.bin`.padEnd(28)} ${'weight shards'.padEnd(14)} ${bytes.toLocaleString('en-US')} bytes`);
      }
      this.log('  export.json                  what the files are and how to load them');
    }
    return result;
  }
}
