/**
 * The relative links of markdown files, and which of them point nowhere: a missing file, or a
 * `#anchor` that names no heading of its target (GitHub's heading ids). Used by
 * test/docs/links.test.ts on README.md and docs/*.md.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface MarkdownLink {
  /** The markdown file the link is in. */
  file: string;
  /** 1-based line of the link. */
  line: number;
  /** The link target as written, e.g. `training.md#the-run-folder`. */
  target: string;
}

/** Text outside fenced code blocks and inline code spans, line by line (code is blanked, not removed). */
function proseLines(text: string, keepInlineCode = false): string[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length) fence = null;
      return '';
    }
    if (m) {
      fence = m[1];
      return '';
    }
    return keepInlineCode ? line : line.replace(/(`+)[\s\S]*?\1/g, '');
  });
}

/** Every `[text](target)` link of a markdown file whose target is not a URL (http:, mailto:, ...). */
export function relativeLinks(file: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  proseLines(fs.readFileSync(file, 'utf8')).forEach((line, i) => {
    for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      links.push({ file, line: i + 1, target });
    }
  });
  return links;
}

/** GitHub's id of a heading: lower case, punctuation dropped (but - and _), spaces as -. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown file's headings, with GitHub's -1, -2 suffixes for repeated ones. */
export function headingAnchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(fs.readFileSync(file, 'utf8'), true)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = headingSlug(m[1]);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Why a link is broken, or null when its file (and heading, for `#anchor`) exists. */
export function brokenReason(link: MarkdownLink): string | null {
  const [pathPart, anchor] = link.target.split('#', 2) as [string, string | undefined];
  const target = pathPart === '' ? link.file : path.resolve(path.dirname(link.file), decodeURIComponent(pathPart));
  if (!fs.existsSync(target)) return `no file ${path.relative(process.cwd(), target)}`;
  if (anchor === undefined || anchor === '') return null;
  if (!target.endsWith('.md') || fs.statSync(target).isDirectory()) return null;
  return headingAnchors(target).has(decodeURIComponent(anchor).toLowerCase()) ? null : `no heading #${anchor} in ${path.basename(target)}`;
}
