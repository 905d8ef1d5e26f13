/**
 * Every relative link in README.md and docs/*.md points at a file that exists, and a `#anchor`
 * at a heading of that file, so the user guide's cross-references cannot rot unnoticed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { brokenReason, headingAnchors, headingSlug, relativeLinks } from '../helpers/markdown-links';

const ROOT = path.resolve(__dirname, '..', '..');
const DOCS = path.join(ROOT, 'docs');
const pages = [path.join(ROOT, 'README.md'), ...fs.readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort().map((f) => path.join(DOCS, f))];

describe('markdown links of README.md and docs/', () => {
  it('all point at existing files and headings', () => {
    const broken = pages
      .flatMap(relativeLinks)
      .map((l) => ({ l, why: brokenReason(l) }))
      .filter((b) => b.why !== null)
      .map(({ l, why }) => `${path.relative(ROOT, l.file)}:${l.line}: (${l.target}) ${why}`);
    expect(broken).toEqual([]);
  });

  it('sees the links of the docs index (the checker finds links at all)', () => {
    const targets = relativeLinks(path.join(DOCS, 'README.md')).map((l) => l.target);
    expect(targets).toEqual(expect.arrayContaining(['cli.md', 'teacher.md', 'energy.md']));
  });
});

describe('the link checker', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-links-'));
    fs.writeFileSync(path.join(dir, 'b.md'), '# B page\n\n## Resuming, Ctrl-C, crashes\n\n## `spikeclip finetune`: dual-loss\n\n## Twice\n\n## Twice\n\n```md\n# not a heading\n```\n');
    fs.writeFileSync(
      path.join(dir, 'a.md'),
      [
        'See [b](b.md), [its part](b.md#resuming-ctrl-c-crashes), [code](b.md#spikeclip-finetune-dual-loss),',
        '[second](b.md#twice-1), [self](#a), [web](https://example.com/x.md), [mail](mailto:x@y.z).',
        'Broken: [gone](missing.md) and [bad anchor](b.md#no-such-heading) and [fenced](b.md#not-a-heading).',
        '`[in code](nowhere.md)`',
        '```',
        '[in a fence](nowhere-either.md)',
        '```',
        '# A',
      ].join('\n'),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds relative links outside code and skips URLs', () => {
    expect(relativeLinks(path.join(dir, 'a.md')).map((l) => l.target)).toEqual([
      'b.md',
      'b.md#resuming-ctrl-c-crashes',
      'b.md#spikeclip-finetune-dual-loss',
      'b.md#twice-1',
      '#a',
      'missing.md',
      'b.md#no-such-heading',
      'b.md#not-a-heading',
    ]);
  });

  it('reports missing files and anchors, and only those', () => {
    const broken = relativeLinks(path.join(dir, 'a.md'))
      .filter((l) => brokenReason(l) !== null)
      .map((l) => [l.target, l.line, brokenReason(l)]);
    expect(broken).toEqual([
      ['missing.md', 3, expect.stringContaining('no file')],
      ['b.md#no-such-heading', 3, 'no heading #no-such-heading in b.md'],
      ['b.md#not-a-heading', 3, 'no heading #not-a-heading in b.md'],
    ]);
  });

  it('makes heading ids as GitHub does', () => {
    expect(headingSlug('Defaults (the reference recipe)')).toBe('defaults-the-reference-recipe');
    expect(headingSlug('Models by id: the Hugging Face cache, and `--download`')).toBe('models-by-id-the-hugging-face-cache-and---download');
    expect([...headingAnchors(path.join(dir, 'b.md'))]).toEqual(['b-page', 'resuming-ctrl-c-crashes', 'spikeclip-finetune-dual-loss', 'twice', 'twice-1']);
  });
});
