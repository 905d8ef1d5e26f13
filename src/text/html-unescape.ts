/**
 * Python's `html.unescape` for the text cleaning of CLIP's tokenizer (which applies it twice).
 *
 * Numeric references follow Python exactly (`&#NNN;`, `&#xHH;`, the semicolon optional; 0 and
 * out-of-range values become U+FFFD, 0x80-0x9F the Windows-1252 characters, other control and
 * non-characters disappear). Named references cover the ones that occur in practice: all of
 * HTML 4's Latin-1 entities (which, as in HTML5 and Python, are also recognised without the
 * semicolon), `&apos;`, typographic punctuation, arrows, maths, symbols and Greek letters.
 * An unknown name is left as it is, as Python does.
 */

const LATIN1_NAMES = [
  'nbsp', 'iexcl', 'cent', 'pound', 'curren', 'yen', 'brvbar', 'sect', 'uml', 'copy', 'ordf', 'laquo', 'not', 'shy', 'reg', 'macr',
  'deg', 'plusmn', 'sup2', 'sup3', 'acute', 'micro', 'para', 'middot', 'cedil', 'sup1', 'ordm', 'raquo', 'frac14', 'frac12', 'frac34', 'iquest',
  'Agrave', 'Aacute', 'Acirc', 'Atilde', 'Auml', 'Aring', 'AElig', 'Ccedil', 'Egrave', 'Eacute', 'Ecirc', 'Euml', 'Igrave', 'Iacute', 'Icirc', 'Iuml',
  'ETH', 'Ntilde', 'Ograve', 'Oacute', 'Ocirc', 'Otilde', 'Ouml', 'times', 'Oslash', 'Ugrave', 'Uacute', 'Ucirc', 'Uuml', 'Yacute', 'THORN', 'szlig',
  'agrave', 'aacute', 'acirc', 'atilde', 'auml', 'aring', 'aelig', 'ccedil', 'egrave', 'eacute', 'ecirc', 'euml', 'igrave', 'iacute', 'icirc', 'iuml',
  'eth', 'ntilde', 'ograve', 'oacute', 'ocirc', 'otilde', 'ouml', 'divide', 'oslash', 'ugrave', 'uacute', 'ucirc', 'uuml', 'yacute', 'thorn', 'yuml',
];

/** Named entities that need their semicolon. */
const OTHER_ENTITIES: Record<string, number> = {
  apos: 0x27, OElig: 0x152, oelig: 0x153, Scaron: 0x160, scaron: 0x161, Yuml: 0x178, fnof: 0x192, circ: 0x2c6, tilde: 0x2dc,
  ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, zwnj: 0x200c, zwj: 0x200d, lrm: 0x200e, rlm: 0x200f,
  ndash: 0x2013, mdash: 0x2014, lsquo: 0x2018, rsquo: 0x2019, sbquo: 0x201a, ldquo: 0x201c, rdquo: 0x201d, bdquo: 0x201e,
  dagger: 0x2020, Dagger: 0x2021, bull: 0x2022, hellip: 0x2026, permil: 0x2030, prime: 0x2032, Prime: 0x2033,
  lsaquo: 0x2039, rsaquo: 0x203a, oline: 0x203e, frasl: 0x2044, euro: 0x20ac, image: 0x2111, weierp: 0x2118, real: 0x211c,
  trade: 0x2122, alefsym: 0x2135, larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193, harr: 0x2194, crarr: 0x21b5,
  lArr: 0x21d0, uArr: 0x21d1, rArr: 0x21d2, dArr: 0x21d3, hArr: 0x21d4, forall: 0x2200, part: 0x2202, exist: 0x2203,
  empty: 0x2205, nabla: 0x2207, isin: 0x2208, notin: 0x2209, ni: 0x220b, prod: 0x220f, sum: 0x2211, minus: 0x2212,
  lowast: 0x2217, radic: 0x221a, prop: 0x221d, infin: 0x221e, ang: 0x2220, and: 0x2227, or: 0x2228, cap: 0x2229, cup: 0x222a,
  int: 0x222b, there4: 0x2234, sim: 0x223c, cong: 0x2245, asymp: 0x2248, ne: 0x2260, equiv: 0x2261, le: 0x2264, ge: 0x2265,
  sub: 0x2282, sup: 0x2283, nsub: 0x2284, sube: 0x2286, supe: 0x2287, oplus: 0x2295, otimes: 0x2297, perp: 0x22a5,
  sdot: 0x22c5, lceil: 0x2308, rceil: 0x2309, lfloor: 0x230a, rfloor: 0x230b, lang: 0x27e8, rang: 0x27e9, loz: 0x25ca,
  spades: 0x2660, clubs: 0x2663, hearts: 0x2665, diams: 0x2666, quot: 0x22, amp: 0x26, lt: 0x3c, gt: 0x3e,
};

const GREEK = 'Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho _ Sigma Tau Upsilon Phi Chi Psi Omega'.split(' ');

/** name (without ';') -> text; and the set of names also valid without ';'. */
const ENTITIES = new Map<string, string>();
const NO_SEMICOLON = new Set<string>();

(function build(): void {
  LATIN1_NAMES.forEach((n, i) => {
    ENTITIES.set(n, String.fromCharCode(0xa0 + i));
    NO_SEMICOLON.add(n);
  });
  for (const [n, c] of Object.entries(OTHER_ENTITIES)) ENTITIES.set(n, String.fromCodePoint(c));
  GREEK.forEach((n, i) => {
    if (n === '_') return;
    ENTITIES.set(n, String.fromCodePoint(0x391 + i));
    ENTITIES.set(n.toLowerCase(), String.fromCodePoint(0x3b1 + i));
  });
  ENTITIES.set('sigmaf', '\u03c2');
  ENTITIES.set('thetasym', '\u03d1');
  ENTITIES.set('upsih', '\u03d2');
  ENTITIES.set('piv', '\u03d6');
  for (const n of ['amp', 'lt', 'gt', 'quot']) NO_SEMICOLON.add(n);
  for (const [n, m] of [['AMP', 'amp'], ['LT', 'lt'], ['GT', 'gt'], ['QUOT', 'quot'], ['COPY', 'copy'], ['REG', 'reg']]) {
    ENTITIES.set(n, ENTITIES.get(m) as string);
    NO_SEMICOLON.add(n);
  }
})();

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

function named(s: string): string {
  // s: the text after '&', up to 32 characters, possibly ending in ';'
  if (s.endsWith(';')) {
    const hit = ENTITIES.get(s.slice(0, -1));
    if (hit !== undefined) return hit;
  } else if (NO_SEMICOLON.has(s)) {
    return ENTITIES.get(s) as string;
  }
  // Longest proper prefix (of at least 2 characters) that is a name valid without a semicolon.
  for (let x = s.length - 1; x > 1; x--) {
    const name = s.slice(0, x);
    if (NO_SEMICOLON.has(name)) return (ENTITIES.get(name) as string) + s.slice(x);
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
