import { Flags } from '@oclif/core';
import { SpikeclipCommand } from '../cli/base-command';
import { UserError } from '../cli/errors';
import { downloadFlag, resolveCheckpointArg } from '../cli/model-source';
import { STUDENT_RESIZES, type StudentResize } from '../data/transforms';
import { EmbedResult, embed, formatEmbedResult } from '../embed/embed';

export default class Embed extends SpikeclipCommand<typeof Embed> {
  static override summary = 'Embed images and texts with a teacher or student checkpoint and show their cosine similarities.';
  static override description = [
    'Teacher checkpoints (from `convert teacher`, or a Hugging Face CLIP model id) preprocess images as CLIP does (224 bicubic, centre crop) and tokenize texts to 77 tokens; student checkpoints use the 32x32 student view and 20-token texts.',
    'Embeddings are L2-normalised. With --json: image_embeds, text_embeds, token_ids, similarity, the model kind and the backend. See docs/embed.md.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> embed --checkpoint ckpt/clip-b16 --image cat.jpg --text "a photo of a cat" --text "a photo of a dog"',
    '<%= config.bin %> embed --checkpoint ckpt/student --image a.png --image b.png --json',
    '<%= config.bin %> embed --checkpoint openai/clip-vit-base-patch16 --download --text "a photo of a cat" --image cat.jpg',
  ];

  static override flags = {
    checkpoint: Flags.string({
      description: 'Teacher or student checkpoint, or a Hugging Face CLIP model id such as openai/clip-vit-base-patch16[@revision] from the local Hugging Face cache.',
      required: true,
      aliases: ['model'],
      deprecateAliases: true,
    }),
    ...downloadFlag,
    image: Flags.string({ description: 'Image file (jpg, png, webp); repeatable.', multiple: true }),
    text: Flags.string({ description: 'Text; repeatable.', multiple: true }),
    'student-resize': Flags.string({ description: 'How a student checkpoint sees images: the reference resize (224 then 32), antialias, or direct.', options: [...STUDENT_RESIZES], default: 'reference' }),
    'batch-size': Flags.integer({ description: 'Images per forward pass.', default: 8, min: 1 }),
  };

  async run(): Promise<EmbedResult> {
    const images = this.flags.image ?? [];
    const texts = this.flags.text ?? [];
    if (images.length === 0 && texts.length === 0) {
      throw new UserError('nothing to embed', { fix: 'give at least one --image FILE or --text "..."' });
    }
    const model = await resolveCheckpointArg(this.flags.checkpoint, { download: this.flags.download, progress: this.progress, note: (l) => this.note(l), what: 'a teacher or student checkpoint folder' });
    await this.useBackend();
    const result = await embed({
      model: model.dir,
      images,
      texts,
      studentResize: this.flags['student-resize'] as StudentResize,
      batchSize: this.flags['batch-size'],
      onProgress: (t) => this.progress.update(t),
    });
    this.progress.stop();
    if (!this.jsonEnabled()) this.log(formatEmbedResult(result));
    return result;
  }
}
