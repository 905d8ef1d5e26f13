/**
 * Python's `html.unescape` for the text cleaning of CLIP's tokenizer (which applies it twice).
 *
 * The scan and the numeric references follow Python's code exactly (`&#NNN;`, `&#xHH;`, the
 * semicolon optional; 0 and out-of-range values become U+FFFD, 0x80-0x9F the Windows-1252
 * characters, other control and non-characters disappear; a name is at most 32 characters).
 * Named references are HTML5's 2,231 (Python's `html.entities.html5`), looked up in the
 * `entities` package: a name with its semicolon, one of the 106 legacy names without it, or else
 * the longest legacy name that prefixes it (`&notit;` is `¬it;`). An unknown name stays as it is.
 */
import { decodeHTML, decodeHTMLStrict } from 'entities';

/** Python's html._invalid_charrefs: 0x00, 0x0d and the Windows-1252 block. */
const INVALID_CHARREFS: Record<number, string> = {
  0x00: '\ufffd', 0x0d: '\r', 0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192', 0x84: '\u201e', 0x85: '\u2026',
  0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030', 0x8a: '\u0160', 0x8b: '\u2039', 0x8c: '\u0152', 0x8d: '\x8d',
  0x8e: '\u017d', 0x8f: '\x8f', 0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019', 0x93: '\u201c', 0x94: '\u201d', 0x95: '\u2022',
  0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc', 0x99: '\u2122', 0x9a: '\u0161', 0x9b: '\u203a', 0x9c: '\u0153', 0x9d: '\x9d',
  0x9e: '\u017e', 0x9f: '\u0178',
};

function invalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe
  );
}

function numeric(digits: string, hex: boolean): string {
  const n = hex ? parseInt(digits, 16) : parseInt(digits, 10);
  if (n in INVALID_CHARREFS) return INVALID_CHARREFS[n];
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff || !Number.isFinite(n)) return '\ufffd';
  if (invalidCodepoint(n)) return '';
  return String.fromCodePoint(n);
}

/** name -> text for `&name;` (undefined: not an HTML5 entity name). */
const FULL = new Map<string, string | undefined>();
/** name -> text for `&name` without a semicolon (undefined: not a legacy name). */
const LEGACY = new Map<string, string | undefined>();

/** Cache bound: names are arbitrary text after '&', not only entity names. */
const CACHE_MAX = 4096;

function fullName(name: string): string | undefined {
  if (!FULL.has(name)) {
    if (FULL.size >= CACHE_MAX) FULL.clear();
    const ref = `&${name};`;
    const text = decodeHTMLStrict(ref);
    FULL.set(name, text === ref ? undefined : text);
  }
  return FULL.get(name);
}

function legacyName(name: string): string | undefined {
  if (!LEGACY.has(name)) {
    if (LEGACY.size >= CACHE_MAX) LEGACY.clear();
    // a legacy name decodes the same without its semicolon; any other decodes a shorter prefix
    const text = fullName(name);
    LEGACY.set(name, text !== undefined && decodeHTML(`&${name}`) === text ? text : undefined);
  }
  return LEGACY.get(name);
}

function named(s: string): string {
  // s: the text after '&', up to 32 characters, possibly ending in ';'
  const whole = s.endsWith(';') ? fullName(s.slice(0, -1)) : legacyName(s);
  if (whole !== undefined) return whole;
  // Longest proper prefix (of at least 2 characters) that is a name valid without a semicolon.
  for (let x = s.length - 1; x > 1; x--) {
    const hit = legacyName(s.slice(0, x));
    if (hit !== undefined) return hit + s.slice(x);
  }
  return `&${s}`;
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Python's `html.unescape(s)`. */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      return numeric(ref.slice(hex ? 2 : 1).replace(/;$/, ''), hex);
    }
    return named(ref);
  });
}
