/**
 * Test vocabularies for the CLIP tokenizer (the real 49,408-token vocabulary cannot be
 * downloaded here).
 *
 * - `smallClipVocab()`: a tiny byte-level BPE vocabulary in Hugging Face layout (the 256 byte
 *   symbols, the same with `</w>`, a few dozen merges, then `<|startoftext|>` and
 *   `<|endoftext|>`), used by the CLIP model fixtures.
 * - `goldenClipVocab()`: a full-size vocabulary laid out like CLIP's (bytes at 0-255, bytes+`</w>`
 *   at 256-511, merge k at 512+k, start 49406, end 49407) whose merges are constructed so that
 *   the words of {@link CLIP_GOLDENS} become exactly the tokens CLIP's real vocabulary gives them.
 *   The ids in the goldens are real CLIP ids quoted in public sources, so the test checks the
 *   id layout, text cleaning, pre-tokenisation (contractions, digits, punctuation runs),
 *   byte mapping (accents, dashes, control characters) and padding/truncation against CLIP.
 */
import { byteVocabularyOrder, bytesToUnicode } from '../../src/text/tokenizer';

/** Real CLIP ids (openai/clip-vit-base-patch32 tokenizer) as quoted in public test suites. */
export const CLIP_GOLDENS: [string, number[]][] = [
  ['hello world', [49406, 3306, 1002, 49407]],
  ['Hello World', [49406, 3306, 1002, 49407]],
  ['HELLO WORLD', [49406, 3306, 1002, 49407]],
  ['  HELLO   World  ', [49406, 3306, 1002, 49407]],
  ['', [49406, 49407]],
  ['  ', [49406, 49407]],
  ['a', [49406, 320, 49407]],
  ['!', [49406, 256, 49407]],
  ['!!!', [49406, 995, 49407]],
  ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
  ['a photo of a dog', [49406, 320, 1125, 539, 320, 1929, 49407]],
  ['a spooky scene', [49406, 320, 15369, 3562, 49407]],
  ['How Spooky   does the CAMERA look?', [49406, 829, 15369, 1897, 518, 3934, 1012, 286, 49407]],
  ["it's a beautiful day, isn't it?", [49406, 585, 568, 320, 1215, 575, 267, 2923, 713, 585, 286, 49407]],
  ['email: user@example.com', [49406, 4462, 281, 7031, 287, 6228, 269, 2464, 49407]],
  ['the year 2024 was interesting', [49406, 518, 935, 273, 271, 273, 275, 739, 3628, 49407]],
  ['3.14 is pi', [49406, 274, 269, 272, 275, 533, 5357, 49407]],
  ['MacBook Pro 16-inch', [49406, 20617, 2630, 272, 277, 268, 6523, 49407]],
  ['sunset over the sea', [49406, 3424, 962, 518, 2102, 49407]],
  ["grandma's 2 birthday cakes", [49406, 10525, 568, 273, 1166, 5950, 49407]],
  ['café au lait', [49406, 15304, 2566, 572, 585, 49407]],
  ['snow-capped mountains, 4k', [49406, 2583, 268, 24659, 5873, 267, 275, 330, 49407]],
  ["We're testing UTF-8 café \u2014 fast!", [49406, 649, 982, 4967, 1419, 325, 268, 279, 15304, 2005, 1953, 256, 49407]],
  ['a person walks forward, turns left, and raises both arms', [49406, 320, 2533, 8192, 2342, 267, 3185, 1823, 267, 537, 13297, 2212, 5706, 49407]],
  ['1\u0000 2\ufffd 3', [49406, 272, 444, 273, 39802, 274, 49407]],
];

/** The token strings behind the multi-symbol ids of the goldens (byte-mapped, `</w>` marks a word end). */
const GOLDEN_TOKENS: [number, string][] = [
  [3306, 'hello</w>'], [1002, 'world</w>'], [995, '!!!</w>'], [1125, 'photo</w>'], [539, 'of</w>'], [2368, 'cat</w>'],
  [1929, 'dog</w>'], [15369, 'spooky</w>'], [3562, 'scene</w>'], [829, 'how</w>'], [1897, 'does</w>'], [518, 'the</w>'],
  [3934, 'camera</w>'], [1012, 'look</w>'], [585, 'it</w>'], [568, "'s</w>"], [1215, 'beautiful</w>'], [575, 'day</w>'],
  [2923, 'isn</w>'], [713, "'t</w>"], [4462, 'email</w>'], [7031, 'user</w>'], [6228, 'example</w>'], [2464, 'com</w>'],
  [935, 'year</w>'], [739, 'was</w>'], [3628, 'interesting</w>'], [533, 'is</w>'], [5357, 'pi</w>'], [20617, 'macbook</w>'],
  [2630, 'pro</w>'], [6523, 'inch</w>'], [3424, 'sunset</w>'], [962, 'over</w>'], [2102, 'sea</w>'], [10525, 'grandma</w>'],
  [1166, 'birthday</w>'], [5950, 'cakes</w>'], [15304, 'caf\u00c3\u00a9</w>'], [2566, 'au</w>'], [572, 'la'], [2583, 'snow</w>'],
  [24659, 'capped</w>'], [5873, 'mountains</w>'], [649, 'we</w>'], [982, "'re</w>"], [4967, 'testing</w>'], [1419, 'ut'],
  [2005, '\u00e2\u0122\u0136</w>'], [1953, 'fast</w>'], [2533, 'person</w>'], [8192, 'walks</w>'], [2342, 'forward</w>'],
  [3185, 'turns</w>'], [1823, 'left</w>'], [537, 'and</w>'], [13297, 'raises</w>'], [2212, 'both</w>'], [5706, 'arms</w>'],
  [39802, '\u00ef\u00bf\u00bd</w>'],
];

