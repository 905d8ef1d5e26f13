/**
 * htmlUnescape against Python's html.unescape. The expected strings were recorded with
 * CPython 3.11 (`[[s, html.unescape(s)] for s in inputs]`): HTML5-only entities, multi-code-point
 * values, the longest-prefix rule for legacy names, and the numeric-reference quirks.
 */
import { htmlUnescape } from '../../src/text/html-unescape';

const RECORDED: [string, string][] = [
  ['caf&eacute; &amp; cr&egrave;me', 'caf\u00e9 & cr\u00e8me'],
  ['&NotNestedGreaterGreater; &nGt; &bne;', '\u2aa2\u0338 \u226b\u20d2 =\u20e5'],
  ['&check; &star; &bigstar; &hearts; &phone;', '\u2713 \u2606 \u2605 \u2665 \u260e'],
  ['&Afr;&Bopf;&cscr; &fjlig; &ThickSpace;', '\ud835\udd04\ud835\udd39\ud835\udcb8 fj \u205f\u200a'],
  ['&lbrace;x&rbrace; &lpar;&rpar; &colon;&semi; &excl;&quest; &num;&dollar;&percnt;', '{x} () :; !? #$%'],
  ['&NewLine;&Tab;tab &nbsp &nbsp; &nbspx', '\n\ttab \u00a0 \u00a0 \u00a0x'],
  ['&notit; &notin; &not &ampfoo; &ampfoo &AMP;', '\u00acit; \u2209 \u00ac &foo; &foo &'],
  ['&unknown; &zz; &a; &;', '&unknown; &zz; &a; &;'],
  [
    '&#0; &#13; &#128; &#x9F; &#129; &#1; &#x7f; &#xFDD0; &#xFFFE; &#x10FFFF; &#x110000; &#xD800; &#99999999999;',
    '\ufffd \r \u20ac \u0178 \u0081      \ufffd \ufffd \ufffd',
  ],
  ['&#65&#x42;C &#X43 &#0065;', 'ABC C A'],
  [`&${'a'.repeat(40)};`, `&${'a'.repeat(40)};`],
  ['&amp;amp; &amp;lt;', '&amp; &lt;'],
];

test.each(RECORDED)('%j unescapes as Python does', (input, python) => {
  expect(htmlUnescape(input)).toBe(python);
});

test('text without & is returned as it is; repeated lookups are cached and stay right', () => {
  expect(htmlUnescape('plain text')).toBe('plain text');
  for (let i = 0; i < 5000; i++) htmlUnescape(`&x${i}; &check;`); // fills and clears the caches
  expect(htmlUnescape('&check; &notit;')).toBe('\u2713 \u00acit;');
});
