/**
 * The README's promise, as a new user meets it: the repository cloned into a temporary folder,
 * `npm ci` from the lockfile (which builds dist/ through `prepare`), then
 * `npx spikeclip demo --quick --json` in the clone. Every stage runs (teacher, text and image
 * alignment, dual-loss fine-tuning, the evaluations, the energy report) into one run folder; the
 * summary holds each stage's numbers, the zero-shot accuracy on the held-out combinations above
 * chance, and the energy report; then every command's --json works on that run folder, and the
 * tour of README.md (the same block as docs/getting-started.md's) runs as written on it.
 *
 * Outside a git checkout (a source tarball) there is nothing to clone: the test then runs the
 * same checks on this folder's own build (and says so). npm ci installs from the npm cache that
 * the outer `npm ci` filled (--prefer-offline), about 20 s here.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { DemoSummary } from '../../src/demo/summary';
import { ROOT } from '../helpers/cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-clone-'));
const ENV: NodeJS.ProcessEnv = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') };

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], cwd: string, timeout = 300_000): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: ENV, timeout });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? `${r.error ?? ''}` };
}

function must(r: Run, what: string): Run {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

/** The shell block of the tour: the one that sets R to the demo's run folder. */
function tourBlock(markdown: string): string {
  const m = /```sh\n(R=runs\/demo-[^\n]*\n[\s\S]*?)```/.exec(markdown);
  if (!m) throw new Error('no tour block (```sh starting with R=runs/demo-...) found');
  return m[1];
}

/** The tour's commands, one per entry: continuation lines joined, comments and the R= line dropped. */
function tourCommands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l.startsWith('npx spikeclip '));
}

const HELD_OUT = ['red circle', 'orange square', 'yellow triangle', 'green star', 'blue hexagon', 'purple cross'];

