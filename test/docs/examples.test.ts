/**
 * The docs' examples run: every fenced block of docs/*.md and README.md marked `<!-- example -->`
 * is run by bash through the real CLI (dist/; `npm test` builds first) on tiny fixtures, and every
 * JSON block marked `<!-- result: COMMAND -->` is checked against what that command really prints
 * under `--json`. The convention is in docs/README.md.
 *
 * - Each marked block runs in a fresh copy of the fixture world (test/helpers/doc-fixtures.ts:
 *   the files, models and data under the names the docs use, `~` being its `home/`), from which
 *   the paths the block writes (`--out`, `--output`) are removed first; `<!-- example: continue -->`
 *   runs in the previous block's folder instead. A plain block runs as one script (`set -euo
 *   pipefail`); a transcript block (lines starting with `$ `) runs each `$ ` command, and a command
 *   whose shown output starts with `Error:` must fail with that error.
 * - `spikeclip` on PATH is test/docs/spikeclip-shim.js, which applies the substitution table written
 *   there (short training runs, tiny presets, the fixture archives' checksums) and records each call.
 * - Every call given `--json` must print one JSON document whose `status` is its exit status; each
 *   `<!-- result: COMMAND [.PATH] -->` block's keys must all be in the `result` (at PATH) of one of the
 *   page's successful `--json` calls of COMMAND (PATH, like `.results.0`, picks a member of
 *   `result`: the block then documents that member).
 * - Blocks that show a spikeclip command but cannot run here carry `<!-- example: skip (REASON) -->`
 *   (downloads, tfjs-node, real-scale data); an unmarked one fails the test.
 * - No network: `HF_HUB_OFFLINE=1`; the Hugging Face model ids resolve in a fixture cache.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { atPath, DocBlock, documentedKeys, isTranscript, parseDoc, parseLooseJson, showsCommand, transcriptSteps } from '../helpers/doc-examples';
import { DocFixtures, writeDocFixtures } from '../helpers/doc-fixtures';
import { ROOT } from '../helpers/cli';

const PAGES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const DOCS = PAGES.map((page) => ({ page, blocks: parseDoc(fs.readFileSync(path.join(ROOT, page), 'utf8'), page) }));
const SHIM = path.join(ROOT, 'test', 'docs', 'spikeclip-shim.js');
/** Commands whose page another session owns (docs/demo.md), left out of the "every command documents its JSON" rule. */
const NOT_HERE = new Set(['demo']);

interface Call {
  id: string;
  original: string[];
  args: string[];
  rc: number;
  stdout: string;
  stderr: string;
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-examples-'));
let fx: DocFixtures;
const calls = new Map<string, Call[]>();

beforeAll(async () => {
  fx = await writeDocFixtures(root);
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  const wrapper = [
    '#!/bin/sh',
    'd="$DOCS_LOG/$(date +%s%N)"',
    'mkdir -p "$d"',
    `DOCS_EXAMPLE_LOG="$d" "${process.execPath}" "${SHIM}" "$@" >"$d/stdout" 2>"$d/stderr"`,
    'rc=$?',
    'echo "$rc" >"$d/rc"',
    'cat "$d/stdout"',
    'cat "$d/stderr" >&2',
    'exit "$rc"',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(bin, 'spikeclip'), wrapper, { mode: 0o755 });
}, 60_000);

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function env(dir: string, log: string): NodeJS.ProcessEnv {
  return {
    PATH: `${path.join(root, 'bin')}:${process.env.PATH ?? ''}`,
    HOME: path.join(dir, 'home'),
    XDG_CACHE_HOME: path.join(dir, 'home', '.cache'),
    CI: '1',
    SPIKECLIP_BACKEND: 'wasm',
    SPIKECLIP_CACHE: path.join(root, 'cache'),
    SPIKECLIP_DATA_DIR: path.join(dir, 'home', 'data'),
    HF_HUB_CACHE: fx.hfCache,
    HF_HUB_OFFLINE: '1',
    HF_ENDPOINT: 'http://127.0.0.1:9',
    DOCS_LOG: log,
    DOCS_MICRO_ARCH: fx.microArch,
    DOCS_CHECKSUMS: fx.checksums,
  };
}

/** The paths a block's commands write (`--out X`, `--output X`), relative to its folder. */
function outputsOf(block: DocBlock): string[] {
  const out: string[] = [];
  for (const m of block.body.join('\n').matchAll(/--out(?:put)?[= ]+("[^"]*"|'[^']*'|\S+)/g)) out.push(m[1].replace(/^["']|["']$/g, ''));
  return out;
}

