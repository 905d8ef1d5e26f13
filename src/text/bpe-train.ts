/**
 * Trains a byte-level BPE vocabulary in CLIP's layout from a corpus of texts, for a CLIP teacher
 * trained from scratch (`spikeclip pretrain --part clip --target teacher`), written as the
 * Hugging Face files `ClipTokenizer` reads (vocab.json, merges.txt, tokenizer_config.json,
 * special_tokens_map.json).
 *
 * Words are exactly the pieces `ClipTokenizer` sees: {@link cleanText} then {@link preTokenize}
 * (the special-token strings are skipped), each mapped byte by byte through `bytes_to_unicode`,
 * its last symbol marked with `</w>`. Training is Sennrich's BPE over the word counts: count the
 * adjacent symbol pairs (weighted by word frequency), merge the most frequent pair in every word
 * (all occurrences, left to right, as the tokenizer does), repeat until `maxMerges` merges are
 * learnt or no pair occurs `minFrequency` times. Ties go to the pair (a, b) that sorts first in
 * UTF-16 code-unit order, so the result depends only on the multiset of words, not on the order
 * of the texts.
 *
 * Ids: 0-255 the byte symbols in CLIP's order ({@link byteVocabularyOrder}), 256-511 the same
 * with `</w>`, then one id per merge in merge order, then `<|startoftext|>` and `<|endoftext|>`
 * (the two highest ids). A merge whose result is already a token (two different splits of the
 * same string, rare) gets no new id, as Hugging Face's trainer does. Every byte symbol is in the
 * vocabulary, so any text tokenises (unseen words into smaller pieces, down to bytes).
 */
import { byteVocabularyOrder, bytesToUnicode, cleanText, END_OF_TEXT, preTokenize, START_OF_TEXT, TokenizerError } from './tokenizer';

export interface BpeTrainOptions {
  /** At most this many merges (default 2000). */
  maxMerges?: number;
  /** A pair is merged only when it occurs at least this often, counting word frequency (default 2). */
  minFrequency?: number;
}

export const DEFAULT_BPE_MAX_MERGES = 2000;
export const DEFAULT_BPE_MIN_FREQUENCY = 2;

export interface TrainedBpe {
  /** token -> id, ids 0..vocabSize-1 without gaps. */
  vocab: Map<string, number>;
  /** Merge pairs in rank order (what merges.txt lists). */
  merges: [string, string][];
  startId: number;
  endId: number;
  vocabSize: number;
  /** Distinct words of the corpus and their total count. */
  words: { distinct: number; total: number };
}

interface Word {
  symbols: string[];
  count: number;
}

function pairKey(a: string, b: string): string {
  return `${a} ${b}`;
}

/** Lexicographic (a, b) order; byte-mapped symbols never contain a space, so the joined key sorts the same. */
function before(x: string, y: string): boolean {
  return x < y;
}

/** A max-heap of (count, pair) with lazy deletion: stale entries are skipped when popped. */
class PairHeap {
  private readonly items: { count: number; key: string }[] = [];

  private better(i: number, j: number): boolean {
    const a = this.items[i];
    const b = this.items[j];
    return a.count > b.count || (a.count === b.count && before(a.key, b.key));
  }

  private swap(i: number, j: number): void {
    const t = this.items[i];
    this.items[i] = this.items[j];
    this.items[j] = t;
  }

  push(count: number, key: string): void {
    this.items.push({ count, key });
    let i = this.items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { count: number; key: string } | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0];
    const last = this.items.pop() as { count: number; key: string };
    if (n > 1) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.better(l, m)) m = l;
        if (r < this.items.length && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** The words of a corpus as the tokenizer sees them (byte-mapped, `</w>` on the last symbol), with counts. */
export function corpusWords(texts: Iterable<string>): Map<string, number> {
  const byteEncoder = bytesToUnicode();
  const enc = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of preTokenize(cleanText(text))) {
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) continue;
      let mapped = '';
      for (const b of enc.encode(piece)) mapped += byteEncoder[b];
      counts.set(mapped, (counts.get(mapped) ?? 0) + 1);
    }
  }
  return counts;
}

function symbolsOf(mapped: string): string[] {
  const chars = Array.from(mapped);
  chars[chars.length - 1] += '</w>';
  return chars;
}

/** Merges every occurrence of (a, b) left to right, as ClipTokenizer.bpe does. */
function mergeWord(symbols: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; ) {
    if (i < symbols.length - 1 && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i += 2;
    } else {
      out.push(symbols[i]);
      i += 1;
    }
  }
  return out;
}