test('fresh clone: npm ci, then spikeclip demo --quick --json; every command --json on its run folder', () => {
  let repo = ROOT;
  if (fs.existsSync(path.join(ROOT, '.git'))) {
    repo = path.join(work, 'clone');
    must(sh('git', ['clone', '--quiet', '--no-hardlinks', ROOT, repo], work), 'git clone');
    // a clone has exactly the committed files: nothing built, nothing installed
    expect(fs.existsSync(path.join(repo, 'dist'))).toBe(false);
    expect(fs.existsSync(path.join(repo, 'node_modules'))).toBe(false);
    must(sh('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], repo), 'npm ci');
    expect(fs.existsSync(path.join(repo, 'dist', 'commands', 'demo.js'))).toBe(true);
  } else {
    console.warn(`${ROOT} is not a git checkout: checking this folder's own build instead of a fresh clone`);
  }
  const spikeclip = (args: string[]): Run => sh('npx', ['--no-install', 'spikeclip', ...args], repo);
  const json = <T>(args: string[]): T => {
    const r = must(spikeclip([...args, '--json']), `spikeclip ${args.join(' ')}`);
    const doc = JSON.parse(r.stdout) as { status: number; result: T };
    expect(doc.status).toBe(0);
    return doc.result;
  };

  const out = path.join(work, 'demo');
  const s = json<DemoSummary>(['demo', '--quick', '--out', out]);
  expect(s.quick).toBe(true);
  expect(s.dataset).toBe('shapes-simple');
  expect(s.stages.map((x) => `${x.stage}:${x.status}`)).toEqual(['teacher:ran', 'align-text:ran', 'align-image:ran', 'finetune:ran', 'eval:ran', 'energy:ran']);
  for (const st of s.stages) expect(st.seconds).toBeGreaterThanOrEqual(0);
  expect(s.accuracy.map((a) => a.model)).toEqual(['teacher', 'student-aligned', 'student-finetuned']);
  for (const a of s.accuracy) {
    expect(a.top1).toBeGreaterThanOrEqual(0);
    expect(a.top1).toBeLessThanOrEqual(1);
    expect(a.heldOut).toMatchObject({ among: 'held-out', candidates: 6, images: 60 });
    expect(a.heldOut.chance).toBeCloseTo(1 / 6, 10);
    expect(a.heldOutAmongAll).toMatchObject({ among: 'all', candidates: 36 });
    expect(a.heldOutAmongAll.chance).toBeCloseTo(1 / 36, 10);
    expect(a.heldOutAmongAll.colourOnly).toBeCloseTo(1 / 6, 10);
  }
  // the headline: zero-shot on combinations never trained on, above chance even in --quick
  expect(s.zeroShot.classes).toEqual(HELD_OUT);
  expect(s.zeroShot.accuracy as number).toBeGreaterThan(s.zeroShot.chance);
  expect(s.zeroShot.gapToChance).toBeCloseTo((s.zeroShot.accuracy as number) - 1 / 6, 10);
  expect(s.zeroShot.correct).toBe(Math.round((s.zeroShot.accuracy as number) * s.zeroShot.images));
  // the energy report is the command's own JSON, with its chart
  const report = JSON.parse(fs.readFileSync(s.energy.report, 'utf8')) as { encoders: Array<{ encoder: string; energyMj: number }> };
  expect(report.encoders.find((e) => e.encoder === 'image')?.energyMj).toBeCloseTo(s.energy.imageMj, 12);
  expect(s.energy.annImageMj).toBeGreaterThan(s.energy.imageMj);
  expect(fs.readFileSync(s.energy.chart, 'utf8')).toMatch(/^<svg|<\?xml/);
  // every file the summary names exists; summary.json is the same summary
  for (const f of Object.values(s.files)) expect(fs.existsSync(f)).toBe(true);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toMatchObject({ out: s.out, stages: s.stages.map((x) => ({ stage: x.stage })) });
  expect(s.nextSteps.every((c) => c.startsWith('spikeclip '))).toBe(true);

  // README's tour (the same block in docs/getting-started.md), each command as written on this
  // folder with --json added: every command's --json on the demo's run folder parses
  const tour = tourBlock(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  expect(tourBlock(fs.readFileSync(path.join(ROOT, 'docs', 'getting-started.md'), 'utf8'))).toBe(tour);
  const commands = tourCommands(tour);
  expect(commands.map((c) => c.split(' ').slice(2, 4).join(' '))).toEqual([
    'inspect $R/finetune/checkpoints/best', 'eval --checkpoint', 'eval --checkpoint', 'energy report', 'embed --checkpoint', 'eval collect', 'pretrain --help',
  ]);
  const results: Record<string, unknown>[] = [];
  for (const c of commands) {
    const withJson = c.includes('--help') ? c : `${c} --json`;
    const r = must(sh('bash', ['-euo', 'pipefail', '-c', `R=${JSON.stringify(out)}; ${withJson}`], repo), c);
    if (c.includes('--help')) expect(r.stdout).toMatch(/USAGE/);
    else {
      const doc = JSON.parse(r.stdout) as { status: number; result: Record<string, unknown> };
      expect(doc.status).toBe(0);
      results.push(doc.result);
    }
  }
  const [insp, evAll, evHeld, energy, emb, col] = results as [
    { kind: string },
    { results: Array<{ num_candidates: number }> },
    { results: Array<{ metrics: { acc1: number }; num_candidates: number }> },
    { encoders: Array<{ encoder: string }> },
    { text_embeds: number[][] },
    { rows: unknown[] },
  ];
  expect(insp.kind).toBe('student');
  expect(evAll.results[0].num_candidates).toBe(36);
  expect(evHeld.results[0].num_candidates).toBe(6);
  // the demo's own held-out number is what eval prints for the same checkpoint and classes
  expect(evHeld.results[0].metrics.acc1).toBeCloseTo(s.zeroShot.accuracy as number, 10);
  expect(energy.encoders.map((e) => e.encoder)).toContain('image');
  expect(emb.text_embeds).toHaveLength(2);
  expect(col.rows.length).toBeGreaterThanOrEqual(6);

  // the same --out again: refused before anything runs, nothing overwritten
  const again = spikeclip(['demo', '--quick', '--out', out, '--json']);
  expect(again.status).toBe(2);
  expect((JSON.parse(again.stdout) as { error: { message: string } }).error.message).toMatch(/already exists and is not empty/);
}, 480_000);