function symbols(token: string): string[] {
  const end = token.endsWith('</w>');
  const body = Array.from(end ? token.slice(0, -4) : token);
  if (end) body[body.length - 1] += '</w>';
  return body;
}

export interface VocabFiles {
  /** vocab.json text. */
  vocabJson: string;
  /** merges.txt text (with the "#version: 0.2" header). */
  mergesTxt: string;
  vocab: Map<string, number>;
  merges: [string, string][];
}

function files(tokens: string[], merges: [string, string][]): VocabFiles {
  const vocab = new Map(tokens.map((t, i) => [t, i]));
  const obj: Record<string, number> = {};
  for (const [t, i] of vocab) obj[t] = i;
  return {
    vocab,
    merges,
    vocabJson: JSON.stringify(obj),
    mergesTxt: `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`,
  };
}

/** BPE of a symbol sequence with the given ranks (the algorithm of simple_tokenizer.py). */
function simulate(syms: string[], ranks: Map<string, number>): string[] {
  let word = syms.slice();
  while (word.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < word.length - 1; i++) {
      const r = ranks.get(`${word[i]} ${word[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    const [a, b] = [word[best], word[best + 1]];
    const next: string[] = [];
    for (let i = 0; i < word.length; ) {
      if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
        next.push(a + b);
        i += 2;
      } else next.push(word[i++]);
    }
    word = next;
  }
  return word;
}

/**
 * The full-size golden vocabulary (49,408 tokens, CLIP's id layout). Each golden token is built
 * greedily: run BPE with the merges made so far and join its first two pieces with a new merge,
 * until one piece is left; the last merge gets the token's real rank (id - 512). Other ranks hold merges of characters
 * that no byte-mapped text contains.
 */
export function goldenClipVocab(): VocabFiles {
  const nMerges = 49406 - 512;
  const merges = new Array<[string, string] | undefined>(nMerges).fill(undefined);
  const ranks = new Map<string, number>();
  const targetRanks = new Set(GOLDEN_TOKENS.map(([id]) => id - 512));
  let free = 0;
  const nextFree = (): number => {
    while (free < nMerges && (merges[free] !== undefined || targetRanks.has(free))) free++;
    if (free >= nMerges) throw new Error('out of ranks');
    return free++;
  };
  const add = (a: string, b: string, r: number): void => {
    merges[r] = [a, b];
    ranks.set(`${a} ${b}`, r);
  };
  // Tokens that are not word ends first: later words may then reuse them.
  const ordered = [...GOLDEN_TOKENS.filter(([, t]) => !t.endsWith('</w>')), ...GOLDEN_TOKENS.filter(([, t]) => t.endsWith('</w>'))];
  for (const [id, tok] of ordered) {
    const syms = symbols(tok);
    for (let pieces = simulate(syms, ranks); pieces.length > 1; pieces = simulate(syms, ranks)) {
      add(pieces[0], pieces[1], pieces.length === 2 ? id - 512 : nextFree());
    }
    if (merges[id - 512] === undefined) throw new Error(`golden token ${tok} is already formed by earlier merges`);
  }
  let k = 0;
  for (let r = 0; r < nMerges; r++) {
    if (merges[r] !== undefined) continue;
    merges[r] = [String.fromCodePoint(0x4e00 + k), String.fromCodePoint(0x9fa0 - (k % 32))];
    k++;
  }
  const base = byteVocabularyOrder();
  const full = merges as [string, string][];
  const tokens = [...base, ...base.map((t) => `${t}</w>`), ...full.map(([a, b]) => a + b), '<|startoftext|>', '<|endoftext|>'];
  return files(tokens, full);
}

/**
 * A tiny byte-level vocabulary: 512 byte symbols, `merges` (default: enough to make a few common
 * words single tokens), then `<|startoftext|>`, `<|endoftext|>`.
 */
export function smallClipVocab(words: string[] = ['a', 'photo', 'of', 'the', 'cat', 'dog', 'car', 'red', 'blue', 'square', 'circle']): VocabFiles {
  const merges: [string, string][] = [];
  const seen = new Set<string>();
  for (const w of words) {
    const syms = symbols(`${w}</w>`);
    let acc = syms[0];
    for (let i = 1; i < syms.length; i++) {
      const key = `${acc} ${syms[i]}`;
      if (!seen.has(key)) {
        seen.add(key);
        merges.push([acc, syms[i]]);
      }
      acc += syms[i];
    }
  }
  const base = byteVocabularyOrder();
  const tokens = [...base, ...base.map((t) => `${t}</w>`)];
  const have = new Set(tokens);
  for (const [a, b] of merges) if (!have.has(a + b)) {
    tokens.push(a + b);
    have.add(a + b);
  }
  tokens.push('<|startoftext|>', '<|endoftext|>');
  return files(tokens, merges);
}

/** The byte-mapped form of a UTF-8 string (what BPE sees). */
export function byteMapped(s: string): string {
  const m = bytesToUnicode();
  return Array.from(new TextEncoder().encode(s), (b) => m[b]).join('');
}
