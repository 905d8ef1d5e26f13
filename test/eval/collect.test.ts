/**
 * `spikeclip eval collect`: result files (ours and CLIP_benchmark's shape) into one CSV or
 * Markdown table, in-process and through the real CLI over dist/ (`npm test` builds first).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { collectResults, CollectError, renderCsv, renderMarkdown, resultFiles } from '../../src/eval/collect';
import { computeMetrics } from '../../src/eval/metrics';
import { buildResult } from '../../src/eval/results';
import { tmpDir } from '../helpers/eval-fixtures';

const ROOT = path.resolve(__dirname, '..', '..');

/** A folder with one of our result files and one as CLIP_benchmark writes them. */
function fixture(): { dir: string; ours: string; theirs: string } {
  const dir = tmpDir('collect-');
  const metrics = computeMetrics({ labels: Int32Array.from([0, 1]), topk: Int32Array.from([0, 1]), k: 1 }, 2, 2, ['cat', 'dog, "big"']);
  const ours = buildResult({
    dataset: 'cifar10',
    checkpoint: { path: '/ckpt/student', hash: 'ab'.repeat(32), kind: 'student' },
    timeSteps: 4,
    imageSize: 32,
    backend: { name: 'wasm', threads: 2, simd: true },
    seed: 0,
    split: 'test',
    splitSize: 2,
    skippedImages: 0,
    zeroEmbeddings: 0,
    metrics,
    candidateNames: ['cat', 'dog, "big"'],
    templates: { source: 'default:cifar10', kind: 'list', count: 1, hash: 't'.repeat(64) },
    classnames: { source: 'dataset', mode: 'dataset', hash: 'n'.repeat(64), replaced: [], distractors: [] },
    renormalize: false,
    firingRates: [{ layer: 'image.a', rate: 0.125, input_elements: 8, non_zero: 1 }],
    classifier: { cached: false },
    seconds: 1,
  });
  const oursFile = path.join(dir, 'a_cifar10.json');
  fs.writeFileSync(oursFile, JSON.stringify(ours));
  const theirsFile = path.join(dir, 'b_openclip.json');
  fs.writeFileSync(
    theirsFile,
    JSON.stringify({ dataset: 'cifar10', model: 'ViT-B-16', pretrained: 'openai', task: 'zeroshot_classification', metrics: { acc1: 0.9077, acc5: 0.9968, mean_per_class_recall: 0.9078 }, language: 'en' }),
  );
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a result');
  return { dir, ours: oursFile, theirs: theirsFile };
}

describe('collectResults', () => {
  it('one row per file, CLIP_benchmark columns first, our summaries after', () => {
    const { dir, ours, theirs } = fixture();
    const t = collectResults([dir]);
    expect(t.rows.map((r) => r.file)).toEqual([ours, theirs]);
    expect(t.columns.slice(0, 9)).toEqual(['model_fullname', 'model', 'pretrained', 'dataset', 'task', 'language', 'acc1', 'acc5', 'mean_per_class_recall']);
    expect(t.columns[t.columns.length - 1]).toBe('file');
    expect(t.rows[0]).toMatchObject({ model_fullname: 'student /ckpt/student', acc1: 1, time_steps: 4, mean_firing_rate: 0.125, checkpoint_hash: 'ab'.repeat(32), backend: 'wasm/2', split: 'test' });
    expect(t.rows[1]).toMatchObject({ model_fullname: 'ViT-B-16 openai', acc1: 0.9077 });
    expect(t.rows[1].time_steps).toBeUndefined();
  });

  it('CSV quotes what needs quoting; Markdown shows metrics in percent', () => {
    const { dir } = fixture();
    const t = collectResults([dir]);
    t.rows[1].model = 'a "quoted", model';
    const csv = renderCsv(t);
    const lines = csv.split('\r\n');
    expect(lines[0].split(',').slice(0, 3)).toEqual(['model_fullname', 'model', 'pretrained']);
    expect(lines[2]).toContain('"a ""quoted"", model"');
    expect(lines).toHaveLength(4); // header, 2 rows, final empty
    const md = renderMarkdown(t).split('\n');
    expect(md[0]).toBe('| model | dataset | split | images | classes | acc1 % | acc5 % | mean per-class recall % | T | firing rate |');
    expect(md[2]).toBe('| student | cifar10 | test | 2 | 2 | 100.00 |  | 100.00 | 4 | 0.1250 |');
    expect(md[3]).toBe('| a "quoted", model | cifar10 |  |  |  | 90.77 | 99.68 | 90.78 |  |  |');
  });

  it('a missing file, a folder without results and a non-result JSON are errors that say so', () => {
    const dir = tmpDir('collect-bad-');
    expect(() => resultFiles([path.join(dir, 'nope.json')])).toThrow(/no such file or folder/);
    expect(() => resultFiles([dir])).toThrow(/no \.json result files/);
    const bad = path.join(dir, 'x.json');
    fs.writeFileSync(bad, '{"hello": 1}');
    expect(() => collectResults([bad])).toThrow(CollectError);
    expect(() => collectResults([bad])).toThrow(/not a result file/);
    fs.writeFileSync(bad, '{');
    expect(() => collectResults([bad])).toThrow(/not readable JSON/);
  });
});

describe('spikeclip eval collect', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 60_000 });

  it('writes a CSV chosen by the extension, prints Markdown without --output, and --json', () => {
    const { dir } = fixture();
    const out = path.join(dir, 'out', 'bench.csv');
    const r = cli(['eval', 'collect', dir, '--output', out]);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(out, 'utf8').split('\r\n')[0]).toMatch(/^model_fullname,model,pretrained,dataset,/);
    const md = cli(['eval', 'collect', path.join(dir, 'a_cifar10.json'), path.join(dir, 'b_openclip.json')]);
    expect(md.status).toBe(0);
    expect(md.stdout.split('\n')).toHaveLength(5);
    const json = JSON.parse(cli(['eval', 'collect', dir, '--json']).stdout) as { status: number; result: { rows: unknown[]; format: string } };
    expect(json).toMatchObject({ status: 0, result: { format: 'markdown' } });
    expect(json.result.rows).toHaveLength(2);
    const bad = cli(['eval', 'collect', dir, '--output', path.join(dir, 'x.txt')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('cannot tell the format');
  });
});
