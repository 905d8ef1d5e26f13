/**
 * The contrastive task's text-tower learning-rate scale: 0 leaves the text tower out of the
 * gradients (frozen), other values become per-parameter scales for Adam; `pretrain` accepts the
 * flag only with --part clip.
 */
import * as tf from '../../../src/tf';
import { ContrastiveTask, type ContrastiveModel } from '../../../src/train/tasks/contrastive';
import { preparePretrain } from '../../../src/train/pretrain';
import type { DataLoader } from '../../../src/data/loader';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function fakeModel(): ContrastiveModel & { dispose(): void } {
  const img = tf.variable(tf.ones([2, 2]), true, `img_${Math.random()}`);
  const txt = tf.variable(tf.ones([2, 2]), true, `txt_${Math.random()}`);
  const logScale = tf.variable(tf.scalar(Math.log(1 / 0.07)), true, `ls_${Math.random()}`);
  return {
    params: [['image.w', img], ['text.w', txt], ['logit_scale', logScale]],
    textParams: new Set(['text.w']),
    logScale,
    contextLength: 4,
    tokenize: () => new Int32Array(4),
    encodeImages: (x) => tf.matMul(tf.reshape(x, [x.shape[0], 2]), img) as tf.Tensor2D,
    encodeTokens: (ids) => tf.matMul(tf.cast(ids, 'float32'), txt) as tf.Tensor2D,
    dispose: () => tf.dispose([img, txt, logScale]),
  };
}

const loader = { loader: { batchesPerEpoch: 1 } as unknown as DataLoader };

describe('ContrastiveTask textLrScale', () => {
  it('default 1: every parameter trains at the same rate', () => {
    const m = fakeModel();
    const t = new ContrastiveTask(m, loader, undefined, { seed: 0, templates: ['{}'] });
    expect(t.params.map(([n]) => n)).toEqual(['image.w', 'text.w', 'logit_scale']);
    expect([...t.lrScales()]).toEqual([]);
    m.dispose();
  });

  it('0 freezes the text tower: it is not among the trained parameters', () => {
    const m = fakeModel();
    const t = new ContrastiveTask(m, loader, undefined, { seed: 0, templates: ['{}'], textLrScale: 0 });
    expect(t.params.map(([n]) => n)).toEqual(['image.w', 'logit_scale']);
    expect([...t.lrScales()]).toEqual([]);
    m.dispose();
  });

  it('0.1 scales only the text tower', () => {
    const m = fakeModel();
    const t = new ContrastiveTask(m, loader, undefined, { seed: 0, templates: ['{}'], textLrScale: 0.1 });
    expect(t.params).toHaveLength(3);
    expect([...t.lrScales()]).toEqual([['text.w', 0.1]]);
    expect(() => new ContrastiveTask(m, loader, undefined, { seed: 0, templates: ['{}'], textLrScale: -1 })).toThrow(/non-negative/);
    m.dispose();
  });

  it('pretrain takes --text-lr-scale only with --part clip, and only >= 0', async () => {
    await expect(preparePretrain({ part: 'image', datasets: ['shapes'], out: '/nonexistent/x', textLrScale: 0.5 })).rejects.toThrow(/--text-lr-scale goes with --part clip/);
    await expect(preparePretrain({ part: 'clip', target: 'teacher', datasets: ['shapes'], out: '/nonexistent/x', textLrScale: -0.5 })).rejects.toThrow(/--text-lr-scale must be a number >= 0/);
  });
});
