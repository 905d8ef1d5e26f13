/**
 * The demo summary's arithmetic on hand-made eval results: held-out accuracy among the held-out
 * names (eval --classes) and among all names, seen accuracy, the harmonic mean, chance.
 */
import type { EvalResultJson } from '../../src/eval/results';
import { formatDemoSummary, heldOutAccuracy, modelAccuracy, type DemoSummary } from '../../src/demo/summary';

const HELD = ['red circle', 'blue star'];

function result(rows: Array<[string, number, number]>, candidates: string[]): EvalResultJson {
  const images = rows.reduce((a, r) => a + r[1], 0);
  const correct = rows.reduce((a, r) => a + r[2], 0);
  return {
    checkpoint: { path: '/ckpt', hash: 'h', kind: 'student' },
    metrics: { acc1: correct / images, acc5: 1, mean_per_class_recall: 0 },
    num_candidates: candidates.length,
    num_images: images,
    classnames: { source: 'dataset', mode: 'dataset', hash: 'x', names: candidates, replaced: [], distractors: [] },
    per_class_accuracy: rows.map(([name, n, c], index) => ({ index, name, images: n, correct: c, accuracy: n > 0 ? c / n : null })),
    mean_firing_rate: 0.05,
  } as unknown as EvalResultJson;
}

describe('demo summary', () => {
  // all four classes: seen 'red square' 8/10, 'blue circle' 4/10; held-out 1/10 and 0/10
  const all = result([['red square', 10, 8], ['blue circle', 10, 4], ['red circle', 10, 1], ['blue star', 10, 0]], ['red square', 'blue circle', 'red circle', 'blue star']);
  // the held-out images among the two held-out names: 9/10 and 6/10
  const held = result([['red circle', 10, 9], ['blue star', 10, 6]], HELD);

  it('tells the two protocols apart and computes chance from the candidates', () => {
    expect(heldOutAccuracy(all, HELD)).toMatchObject({ among: 'all', candidates: 4, images: 20, correct: 1, accuracy: 0.05, chance: 0.25 });
    const h = heldOutAccuracy(held, HELD);
    expect(h).toMatchObject({ among: 'held-out', candidates: 2, images: 20, correct: 15, accuracy: 0.75, chance: 0.5 });
    expect(h.gapToChance).toBeCloseTo(0.25, 12);
  });

  it('seen accuracy, held-out among all and their harmonic mean', () => {
    const m = modelAccuracy('student-finetuned', all, held, HELD, { result: 'a.json', heldOutResult: 'b.json' });
    expect(m.seenTop1).toBeCloseTo(0.6, 12);
    expect(m.heldOut.accuracy).toBeCloseTo(0.75, 12);
    expect(m.heldOutAmongAll.accuracy).toBeCloseTo(0.05, 12);
    expect(m.harmonicMean).toBeCloseTo((2 * 0.6 * 0.05) / 0.65, 12);
    expect(m).toMatchObject({ top1: 13 / 40, result: 'a.json', heldOutResult: 'b.json', meanFiringRate: 0.05 });
    const zero = modelAccuracy('teacher', result([['red square', 10, 0], ['red circle', 10, 0]], ['red square', 'red circle']), held, HELD, { result: 'a', heldOutResult: 'b' });
    expect(zero.harmonicMean).toBe(0);
  });

  it('the human summary prints both protocols with their chance', () => {
    const m = modelAccuracy('student-finetuned', all, held, HELD, { result: 'a.json', heldOutResult: 'b.json' }, 2);
    expect(m.heldOutAmongAll.colourOnly).toBe(0.5);
    const s = {
      out: '/runs/d', dataset: 'shapes-simple', quick: false, seed: 0, teacher: { source: 'trained', checkpoint: '/t' },
      stages: [], accuracy: [m], zeroShot: m.heldOut, zeroShotAmongAll: m.heldOutAmongAll,
      energy: { report: 'r', chart: 'c', text: 't', imageMj: 0.004, annImageMj: 0.08, ratio: 20, meanFiringRate: 0.05, images: 4 },
      files: { summary: '/runs/d/summary.json' }, totalSeconds: 10, nextSteps: [],
    } as DemoSummary;
    const text = formatDemoSummary(s);
    expect(text).toContain('among their 2 names: 75.0% vs chance 50.0% (+25.0 points), 15/20 images');
    expect(text).toContain('among all 4 names:  5.0% vs chance 25.0% (-20.0 points) and 50.0% for the right colour with a guessed shape, 1/20 images');
  });
});
