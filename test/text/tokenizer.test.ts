import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { htmlUnescape } from '../../src/text/html-unescape';
import {
  CLIP_END_ID,
  CLIP_START_ID,
  ClipTokenizer,
  TokenizerError,
  bytesToUnicode,
  cleanText,
  parseMerges,
  preTokenize,
} from '../../src/text/tokenizer';
import { CLIP_GOLDENS, byteMapped, goldenClipVocab, smallClipVocab } from '../helpers/clip-vocab';

describe('bytes_to_unicode', () => {
  it('maps the 256 bytes to distinct printable characters, as GPT-2/CLIP do', () => {
    const m = bytesToUnicode();
    expect(new Set(m).size).toBe(256);
    expect(m[0x21]).toBe('!');
    expect(m[0x41]).toBe('A');
    expect(m[0xe9]).toBe('é');
    expect(m[0x00]).toBe('\u0100');
    expect(m[0x20]).toBe('\u0120'); // the famous Ġ
    expect(m[0xad]).toBe('\u0143');
  });
});

describe('text cleaning (checked against Python html.unescape + re, NFC)', () => {
  // Expected values computed with CPython 3.11: html.unescape twice, strip, re.sub(r'\s+', ' '), strip, lower.
  const cases: [string, string][] = [
    ['  Hello\t\tWorld \n', 'hello world'],
    ['&amp;amp; &lt;b&gt;', '& <b>'],
    ['caf&eacute; &copy 2024 &#39;s &#x27;t', "café © 2024 's 't"],
    ['a&nbsp;b', 'a b'],
    ['&#0; &#128; &#x80; &#1114112; &#55296; &#1;x', '\ufffd \u20ac \u20ac \ufffd \ufffd x'],
    ['&notit; &notin; &amp &ampx &unknown; &', '\u00acit; \u2209 & &x &unknown; &'],
    ['cafe\u0301', 'caf\u00e9'],
    ['A\u001cB\u001fC\u0085D\ufeffE\u3000F', 'a b c d\ufeffe f'],
    ['\u0130stanbul \u1e9e', 'i\u0307stanbul \u00df'],
    ['&AMP; &QUOT; &Eacute;cole &hellip;&mdash;&trade;', '& " \u00e9cole \u2026\u2014\u2122'],
  ];
  it.each(cases)('%j -> %j', (input, expected) => {
    expect(cleanText(input)).toBe(expected);
  });

  it('html.unescape leaves text without entities alone', () => {
    expect(htmlUnescape('plain & simple')).toBe('plain & simple');
    expect(htmlUnescape('&#x1F600;')).toBe('😀');
  });
});

describe('pre-tokenisation (CLIP pattern)', () => {
  it.each([
    ["don't stop", ['don', "'t", 'stop']],
    ["we're i've you'll he'd i'm it's", ['we', "'re", 'i', "'ve", 'you', "'ll", 'he', "'d", 'i', "'m", 'it', "'s"]],
    ['2024', ['2', '0', '2', '4']],
    ['hello,world!!', ['hello', ',', 'world', '!!']],
    ['naïve 日本語 🙂🙂 x', ['naïve', '日本語', '🙂🙂', 'x']],
    ['<|startoftext|>a<|endoftext|>', ['<|startoftext|>', 'a', '<|endoftext|>']],
    ['snow-capped 3.14', ['snow', '-', 'capped', '3', '.', '1', '4']],
  ])('%j', (text, pieces) => {
    expect(preTokenize(cleanText(text))).toEqual(pieces);
  });
});

describe('BPE (hand-computed on small vocabularies)', () => {
  const tokenizerFor = (merges: [string, string][]): ClipTokenizer => ClipTokenizer.fromMerges(merges);

  it('applies merges by rank, not by position', () => {
    const a = tokenizerFor([['e', 'r</w>'], ['l', 'o'], ['lo', 'w'], ['low', 'er</w>']]);
    expect(a.tokenize('lower')).toEqual(['lower</w>']);
    const b = tokenizerFor([['o', 'w'], ['l', 'o'], ['e', 'r</w>']]);
    // 'o w' first: l ow e r</w> -> then 'l o' no longer applies; 'e r</w>' does
    expect(b.tokenize('lower')).toEqual(['l', 'ow', 'er</w>']);
    const c = tokenizerFor([['l', 'o'], ['o', 'w']]);
    expect(c.tokenize('lower')).toEqual(['lo', 'w', 'e', 'r</w>']);
  });

  it('merges every occurrence of the best pair left to right (simple_tokenizer.py)', () => {
    const t = tokenizerFor([['a', 'a']]);
    expect(t.tokenize('aaaa')).toEqual(['aa', 'a', 'a</w>']);
    expect(t.tokenize('aaaaa')).toEqual(['aa', 'aa', 'a</w>']);
    const u = tokenizerFor([['a', 'a'], ['aa', 'aa']]);
    expect(u.tokenize('aaaaaaaaa')).toEqual(['aaaa', 'aaaa', 'a</w>']);
  });

  it('marks the end of each pre-token with </w> and maps bytes (single characters and multibyte UTF-8)', () => {
    const t = tokenizerFor([]);
    expect(t.tokenize('ab c')).toEqual(['a', 'b</w>', 'c</w>']);
    expect(t.tokenize('é')).toEqual(['Ã', '©</w>']);
    expect(t.tokenize('é').join('')).toBe(`${byteMapped('é')}</w>`);
  });

  it('the vocabulary built from merges has CLIP\'s layout', () => {
    const t = tokenizerFor([['h', 'i</w>']]);
    expect(t.encoder.get('!')).toBe(0);
    expect(t.encoder.get('!</w>')).toBe(256);
    expect(t.encoder.get('hi</w>')).toBe(512);
    expect(t.startId).toBe(513);
    expect(t.endId).toBe(514);
    expect(Array.from(t.encode('hi!', 6))).toEqual([513, 512, 256, 514, 514, 514]);
  });
});

