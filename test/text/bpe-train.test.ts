import { DEFAULT_BPE_MAX_MERGES, clipTokenizerFiles, corpusWords, trainClipBpe } from '../../src/text/bpe-train';
import { ClipTokenizer, TokenizerError, byteVocabularyOrder, cleanText, preTokenize } from '../../src/text/tokenizer';
import { byteMapped } from '../helpers/clip-vocab';

const COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'];
const KINDS = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross'];
const CORPUS = COLOURS.flatMap((c) => KINDS.flatMap((k) => [`a photo of a ${c} ${k}.`, `A ${c.toUpperCase()} ${k}, drawn!`, `it's a ${k} (${c}) 42`]));

function loaded(texts: string[], opts = {}): { tok: ClipTokenizer; files: Map<string, Uint8Array> } {
  const bpe = trainClipBpe(texts, opts);
  const files = clipTokenizerFiles(bpe, { contextLength: 20 });
  const dec = new TextDecoder();
  return { tok: ClipTokenizer.fromHuggingFace(dec.decode(files.get('vocab.json')), dec.decode(files.get('merges.txt'))), files };
}

describe('trainClipBpe', () => {
  it('writes Hugging Face files that ClipTokenizer.fromHuggingFace loads, in CLIP\'s id layout', () => {
    const bpe = trainClipBpe(CORPUS);
    const { tok, files } = loaded(CORPUS);
    const dec = new TextDecoder();
    const mergesTxt = dec.decode(files.get('merges.txt'));
    expect(mergesTxt.startsWith('#version: 0.2\n')).toBe(true);
    expect(mergesTxt.split('\n').length).toBe(bpe.merges.length + 2);
    const base = byteVocabularyOrder();
    base.forEach((t, i) => {
      expect(tok.encoder.get(t)).toBe(i);
      expect(tok.encoder.get(`${t}</w>`)).toBe(256 + i);
    });
    bpe.merges.forEach(([a, b], k) => expect(tok.encoder.get(a + b)).toBe(512 + k));
    expect(tok.startId).toBe(512 + bpe.merges.length);
    expect(tok.endId).toBe(tok.startId + 1);
    expect(tok.vocabSize).toBe(bpe.vocabSize);
    expect(bpe.startId).toBe(tok.startId);
    expect(bpe.endId).toBe(tok.endId);
    // vocab.json is written in id order (JSON.stringify would have put "0".."9" first)
    const keys = Object.keys(JSON.parse(dec.decode(files.get('vocab.json'))) as Record<string, number>);
    expect(keys.length).toBe(bpe.vocabSize);
    expect(dec.decode(files.get('vocab.json')).startsWith('{"!":0,"\\"":1,')).toBe(true);
    const config = JSON.parse(dec.decode(files.get('tokenizer_config.json'))) as Record<string, unknown>;
    expect(config).toMatchObject({ model_max_length: 20, tokenizer_class: 'CLIPTokenizer', eos_token: '<|endoftext|>', bos_token: '<|startoftext|>' });
    expect(JSON.parse(dec.decode(files.get('special_tokens_map.json')))).toEqual({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
  });

  it('makes every word of the corpus one token (words seen at least twice, merges to spare)', () => {
    const { tok } = loaded(CORPUS);
    const words = new Set(CORPUS.flatMap((t) => preTokenize(cleanText(t))));
    expect(words.size).toBeGreaterThan(15);
    for (const w of words) expect(tok.tokenize(w)).toEqual([`${byteMapped(w)}</w>`]);
    const ids = tok.encode('A photo of a purple hexagon.', 20);
    expect(Array.from(ids.subarray(0, 8))).toEqual([tok.startId, ...['a', 'photo', 'of', 'a', 'purple', 'hexagon', '.'].map((w) => tok.encoder.get(`${w}</w>`)), tok.endId].slice(0, 8));
    expect(tok.decode(tok.encodeText('a photo of a purple hexagon.'))).toBe('a photo of a purple hexagon . ');
  });

  it('tokenises unseen words into smaller pieces, down to bytes, and decodes them back', () => {
    const { tok } = loaded(CORPUS);
    for (const text of ['zebra', 'Überraschung 🦓', 'xyzzy qwv', '\u0000\u0001']) {
      const ids = tok.encodeText(text);
      expect(ids.length).toBeGreaterThan(0);
      expect(tok.decode(ids).trim()).toBe(cleanText(text).normalize('NFC'));
    }
    // a word made of letters no merge involves stays one byte symbol per byte
    expect(tok.tokenize('qqq')).toEqual(['q', 'q', 'q</w>']);
  });

  it('is deterministic and does not depend on the order of the texts', () => {
    const a = trainClipBpe(CORPUS);
    const b = trainClipBpe([...CORPUS].reverse());
    expect(b.merges).toEqual(a.merges);
    expect([...b.vocab]).toEqual([...a.vocab]);
    const fa = clipTokenizerFiles(a, { contextLength: 20 });
    const fb = clipTokenizerFiles(b, { contextLength: 20 });
    for (const [name, bytes] of fa) expect(Buffer.from(fb.get(name) as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
  });

  it('merges the most frequent pair first, ties by (a, b) order, and stops at minFrequency', () => {
    // "ab" x5, "cd" x3, "ef" x1: pairs (a, b</w>) 5, (c, d</w>) 3, (e, f</w>) 1 (< 2: never merged)
    const bpe = trainClipBpe(['ab ab ab ab ab cd cd cd ef']);
    expect(bpe.merges).toEqual([['a', 'b</w>'], ['c', 'd</w>']]);
    // ties: "yx" and "xy" twice each -> (x, y</w>) before (y, x</w>)
    expect(trainClipBpe(['yx xy yx xy']).merges).toEqual([['x', 'y</w>'], ['y', 'x</w>']]);
    expect(trainClipBpe(['ab ab ab ab ab cd cd cd'], { maxMerges: 1 }).merges).toEqual([['a', 'b</w>']]);
    expect(trainClipBpe(['ab ab ab ab ab cd cd cd ef'], { minFrequency: 1 }).merges).toHaveLength(3);
    // repeated symbols (overlapping pairs, merged left to right as the tokenizer does) still end as one token
    const { tok } = loaded(['aaaa aaaa']);
    expect(tok.tokenize('aaaa')).toEqual(['aaaa</w>']);
  });

  it('agrees with the tokenizer: each corpus word segments as training left it (random corpus)', () => {
    let s = 12345;
    const rnd = (n: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const letters = 'abcdeé';
    const vocabWords = Array.from({ length: 60 }, () => Array.from({ length: 1 + rnd(7) }, () => letters[rnd(letters.length)]).join(''));
    const texts = Array.from({ length: 200 }, () => Array.from({ length: 6 }, () => vocabWords[rnd(vocabWords.length)]).join(' '));
    for (const maxMerges of [5, 40, 400]) {
      const bpe = trainClipBpe(texts, { maxMerges });
      const { tok } = loaded(texts, { maxMerges });
      // training's final segmentation, replayed: apply the merges in order to each word
      for (const w of corpusWords(texts).keys()) {
        let syms = Array.from(w);
        syms[syms.length - 1] += '</w>';
        for (const [a, b] of bpe.merges) {
          const next: string[] = [];
          for (let i = 0; i < syms.length; ) {
            if (i < syms.length - 1 && syms[i] === a && syms[i + 1] === b) {
              next.push(a + b);
              i += 2;
            } else next.push(syms[i++]);
          }
          syms = next;
        }
        expect(tok.bpe(w)).toEqual(syms);
      }
    }
  });

  it('skips special-token strings in the corpus and refuses empty corpora and bad options', () => {
    const words = corpusWords(['<|startoftext|>hello hello<|endoftext|>']);
    expect([...words]).toEqual([[byteMapped('hello'), 2]]);
    expect(() => trainClipBpe([])).toThrow(TokenizerError);
    expect(() => trainClipBpe(['  ', '<|endoftext|>'])).toThrow(/no words/);
    expect(() => trainClipBpe(['one two three'])).toThrow(/no pair of symbols occurs 2 times/);
    expect(() => trainClipBpe(CORPUS, { maxMerges: 0 })).toThrow(/maxMerges/);
    expect(() => trainClipBpe(CORPUS, { minFrequency: 0.5 })).toThrow(/minFrequency/);
    expect(() => clipTokenizerFiles(trainClipBpe(CORPUS), { contextLength: 1 })).toThrow(/context length/);
    expect(DEFAULT_BPE_MAX_MERGES).toBe(2000);
  });

  it('trains 2000 merges on a caption-sized corpus quickly', () => {
    let s = 7;
    const rnd = (n: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const lexicon = Array.from({ length: 5000 }, () => Array.from({ length: 3 + rnd(8) }, () => letters[rnd(26)]).join(''));
    const texts = Array.from({ length: 20000 }, () => Array.from({ length: 8 }, () => lexicon[rnd(lexicon.length) % (1 + rnd(lexicon.length))]).join(' '));
    const t0 = Date.now();
    const bpe = trainClipBpe(texts);
    const ms = Date.now() - t0;
    expect(bpe.merges).toHaveLength(2000);
    expect(ms).toBeLessThan(10000);
  });
});
