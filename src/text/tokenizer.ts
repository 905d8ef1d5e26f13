/**
 * CLIP's byte-level BPE tokenizer (openai/CLIP `simple_tokenizer.py`; Hugging Face
 * `CLIPTokenizer`), from a Hugging Face `vocab.json` + `merges.txt` or from OpenAI's
 * `bpe_simple_vocab_16e6.txt.gz`.
 *
 * Text cleaning, in order: NFC normalisation (what ftfy's `fix_text` does by default; ftfy's
 * mojibake repair is not reproduced), Python's `html.unescape` twice, strip, every run of
 * whitespace to one space, lower case. Pre-tokenisation with CLIP's pattern
 * `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
 * (digits one by one, letters in runs, punctuation in runs), each piece mapped byte by byte
 * through `bytes_to_unicode`, its last symbol marked with `</w>`, then merged by BPE rank.
 * Whitespace means Python's `str.isspace` set, so the results match Python's `re`.
 *
 * `encode(text, contextLength)` returns `<|startoftext|> ... <|endoftext|>` padded to
 * `contextLength` with `padId` (default: the end token, as Hugging Face pads CLIP and as the
 * SpikeCLIP text encoder expects; OpenAI's `clip.tokenize` pads with 0). Longer texts are
 * truncated and the last position is always the end token.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { BadInputError } from '../errors';
import { htmlUnescape } from './html-unescape';
import { MAX_SETTINGS_FILE_BYTES, readFileBoundedSync, readSettingsTextSync } from '../io/bounded-read';

export class TokenizerError extends BadInputError {
  constructor(message: string) {
    super(message, 'E_TOKENIZER');
    this.name = 'TokenizerError';
  }
}

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** Ids of the special tokens in CLIP's 49,408-token vocabulary. */
export const CLIP_START_ID = 49406;
export const CLIP_END_ID = 49407;
export const CLIP_VOCAB_SIZE = 49408;
/** The teacher's context length. */
export const CLIP_CONTEXT_LENGTH = 77;

/**
 * GPT-2/CLIP `bytes_to_unicode`: byte value -> a printable character. The 188 printable
 * Latin-1 bytes map to themselves (in byte order), the other 68 to U+0100 onwards.
 */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

/** The order of `bytes_to_unicode().values()` as Python iterates it: the base vocabulary. */
export function byteVocabularyOrder(): string[] {
  const m = bytesToUnicode();
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  return order.map((b) => m[b]);
}

/** Python's whitespace (`str.isspace`), as a character class body. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'g');
const EDGE_SPACE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const CLIP_PATTERN = new RegExp(`<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${PY_SPACE}\\p{L}\\p{N}]+`, 'giu');

/** CLIP's text cleaning: NFC, html.unescape twice, whitespace clean-up, lower case. */
export function cleanText(text: string): string {
  let t = text.normalize('NFC');
  t = htmlUnescape(htmlUnescape(t)).replace(EDGE_SPACE, '');
  t = t.replace(WHITESPACE_RUN, ' ').replace(EDGE_SPACE, '');
  return t.toLowerCase();
}

/** CLIP's pre-tokenisation of cleaned text. */
export function preTokenize(cleaned: string): string[] {
  return cleaned.match(CLIP_PATTERN) ?? [];
}

export interface EncodeOptions {
  /** Id used after the end token (default: the end token id). */
  padId?: number;
  /** Truncate texts that do not fit (default true); with false, a TokenizerError. */
  truncate?: boolean;
}

const MAX_CACHE = 50_000;

export class ClipTokenizer {
  readonly encoder: ReadonlyMap<string, number>;
  readonly decoder: ReadonlyMap<number, string>;
  readonly startId: number;
  readonly endId: number;
  readonly vocabSize: number;
  private readonly ranks: Map<string, number>;
  private readonly byteEncoder = bytesToUnicode();
  private readonly byteDecoder: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  private readonly textEncoder = new TextEncoder();