/** The calls logged in `log` since the last look. */
function newCalls(log: string, seen: Set<string>): Call[] {
  if (!fs.existsSync(log)) return [];
  const out: Call[] = [];
  for (const d of fs.readdirSync(log).sort()) {
    if (seen.has(d)) continue;
    seen.add(d);
    const f = (n: string) => (fs.existsSync(path.join(log, d, n)) ? fs.readFileSync(path.join(log, d, n), 'utf8') : '');
    const a = JSON.parse(f('args.json') || '{"id": "", "original": [], "args": []}') as { id: string; original: string[]; args: string[] };
    out.push({ ...a, rc: Number(f('rc').trim()), stdout: f('stdout'), stderr: f('stderr') });
  }
  return out;
}

function bash(script: string, dir: string, e: NodeJS.ProcessEnv) {
  return spawnSync('bash', ['-c', script], { cwd: dir, env: e, encoding: 'utf8', timeout: 180_000 });
}

function show(r: { status: number | null; stdout: string; stderr: string }): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

describe('the docs example convention', () => {
  test('marked blocks, transcripts and trimmed JSON are read as docs/README.md says', () => {
    const doc = ['<!-- example -->', '```sh', 'spikeclip a \\', '  --b', '```', '', '<!-- result: energy report .encoders.0 -->', '', '```json', '{"x": 1}', '```', '```sh', 'spikeclip c', '```'].join('\n');
    const blocks = parseDoc(doc);
    expect(blocks.map((b) => b.marker)).toEqual([{ kind: 'example', continue: false }, { kind: 'result', command: 'energy report', path: ['encoders', '0'] }, null]);
    expect(showsCommand(blocks[2])).toBe(true);
    expect(parseDoc('<!-- example: skip (needs CIFAR) -->\n```sh\nspikeclip x\n```')[0].marker).toEqual({ kind: 'skip', reason: 'needs CIFAR' });
    expect(() => parseDoc('<!-- example: sometimes -->\n```sh\n```')).toThrow(/unknown example marker/);
    const t = parseDoc('```\n$ spikeclip x \\\n  --y\nout\n$ spikeclip z\nError: bad (fix: good)\n```')[0];
    expect(isTranscript(t)).toBe(true);
    expect(transcriptSteps(t)).toEqual([{ command: 'spikeclip x  --y', output: ['out'] }, { command: 'spikeclip z', output: ['Error: bad (fix: good)'] }]);
    const envelope = '{ "status": 0, "result": { "a": [[0.1, ...]], "b": { ...one document... }, "c": [ { ... }, ... ], ... }, "warnings": [] }';
    expect(documentedKeys(envelope)).toEqual(['a', 'b', 'c']);
    expect(documentedKeys('{ "k": 1, "j": [1, ...], "m": { "n": [ { ... }, ... ] } }')).toEqual(['k', 'j', 'm']);
    expect('object' in parseLooseJson('{"a": "x, y", "b": {"c": "}"}}')).toBe(true);
    expect(documentedKeys('{"a": "x, y", "b": {"c": "}"}, "d": 1}')).toEqual(['a', 'b', 'd']);
  });

  test('every block that shows a spikeclip command is marked (run, or skipped with a reason)', () => {
    const unmarked = DOCS.flatMap(({ page, blocks }) => blocks.filter((b) => ['sh', 'bash', 'console', ''].includes(b.lang) && showsCommand(b) && b.marker === null).map((b) => `${page}:${b.line}`));
    expect(unmarked).toEqual([]);
  });

  test('every command documents the JSON its --json prints (a <!-- result: COMMAND --> block)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    const documented = new Set(DOCS.flatMap(({ blocks }) => blocks.flatMap((b) => (b.marker?.kind === 'result' ? [b.marker.command.replace(/ /g, ':')] : []))));
    expect(Object.keys(manifest.commands).filter((id) => !NOT_HERE.has(id) && !documented.has(id))).toEqual([]);
  });
});

