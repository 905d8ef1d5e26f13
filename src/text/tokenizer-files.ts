/**
 * A CLIP tokenizer from the files a checkpoint keeps under tokenizer/ (Hugging Face's vocab.json
 * and merges.txt): the one place that turns those bytes into a ClipTokenizer and hashes them.
 */
import { createHash } from 'crypto';
import { ClipTokenizer, TokenizerError } from './tokenizer';

export const TOKENIZER_REQUIRED_FILES = ['vocab.json', 'merges.txt'] as const;

export function hasTokenizerFiles(files: ReadonlyMap<string, Uint8Array> | undefined): files is ReadonlyMap<string, Uint8Array> {
  return files !== undefined && TOKENIZER_REQUIRED_FILES.every((f) => files.has(f));
}

/** Builds the tokenizer; `where` names the folder in errors. */
export function tokenizerFromFiles(files: ReadonlyMap<string, Uint8Array> | undefined, where: string): ClipTokenizer {
  if (!hasTokenizerFiles(files)) throw new TokenizerError(`${where}: the tokenizer needs vocab.json and merges.txt`);
  const dec = new TextDecoder();
  return ClipTokenizer.fromHuggingFace(dec.decode(files.get('vocab.json')), dec.decode(files.get('merges.txt')), where);
}

/** sha256 over vocab.json and merges.txt (names, lengths and bytes): identifies a tokenizer in cache keys. */
export function tokenizerFilesHash(files: ReadonlyMap<string, Uint8Array>): string {
  const h = createHash('sha256');
  for (const n of TOKENIZER_REQUIRED_FILES) {
    const f = files.get(n);
    h.update(`${n}\0${f?.length ?? -1}\0`);
    if (f) h.update(f);
  }
  return h.digest('hex');
}