  /**
   * @param vocab token -> id (the content of vocab.json)
   * @param merges merge pairs in rank order, e.g. [['i', 'n'], ['t', 'h'], ...]
   */
  constructor(vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[]) {
    this.encoder = vocab;
    const dec = new Map<number, string>();
    for (const [t, id] of vocab) dec.set(id, t);
    this.decoder = dec;
    const start = vocab.get(START_OF_TEXT);
    const end = vocab.get(END_OF_TEXT);
    if (start === undefined || end === undefined) {
      throw new TokenizerError(`the vocabulary has no ${start === undefined ? START_OF_TEXT : END_OF_TEXT} token (is this a CLIP vocab.json?)`);
    }
    this.startId = start;
    this.endId = end;
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.ranks = new Map();
    merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    this.byteDecoder = new Map(this.byteEncoder.map((c, b) => [c, b]));
  }

  /** From the text of a Hugging Face vocab.json and merges.txt. */
  static fromHuggingFace(vocabJson: string, mergesTxt: string, source = 'tokenizer'): ClipTokenizer {
    return new ClipTokenizer(parseVocabJson(vocabJson, `${source} vocab.json`), parseMerges(mergesTxt, `${source} merges.txt`));
  }

  /** From a directory (or checkpoint tokenizer/ folder) holding vocab.json and merges.txt, or bpe_simple_vocab_16e6.txt.gz. */
  static fromDir(dir: string): ClipTokenizer {
    const vocab = path.join(dir, 'vocab.json');
    const merges = path.join(dir, 'merges.txt');
    if (fs.existsSync(vocab) && fs.existsSync(merges)) {
      const read = (f: string): string => readSettingsTextSync(f, (m) => new TokenizerError(m));
      return new ClipTokenizer(parseVocabJson(read(vocab), vocab), parseMerges(read(merges), merges));
    }
    const bpe = path.join(dir, 'bpe_simple_vocab_16e6.txt.gz');
    if (fs.existsSync(bpe)) return ClipTokenizer.fromOpenAiBpe(readFileBoundedSync(bpe, MAX_SETTINGS_FILE_BYTES, (m) => new TokenizerError(m)), bpe);
    const missing = [vocab, merges].filter((f) => !fs.existsSync(f)).map((f) => path.basename(f));
    throw new TokenizerError(`${dir}: no CLIP tokenizer files (missing ${missing.join(' and ')}; or put OpenAI's bpe_simple_vocab_16e6.txt.gz there)`);
  }

  /** From OpenAI's `bpe_simple_vocab_16e6.txt.gz`, building the vocabulary as simple_tokenizer.py does. */
  static fromOpenAiBpe(gz: Uint8Array, source = 'bpe_simple_vocab_16e6.txt.gz'): ClipTokenizer {
    let text: string;
    try {
      text = zlib.gunzipSync(gz).toString('utf8');
    } catch (err) {
      throw new TokenizerError(`${source}: not a gzip file (${(err as Error).message})`);
    }
    // As simple_tokenizer.py: skip the header line, keep the first 48,894 merges (the file has more).
    const lines = text.split('\n').slice(1, 49152 - 256 - 2 + 1).filter((l) => l !== '');
    const merges = lines.map((l, i) => splitMerge(l, i + 2, source));
    return ClipTokenizer.fromMerges(merges);
  }