for (const { page, blocks } of DOCS) {
  const runnable = blocks.filter((b) => b.marker?.kind === 'example');
  const results = blocks.filter((b) => b.marker?.kind === 'result');
  if (runnable.length === 0 && results.length === 0) continue;
  describe(page, () => {
    const log = path.join(root, 'log', page.replace(/\W/g, '_'));
    const seen = new Set<string>();
    let dir = '';
    let n = 0;
    calls.set(page, []);

    if (runnable.length > 0) test.each(runnable.map((b) => [`${page}:${b.line}`, b] as const))('example %s runs', (_name, block) => {
      const marker = block.marker as { kind: 'example'; continue: boolean };
      if (!marker.continue || dir === '') {
        dir = path.join(root, 'work', `${page.replace(/\W/g, '_')}-${++n}`);
        fs.cpSync(fx.world, dir, { recursive: true, verbatimSymlinks: true });
        for (const o of outputsOf(block)) fs.rmSync(path.join(dir, o), { recursive: true, force: true });
      }
      const e = env(dir, log);
      const mine: Call[] = [];
      if (isTranscript(block)) {
        for (const step of transcriptSteps(block)) {
          const r = bash(`set -o pipefail\n${step.command}`, dir, e);
          mine.push(...newCalls(log, seen));
          const error = step.output.find((l) => l.startsWith('Error: '));
          if (error) {
            expect({ command: step.command, failed: r.status !== 0 }).toEqual({ command: step.command, failed: true });
            // the documented message, less the file name it starts with (paths differ)
            const what = error.slice('Error: '.length).split(' (fix:')[0].replace(/^\S+\.\w+ /, '');
            expect(r.stderr).toContain(what);
          } else if (r.status !== 0) throw new Error(`${page}:${block.line}: $ ${step.command}\n${show(r)}`);
        }
      } else {
        const r = bash(`set -euo pipefail\n${block.body.join('\n')}`, dir, e);
        mine.push(...newCalls(log, seen));
        if (r.status !== 0) throw new Error(`${page}:${block.line}\n${show(r)}`);
      }
      expect(mine.length).toBeGreaterThan(0);
      for (const c of mine) {
        if (!c.original.includes('--json')) continue;
        let doc: { status?: number };
        try {
          doc = JSON.parse(c.stdout) as { status?: number };
        } catch {
          throw new Error(`spikeclip ${c.original.join(' ')}: --json output does not parse:\n${c.stdout.slice(0, 2000)}`);
        }
        expect(doc.status).toBe(c.rc);
      }
      calls.get(page)?.push(...mine);
    });

    if (results.length > 0) test.each(results.map((b) => [`${page}:${b.line}`, b] as const))('the JSON documented at %s is what the command prints', (_name, block) => {
      const marker = block.marker as { kind: 'result'; command: string; path: string[] };
      const id = marker.command.replace(/ /g, ':');
      const keys = documentedKeys(block.body.join('\n'));
      expect(keys.length).toBeGreaterThan(0);
      const real = (calls.get(page) ?? [])
        .filter((c) => c.id === id && c.rc === 0 && c.original.includes('--json'))
        .map((c) => atPath((JSON.parse(c.stdout) as { result: unknown }).result, marker.path))
        .filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v));
      if (real.length === 0) throw new Error(`${page}:${block.line}: no marked example on this page ran \`spikeclip ${marker.command} ... --json\``);
      const missing = real.map((r) => keys.filter((k) => !(k in r)));
      const best = missing.reduce((a, b) => (b.length < a.length ? b : a));
      expect({ block: `${page}:${block.line}`, missing: best }).toEqual({ block: `${page}:${block.line}`, missing: [] });
    });
  });
}