/** Learns the merges of a corpus; see the module comment. Deterministic. */
export function trainClipBpe(texts: Iterable<string>, opts: BpeTrainOptions = {}): TrainedBpe {
  const maxMerges = opts.maxMerges ?? DEFAULT_BPE_MAX_MERGES;
  const minFrequency = opts.minFrequency ?? DEFAULT_BPE_MIN_FREQUENCY;
  if (!Number.isInteger(maxMerges) || maxMerges < 1) throw new TokenizerError(`BPE: maxMerges must be a positive integer, got ${maxMerges}`);
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new TokenizerError(`BPE: minFrequency must be a positive integer, got ${minFrequency}`);

  const counts = corpusWords(texts);
  if (counts.size === 0) throw new TokenizerError('BPE: the corpus has no words to learn a vocabulary from');
  // Sorted so that nothing below depends on the order of the texts.
  const words: Word[] = [...counts.keys()].sort().map((w) => ({ symbols: symbolsOf(w), count: counts.get(w) as number }));
  let total = 0;
  for (const w of words) total += w.count;

  const pairCounts = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const pairParts = new Map<string, [string, string]>();
  const heap = new PairHeap();
  const addPairs = (wi: number, sign: 1 | -1, touched: Set<string>): void => {
    const { symbols, count } = words[wi];
    for (let i = 0; i < symbols.length - 1; i++) {
      const key = pairKey(symbols[i], symbols[i + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * count);
      if (sign > 0) {
        let s = pairWords.get(key);
        if (!s) {
          s = new Set();
          pairWords.set(key, s);
          pairParts.set(key, [symbols[i], symbols[i + 1]]);
        }
        s.add(wi);
      }
      touched.add(key);
    }
  };
  const initial = new Set<string>();
  words.forEach((_, wi) => addPairs(wi, 1, initial));
  for (const key of initial) heap.push(pairCounts.get(key) as number, key);

  const base = byteVocabularyOrder();
  const tokens = [...base, ...base.map((t) => `${t}</w>`)];
  const vocab = new Map(tokens.map((t, i) => [t, i]));
  const merges: [string, string][] = [];
  while (merges.length < maxMerges) {
    const top = heap.pop();
    if (top === undefined) break;
    const current = pairCounts.get(top.key) ?? 0;
    if (current !== top.count) continue; // stale entry; the current count has its own entry
    if (current < minFrequency) break;
    const [a, b] = pairParts.get(top.key) as [string, string];
    merges.push([a, b]);
    if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
    const touched = new Set<string>();
    const holders = [...(pairWords.get(top.key) as Set<number>)];
    for (const wi of holders) {
      addPairs(wi, -1, touched);
      words[wi].symbols = mergeWord(words[wi].symbols, a, b);
      addPairs(wi, 1, touched);
    }
    for (const key of touched) {
      const c = pairCounts.get(key) as number;
      if (c > 0) heap.push(c, key);
      else {
        pairCounts.delete(key);
        pairWords.delete(key);
      }
    }
  }
  if (merges.length === 0) {
    throw new TokenizerError(`BPE: no pair of symbols occurs ${minFrequency} times in the corpus, so there is nothing to learn (give more text, or a lower minimum frequency)`);
  }
  const startId = vocab.size;
  vocab.set(START_OF_TEXT, startId);
  const endId = vocab.size;
  vocab.set(END_OF_TEXT, endId);
  return { vocab, merges, startId, endId, vocabSize: vocab.size, words: { distinct: words.length, total } };
}

export interface ClipTokenizerFileOptions {
  /** `model_max_length` of tokenizer_config.json: the text tower's max_position_embeddings. */
  contextLength: number;
}

/**
 * The Hugging Face tokenizer files of a trained vocabulary, as a teacher checkpoint's tokenizer/
 * folder holds them: vocab.json (ids in order), merges.txt (`#version: 0.2` header),
 * tokenizer_config.json and special_tokens_map.json (as CLIPTokenizer writes them).
 */
export function clipTokenizerFiles(bpe: Pick<TrainedBpe, 'vocab' | 'merges'>, opts: ClipTokenizerFileOptions): Map<string, Uint8Array> {
  if (!Number.isInteger(opts.contextLength) || opts.contextLength < 2) throw new TokenizerError(`context length must be an integer >= 2, got ${opts.contextLength}`);
  const byId = [...bpe.vocab].sort((x, y) => x[1] - y[1]);
  // Written by hand: JSON.stringify would move integer-like keys ("0".."9") to the front.
  const vocabJson = `{${byId.map(([t, id]) => `${JSON.stringify(t)}:${id}`).join(',')}}`;
  const mergesTxt = `#version: 0.2\n${bpe.merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`;
  const special = { bos_token: START_OF_TEXT, eos_token: END_OF_TEXT, pad_token: END_OF_TEXT, unk_token: END_OF_TEXT };
  const tokenizerConfig = {
    ...special,
    add_prefix_space: false,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    errors: 'replace',
    model_max_length: opts.contextLength,
    tokenizer_class: 'CLIPTokenizer',
  };
  const enc = new TextEncoder();
  return new Map([
    ['vocab.json', enc.encode(vocabJson)],
    ['merges.txt', enc.encode(mergesTxt)],
    ['tokenizer_config.json', enc.encode(`${JSON.stringify(tokenizerConfig, null, 2)}\n`)],
    ['special_tokens_map.json', enc.encode(`${JSON.stringify(special, null, 2)}\n`)],
  ]);
}