describe('CLIP goldens (real ids from public sources, full-size vocabulary with CLIP\'s layout)', () => {
  const v = goldenClipVocab();
  const tok = ClipTokenizer.fromHuggingFace(v.vocabJson, v.mergesTxt, 'golden');

  it('has 49,408 tokens, start 49406, end 49407', () => {
    expect(tok.vocabSize).toBe(49408);
    expect(tok.startId).toBe(CLIP_START_ID);
    expect(tok.endId).toBe(CLIP_END_ID);
  });

  it.each(CLIP_GOLDENS)('%j', (text, ids) => {
    const out = tok.encode(text, 77);
    expect(out).toBeInstanceOf(Int32Array);
    expect(out.length).toBe(77);
    expect(Array.from(out.subarray(0, ids.length))).toEqual(ids);
    expect(Array.from(out.subarray(ids.length)).every((x) => x === CLIP_END_ID)).toBe(true);
    const zeroPadded = tok.encode(text, 77, { padId: 0 });
    expect(Array.from(zeroPadded.subarray(ids.length)).every((x) => x === 0)).toBe(true);
  });

  it('truncates over-long prompts and always keeps the end token (77 for the teacher, 20 for the student)', () => {
    const long = 'a photo of a cat '.repeat(40);
    const t77 = tok.encode(long, 77);
    expect(t77[0]).toBe(CLIP_START_ID);
    expect(t77[76]).toBe(CLIP_END_ID);
    expect(Array.from(t77.subarray(1, 76)).includes(CLIP_END_ID)).toBe(false);
    const t20 = tok.encode(long, 20);
    expect(Array.from(t20)).toEqual([49406, 320, 1125, 539, 320, 2368, 320, 1125, 539, 320, 2368, 320, 1125, 539, 320, 2368, 320, 1125, 539, 49407]);
    // exactly fitting: no truncation
    const fit = tok.encode('a photo of a cat', 7);
    expect(Array.from(fit)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(() => tok.encode(long, 20, { truncate: false })).toThrow(TokenizerError);
    expect(() => tok.encode('x', 1)).toThrow(/context length must be an integer >= 2/);
  });

  it('typed special tokens map to their ids; decode inverts encode', () => {
    expect(Array.from(tok.encode('<|endoftext|>', 4))).toEqual([49406, 49407, 49407, 49407]);
    const ids = tok.encode('a photo of a cat', 7);
    expect(tok.decode(ids)).toBe('<|startoftext|>a photo of a cat <|endoftext|>');
    expect(tok.decode(tok.encode("it's a beautiful day, isn't it?", 12))).toBe("<|startoftext|>it 's a beautiful day , isn 't it ? <|endoftext|>");
  });

  it('encodeBatch is row-major', () => {
    const b = tok.encodeBatch(['a', 'hello world'], 5);
    expect(Array.from(b)).toEqual([49406, 320, 49407, 49407, 49407, 49406, 3306, 1002, 49407, 49407]);
  });
});

describe('loading tokenizer files', () => {
  it('from a directory with vocab.json + merges.txt, and from OpenAI\'s bpe_simple_vocab_16e6.txt.gz', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
    const v = smallClipVocab();
    fs.writeFileSync(path.join(dir, 'vocab.json'), v.vocabJson);
    fs.writeFileSync(path.join(dir, 'merges.txt'), v.mergesTxt);
    const a = ClipTokenizer.fromDir(dir);
    expect(a.tokenize('a photo of the cat')).toEqual(['a</w>', 'photo</w>', 'of</w>', 'the</w>', 'cat</w>']);
    // OpenAI's file: a header line, then the merges; the vocabulary is built from them (same ids here).
    const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
    fs.writeFileSync(path.join(dir2, 'bpe_simple_vocab_16e6.txt.gz'), zlib.gzipSync(`"bpe_simple_vocab_16e6.txt#version: 0.2\n${v.merges.map((m) => m.join(' ')).join('\n')}\n`));
    const b = ClipTokenizer.fromDir(dir2);
    expect(Array.from(b.encode('a photo of the cat', 8))).toEqual(Array.from(a.encode('a photo of the cat', 8)));
  });

  it('bad files are TokenizerErrors naming the file', () => {
    const v = smallClipVocab();
    expect(() => ClipTokenizer.fromHuggingFace('{nope', v.mergesTxt, 'x')).toThrow(/x vocab\.json: invalid JSON/);
    expect(() => ClipTokenizer.fromHuggingFace('{"a": 0}', v.mergesTxt, 'x')).toThrow(/no <\|startoftext\|> token/);
    expect(() => ClipTokenizer.fromHuggingFace('{"a": -1}', v.mergesTxt, 'x')).toThrow(/must be a non-negative integer/);
    expect(() => ClipTokenizer.fromHuggingFace('{"a": 1, "b": 1}', v.mergesTxt, 'x')).toThrow(/id 1 is used twice/);
    expect(() => parseMerges('#version: 0.2\na b\nbad line here\n', 'm.txt')).toThrow('m.txt:3: expected a merge "a b", got "bad line here"');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
    fs.writeFileSync(path.join(dir, 'vocab.json'), v.vocabJson);
    expect(() => ClipTokenizer.fromDir(dir)).toThrow(/no CLIP tokenizer files \(missing merges\.txt/);
    // a token missing from an incomplete vocabulary
    const tok = new ClipTokenizer(new Map([['<|startoftext|>', 0], ['<|endoftext|>', 1]]), []);
    expect(() => tok.encode('q', 4)).toThrow(/token "q<\/w>" of "q" is not in the vocabulary/);
  });
});
