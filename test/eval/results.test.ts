/**
 * Result documents (CLIP_benchmark's shape plus ours), output-path templates, atomic writing,
 * the human table, and the confusion-matrix picture (SVG by hand, PNG via sharp).
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { computeMetrics } from '../../src/eval/metrics';
import { confusionMatrixSvg, plotFormat, PlotError, writeConfusionPlot } from '../../src/eval/plot';
import { buildResult, BuildResultInput, datasetSlug, expandOutputTemplate, formatResults, OUTPUT_PLACEHOLDERS, unknownPlaceholders, writeResultFile } from '../../src/eval/results';
import { tmpDir } from '../helpers/eval-fixtures';

function input(over: Partial<BuildResultInput> = {}): BuildResultInput {
  const names = ['cat', 'dog', 'bird', 'lion', 'tiger', 'x<&>'];
  const metrics = computeMetrics(
    { labels: Int32Array.from([0, 1, 1, 2]), topk: Int32Array.from([0, 1, 2, 3, 4, 3, 1, 0, 2, 4, 1, 0, 2, 3, 4, 5, 4, 1, 0, 3]), k: 5 },
    3,
    6,
    names,
  );
  return {
    dataset: 'cifar10',
    checkpoint: { path: '/ckpt/my-student', hash: 'ab'.repeat(32), kind: 'student' },
    timeSteps: 4,
    imageSize: 32,
    studentResize: 'reference',
    backend: { name: 'wasm', threads: 1, simd: true },
    seed: 7,
    split: 'test',
    splitSize: 10000,
    limit: 4,
    skippedImages: 0,
    zeroEmbeddings: 1,
    metrics,
    candidateNames: names,
    templates: { source: 'default:cifar10', kind: 'list', count: 18, hash: 't'.repeat(64) },
    classnames: { source: '/x/names.json', mode: 'expand', hash: 'n'.repeat(64), replaced: [], distractors: ['lion', 'tiger', 'x<&>'] },
    renormalize: false,
    firingRates: [
      { layer: 'image.a', rate: 0.2, input_elements: 10, non_zero: 2 },
      { layer: 'image.b', rate: 0.4, input_elements: 10, non_zero: 4 },
    ],
    classifier: { cached: true, file: '/c/classifiers/x.safetensors' },
    seconds: 2,
    ...over,
  };
}

describe('result documents', () => {
  it("CLIP_benchmark's fields first, then ours", () => {
    const r = JSON.parse(JSON.stringify(buildResult(input())));
    expect(Object.keys(r).slice(0, 6)).toEqual(['dataset', 'model', 'pretrained', 'task', 'metrics', 'language']);
    expect(r).toMatchObject({ dataset: 'cifar10', model: 'my-student', pretrained: '/ckpt/my-student', task: 'zeroshot_classification', language: 'en' });
    expect(Object.keys(r.metrics)).toEqual(['acc1', 'acc5', 'mean_per_class_recall']);
    expect(r.metrics.acc1).toBeCloseTo(2 / 4, 12);
    expect(r.metrics.acc5).toBeCloseTo(3 / 4, 12);
    expect(r.metrics.mean_per_class_recall).toBeCloseTo((1 + 1 / 2 + 0) / 3, 12);
    expect(r).toMatchObject({
      checkpoint: { path: '/ckpt/my-student', hash: 'ab'.repeat(32), kind: 'student' },
      model_kind: 'student',
      time_steps: 4,
      backend: { name: 'wasm', threads: 1, simd: true },
      seed: 7,
      split: 'test',
      num_images: 4,
      split_size: 10000,
      limit: 4,
      num_classes: 3,
      num_candidates: 6,
      zero_embeddings: 1,
      templates: { hash: 't'.repeat(64), count: 18 },
      classnames: { hash: 'n'.repeat(64), mode: 'expand', distractors: ['lion', 'tiger', 'x<&>'], names: ['cat', 'dog', 'bird', 'lion', 'tiger', 'x<&>'] },
      mean_firing_rate: expect.closeTo(0.3, 12),
      images_per_second: 2,
      classifier: { cached: true, cache_file: '/c/classifiers/x.safetensors' },
    });
    expect(r.per_class_accuracy[1]).toEqual({ index: 1, name: 'dog', images: 2, correct: 1, accuracy: 0.5 });
    expect(r.confusion_matrix.rows).toEqual(['cat', 'dog', 'bird']);
    expect(r.confusion_matrix.columns).toHaveLength(6);
    expect(r.confusion_matrix.counts).toEqual([
      [1, 0, 0, 0, 0, 0],
      [0, 1, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 1],
    ]);
  });

  it('no acc5 below 5 candidates; a teacher has no T and no firing rates', () => {
    const metrics = computeMetrics({ labels: Int32Array.from([0, 1]), topk: Int32Array.from([0, 1, 1, 0]), k: 2 }, 2, 2, ['a', 'b']);
    const r = buildResult(input({ metrics, candidateNames: ['a', 'b'], checkpoint: { path: '/t/clip', hash: 'c'.repeat(64), kind: 'teacher' }, timeSteps: undefined, firingRates: undefined, studentResize: undefined, limit: undefined }));
    expect(Object.keys(r.metrics)).toEqual(['acc1', 'mean_per_class_recall']);
    expect(r).toMatchObject({ model_kind: 'teacher', time_steps: null, firing_rates: null, mean_firing_rate: null, limit: null });
    expect('student_resize' in r).toBe(false);
  });

  it('output templates: {dataset} (folder datasets by their folder name), {checkpoint} (the directory name), {split}', () => {
    expect(datasetSlug('cifar10')).toBe('cifar10');
    expect(datasetSlug('folder:/data/my pets/')).toBe('folder-my_pets');
    expect(expandOutputTemplate('out/{dataset}_{checkpoint}_{split}.json', { dataset: 'cifar100', checkpoint: 'runs/ft/checkpoints/best/', split: 'val' })).toBe('out/cifar100_best_val.json');
    expect(expandOutputTemplate('r.json', { dataset: 'pets', checkpoint: 'x', split: 'test' })).toBe('r.json');
  });

  it("output templates: CLIP_benchmark's placeholders, and unknown ones are reported", () => {
    const vars = { dataset: 'cifar10', checkpoint: '/runs/ft c10/best', split: 'test' };
    // CLIP_benchmark's own example: --output='{dataset}_{pretrained}_{model}_{language}_{task}.json'
    expect(expandOutputTemplate('{dataset}_{pretrained}_{model}_{language}_{task}.json', vars)).toBe('cifar10_best_best_en_zeroshot_classification.json');
    expect(expandOutputTemplate('r/{pretrained_full_path}.json', vars)).toBe('r/_runs_ft_c10_best.json');
    expect(unknownPlaceholders('{dataset}_{datset}_{model}.json')).toEqual(['datset']);
    expect(unknownPlaceholders(`${OUTPUT_PLACEHOLDERS.map((n) => `{${n}}`).join('_')}.json`)).toEqual([]);
  });

  it('written atomically (folders created, nothing left behind), read back equal', async () => {
    const dir = tmpDir('results-');
    const file = path.join(dir, 'a', 'b', 'r.json');
    const r = buildResult(input());
    await writeResultFile(file, r);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(fs.readdirSync(path.dirname(file))).toEqual(['r.json']);
  });

  it('the human table: one row per dataset, distractors shown as K+extra, notes', () => {
    const r = buildResult(input());
    const text = formatResults({ results: [r], files: [{ dataset: 'cifar10', output: 'out.json' }], skipped: [{ dataset: 'pets', output: 'p.json' }] });
    expect(text).toMatch(/^checkpoint: student \/ckpt\/my-student \(abababababab, T=4\)/);
    expect(text).toMatch(/dataset\s+split\s+images\s+classes\s+acc1 %\s+acc5 %\s+mean recall %/);
    expect(text).toMatch(/cifar10\s+test\s+4\s+3\+3\s+50\.00\s+75\.00\s+50\.00/);
    expect(text).toContain('mean firing rate 0.3000 over 2 spiking layers');
    expect(text).toContain('3 distractors');
    expect(text).toContain('written to out.json');
    expect(text).toContain('skipped pets: p.json exists (--skip-existing)');
  });
});

describe('confusion-matrix picture', () => {
  it('SVG: one cell per (class, candidate), escaped labels, the scores in the title', () => {
    const svg = confusionMatrixSvg(buildResult(input()));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3 * 6);
    expect(svg).toContain('x&lt;&amp;&gt;');
    expect(svg).not.toContain('x<&>');
    expect(svg).toContain('top-1 50.00%');
    expect(svg).toContain('distractors →');
  });

  it('SVG and PNG files (PNG rendered by sharp); other extensions refused', async () => {
    const dir = tmpDir('plot-');
    const r = buildResult(input());
    await writeConfusionPlot(path.join(dir, 'cm.svg'), r);
    await writeConfusionPlot(path.join(dir, 'sub', 'cm.png'), r);
    const svgMeta = await sharp(path.join(dir, 'cm.svg')).metadata();
    expect(svgMeta.format).toBe('svg');
    const png = await sharp(path.join(dir, 'sub', 'cm.png')).metadata();
    expect(png.format).toBe('png');
    expect(png.width).toBeGreaterThan(200);
    expect(plotFormat('X.PNG')).toBe('png');
    expect(() => plotFormat('cm.pdf')).toThrow(PlotError);
    expect(() => plotFormat('cm')).toThrow(/must be a \.svg or \.png file/);
  });

  it('a large matrix (100 classes) stays a reasonable picture without labels overflowing', () => {
    const K = 100;
    const names = Array.from({ length: K }, (_, i) => `class number ${i}`);
    const labels = Int32Array.from({ length: 300 }, (_, i) => i % K);
    const topk = Int32Array.from({ length: 300 * 5 }, (_, i) => (Math.floor(i / 5) * 7 + (i % 5)) % K);
    const metrics = computeMetrics({ labels, topk, k: 5 }, K, K, names);
    const svg = confusionMatrixSvg(buildResult(input({ metrics, candidateNames: names })));
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    expect(w).toBeLessThan(1400);
  });
});
