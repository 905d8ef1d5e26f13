/**
 * docs/method.md is the method spec the code and the docs cite by section ("docs/method.md §6",
 * "docs/method.md §§6-7", "docs/method.md §§3 and 4"; inside method.md itself a bare "§4"). Every
 * cited section must exist as a `## N. ...` heading there, and nothing may point at METHOD.md, a
 * file users do not have.
 */
import * as fs from 'fs';
import * as path from 'path';
import { sourceFiles } from '../helpers/sources';

const ROOT = path.resolve(__dirname, '..', '..');
const METHOD = path.join(ROOT, 'docs', 'method.md');

/** The section numbers of `## N. Title` headings. */
function headingSections(markdown: string): Set<number> {
  const out = new Set<number>();
  for (const m of markdown.matchAll(/^## (\d+)\. \S/gm)) out.add(Number(m[1]));
  return out;
}

/** "6", "6-7", "3 and 4", "3, 4 and 6" -> the section numbers (ranges expanded). */
function expand(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(/\s*(?:,|\band\b)\s*/)) {
    const r = /^(\d+)\s*[-–]\s*(\d+)$/.exec(part.trim());
    if (r) {
      for (let n = Number(r[1]); n <= Number(r[2]); n++) out.push(n);
    } else if (/^\d+$/.test(part.trim())) {
      out.push(Number(part.trim()));
    }
  }
  return out;
}

interface Citation {
  line: number;
  text: string;
  sections: number[];
}

/**
 * The citations of docs/method.md in a text: "method.md §N" and "method.md §§<list>" (a list of
 * numbers and ranges joined by commas and "and"); with `bare`, also "§N" / "§§<list>" anywhere
 * (method.md's own cross-references).
 */
function citations(text: string, bare = false): Citation[] {
  const out: Citation[] = [];
  const re = bare ? /§§?(\d+(?:\s*(?:[-–]|,|\band\b)\s*\d+)*)/g : /method\.md\s+§§?(\d+(?:\s*(?:[-–]|,|\band\b)\s*\d+)*)/g;
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(re)) out.push({ line: i + 1, text: m[0], sections: expand(m[1]) });
  });
  return out;
}

/** Citations whose sections are not headings of method.md, as "file:line: text (no §N)". */
function broken(file: string, text: string, sections: Set<number>, bare = false): string[] {
  const out: string[] = [];
  for (const c of citations(text, bare)) {
    const missing = c.sections.filter((n) => !sections.has(n));
    if (missing.length > 0) out.push(`${path.relative(ROOT, file)}:${c.line}: "${c.text}" (no ${missing.map((n) => `§${n}`).join(', ')} in docs/method.md)`);
  }
  return out;
}

/** Every file that may cite docs/method.md: src/, test/ (but this file), docs/*.md, README.md. */
function citingFiles(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((n) => n.endsWith('.md')).map((n) => path.join(ROOT, 'docs', n));
  const tests = sourceFiles(path.join(ROOT, 'test')).filter((f) => path.resolve(f) !== path.resolve(__filename));
  return [...sourceFiles(path.join(ROOT, 'src')), ...tests, ...docs, path.join(ROOT, 'README.md')];
}

describe('the citation parser', () => {
  const sections = new Set([1, 2, 3, 4, 6, 7, 8]);
  test('reads single sections, ranges and lists', () => {
    const text = 'a (docs/method.md §6) b\nc docs/method.md §§6-8 d\ne docs/method.md §§3 and 4, f method.md §§1, 2 and 7.';
    expect(citations(text).map((c) => [c.line, c.sections])).toEqual([
      [1, [6]],
      [2, [6, 7, 8]],
      [3, [3, 4]],
      [3, [1, 2, 7]],
    ]);
  });
  test('flags a section that is not a heading, alone or inside a range', () => {
    expect(broken(METHOD, 'see docs/method.md §9', sections)).toEqual(['docs/method.md:1: "method.md §9" (no §9 in docs/method.md)']);
    expect(broken(METHOD, 'x\nsee docs/method.md §§4-6', sections)).toEqual(['docs/method.md:2: "method.md §§4-6" (no §5 in docs/method.md)']);
    expect(broken(METHOD, 'docs/method.md §§3 and 4', sections)).toEqual([]);
  });
  test('bare § references count only where asked (method.md itself)', () => {
    expect(citations('as in §5', false)).toEqual([]);
    expect(broken(METHOD, 'as in §5', sections, true)).toHaveLength(1);
  });
  test('headings are "## N. Title" lines', () => {
    expect([...headingSections('# T\n## 1. One\n### 2. not\n## 3. Three\n##4. no\n')]).toEqual([1, 3]);
  });
});

describe('docs/method.md and the references to it', () => {
  const method = fs.readFileSync(METHOD, 'utf8');
  const sections = headingSections(method);

  test('method.md has its sections 1 to 8, in order, numbered without gaps', () => {
    const numbers = [...method.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1]));
    expect(numbers.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  test('every "docs/method.md §N" in src/, test/, docs/ and README.md names an existing section', () => {
    const files = citingFiles();
    const bad = files.flatMap((f) => broken(f, fs.readFileSync(f, 'utf8'), sections, path.resolve(f) === METHOD));
    expect(bad).toEqual([]);
    // the check is not vacuous: the source does cite sections
    const cited = files.filter((f) => f.startsWith(path.join(ROOT, 'src')) && citations(fs.readFileSync(f, 'utf8')).length > 0);
    expect(cited.length).toBeGreaterThan(10);
  });

  test('nothing in src/, docs/ or README.md refers to METHOD.md (users do not have it)', () => {
    const files = [...sourceFiles(path.join(ROOT, 'src')), ...citingFiles().filter((f) => f.endsWith('.md'))];
    const hits: string[] = [];
    for (const f of files) {
      fs.readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/METHOD\.md/.test(line)) hits.push(`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(hits).toEqual([]);
  });

  test('citations use the § form ("docs/method.md §6"), which the check above can read', () => {
    const files = citingFiles();
    const hits: string[] = [];
    for (const f of files) {
      fs.readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/method\.md,?\s+sections?\s+\d/i.test(line)) hits.push(`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(hits).toEqual([]);
  });
});