  /** The vocabulary simple_tokenizer.py builds from merges: bytes, bytes+'</w>', merges, specials. */
  static fromMerges(merges: readonly (readonly [string, string])[]): ClipTokenizer {
    const base = byteVocabularyOrder();
    const tokens = [...base, ...base.map((t) => `${t}</w>`), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
    return new ClipTokenizer(new Map(tokens.map((t, i) => [t, i])), merges);
  }

  /** BPE of one pre-token (already byte-mapped). */
  bpe(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit !== undefined) return hit;
    if (token === START_OF_TEXT || token === END_OF_TEXT) return [token];
    const chars = Array.from(token);
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best];
      const second = word[best + 1];
      // Merge every occurrence of the pair, left to right (as simple_tokenizer.py does).
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]);
          i += 1;
        }
      }
      word = next;
    }
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }

  /**
   * The BPE tokens of a text (no start/end tokens). With `limit`, stops once more than `limit`
   * tokens are known (so a 100,000-character text costs no more than a short one): the first
   * `limit` tokens are those of the whole text, except that a single word longer than
   * 32 * (limit + 1) bytes is cut there before BPE (CLIP's tokens are far shorter).
   */
  tokenize(text: string, limit = Infinity): string[] {
    const out: string[] = [];
    const maxPiece = Number.isFinite(limit) ? 32 * (limit + 1) : Infinity;
    for (const m of cleanText(text).matchAll(CLIP_PATTERN)) {
      if (out.length > limit) break;
      const piece = m[0];
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) {
        out.push(piece);
        continue;
      }
      let mapped = '';
      for (const b of this.textEncoder.encode(piece.length > maxPiece ? piece.slice(0, maxPiece) : piece)) {
        if (mapped.length >= maxPiece) break;
        mapped += this.byteEncoder[b];
      }
      for (const t of this.bpe(mapped)) out.push(t);
    }
    return out;
  }

  /** Token ids of a text without start/end tokens (OpenAI's `SimpleTokenizer.encode`); with `limit`, see {@link tokenize}. */
  encodeText(text: string, limit = Infinity): number[] {
    return this.tokenize(text, limit).map((t) => {
      const id = this.encoder.get(t);
      if (id === undefined) throw new TokenizerError(`token ${JSON.stringify(t)} of ${JSON.stringify(text)} is not in the vocabulary (incomplete vocab.json?)`);
      return id;
    });
  }

  /** `[start, ...ids, end, pad, ...]` of exactly `contextLength` ids; truncation keeps the end token. */
  encode(text: string, contextLength = CLIP_CONTEXT_LENGTH, opts: EncodeOptions = {}): Int32Array {
    if (!Number.isInteger(contextLength) || contextLength < 2) throw new TokenizerError(`context length must be an integer >= 2, got ${contextLength}`);
    const padId = opts.padId ?? this.endId;
    // Only the tokens that can fit are computed (a huge text is truncated, not tokenized whole).
    const ids = [this.startId, ...this.encodeText(text, contextLength - 2), this.endId];
    if (ids.length > contextLength) {
      if (opts.truncate === false) {
        throw new TokenizerError(`${JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text)} is more than ${contextLength - 2} tokens plus start and end, longer than the context length ${contextLength}`);
      }
      ids.length = contextLength;
      ids[contextLength - 1] = this.endId;
    }
    const out = new Int32Array(contextLength).fill(padId);
    out.set(ids);
    return out;
  }

  /** Row-major [texts.length, contextLength] ids. */
  encodeBatch(texts: readonly string[], contextLength = CLIP_CONTEXT_LENGTH, opts: EncodeOptions = {}): Int32Array {
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((t, i) => out.set(this.encode(t, contextLength, opts), i * contextLength));
    return out;
  }

  /** Text of ids (special tokens kept, `</w>` as a space), as simple_tokenizer.py decodes. */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const t = this.decoder.get(ids[i]);
      if (t === undefined) throw new TokenizerError(`id ${ids[i]} is not in the vocabulary`);
      s += t;
    }
    const bytes: number[] = [];
    for (const ch of Array.from(s)) {
      const b = this.byteDecoder.get(ch);
      if (b === undefined) bytes.push(...this.textEncoder.encode(ch));
      else bytes.push(b);
    }
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes)).split('</w>').join(' ');
  }
}

function splitMerge(line: string, lineNo: number, source: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new TokenizerError(`${source}:${lineNo}: expected a merge "a b", got ${JSON.stringify(line.slice(0, 40))}`);
  }
  return [parts[0], parts[1]];
}

/** merges.txt: an optional "#version" line, then one "a b" pair per line. */
export function parseMerges(text: string, source = 'merges.txt'): [string, string][] {
  const lines = text.split(/\r?\n/);
  const out: [string, string][] = [];
  lines.forEach((line, i) => {
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    out.push(splitMerge(line, i + 1, source));
  });
  if (out.length === 0) throw new TokenizerError(`${source}: no merges`);
  return out;
}

/** vocab.json: an object of token -> non-negative integer id, ids unique. */
export function parseVocabJson(text: string, source = 'vocab.json'): Map<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(`${source}: invalid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TokenizerError(`${source}: expected a JSON object of token -> id`);
  const m = new Map<string, number>();
  const seen = new Set<number>();
  for (const [t, id] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new TokenizerError(`${source}: id of ${JSON.stringify(t)} must be a non-negative integer`);
    if (seen.has(id)) throw new TokenizerError(`${source}: id ${id} is used twice`);
    seen.add(id);
    m.set(t, id);
  }
  return m;
}
