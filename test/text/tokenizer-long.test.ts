/** Long and hostile texts (issue 13, item 5): truncated to the context as CLIP does, never a crash. */
import { ClipTokenizer, TokenizerError } from '../../src/text/tokenizer';
import { smallClipVocab } from '../helpers/clip-vocab';

const tok = (): ClipTokenizer => {
  const v = smallClipVocab();
  return ClipTokenizer.fromHuggingFace(v.vocabJson, v.mergesTxt);
};

describe('long texts', () => {
  const cases: [string, string][] = [
    ['one 130,000-letter word', 'a'.repeat(130_000)],
    ['130,000 one-letter words', 'a '.repeat(65_000)],
    ['130,000 punctuation marks', '!'.repeat(130_000)],
    ['a 130,000-digit number', '7'.repeat(130_000)],
    ['130,000 non-ASCII letters', 'é'.repeat(130_000)],
    ['mixed', 'a photo of the cat, '.repeat(7000)],
  ];
  it.each(cases)('%s: truncated to the context length, quickly', (_name, text) => {
    const t = tok();
    const t0 = Date.now();
    const ids = t.encode(text, 20);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(ids.length).toBe(20);
    expect(ids[0]).toBe(t.startId);
    expect(ids[19]).toBe(t.endId);
    expect(t.encodeBatch([text, 'a cat'], 77).length).toBe(154);
  });

  it('keeps the same ids as the full encoding for the tokens that fit', () => {
    const t = tok();
    const text = 'a photo of the red cat and the blue dog '.repeat(50);
    const full = [t.startId, ...t.encodeText(text)];
    expect([...t.encode(text, 77)].slice(0, 76)).toEqual(full.slice(0, 76));
  });

  it('without truncation: a clean TokenizerError, not a stack overflow', () => {
    expect(() => tok().encode('a'.repeat(130_000), 20, { truncate: false })).toThrow(TokenizerError);
    expect(() => tok().encode('a'.repeat(130_000), 20, { truncate: false })).toThrow(/longer than the context length 20/);
  });

  it('a vocabulary of 200,000 entries is read without a stack overflow', () => {
    const v = smallClipVocab();
    const vocab = JSON.parse(v.vocabJson) as Record<string, number>;
    let next = Math.max(...Object.values(vocab)) + 1;
    for (let i = 0; i < 200_000; i++) vocab[`extra${i}`] = next++;
    const t = ClipTokenizer.fromHuggingFace(JSON.stringify(vocab), v.mergesTxt);
    expect(t.vocabSize).toBe(next);
  });
});
