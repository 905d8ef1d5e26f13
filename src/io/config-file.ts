/**
 * Reading user config files (`--config run.yaml`): JSON (.json) or YAML (.yaml/.yml). The
 * top level must be an object; parse errors become one-line messages with the line number.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseDocument } from 'yaml';
import { BadInputError } from '../errors';
import { readSettingsTextSync } from './bounded-read';

export type ConfigFileFormat = 'json' | 'yaml';

/** A config file that is missing, unreadable, malformed or not an object at the top level. */
export class ConfigFileError extends BadInputError {
  readonly path: string;
  /** 1-based line of a parse error, when the parser reports one. */
  readonly line?: number;
  /** 1-based column of a parse error, when the parser reports one. */
  readonly column?: number;

  constructor(filePath: string, message: string, pos?: { line: number; column: number }) {
    super(message, 'E_CONFIG_FILE');
    this.name = 'ConfigFileError';
    this.path = filePath;
    if (pos !== undefined) {
      this.line = pos.line;
      this.column = pos.column;
    }
  }
}

/** The format implied by a file name, or undefined for an unsupported extension. */
export function configFormatOf(filePath: string): ConfigFileFormat | undefined {
  const ext = path.extname(filePath).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return undefined;
}

function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const clamped = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < clamped; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: clamped - lineStart + 1 };
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (empty document)';
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v}`;
}

function requireObject(value: unknown, source: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigFileError(source, `${source}: the top level must be an object of settings, got ${kindOf(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Offset of the first syntax error in `text` according to RFC 8259, or undefined if none is
 * found. Used when the engine's JSON.parse message carries no position.
 */
export function findJsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const str = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) {
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail();
          }
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i++;
        } else {
          fail();
        }
      } else {
        i++;
      }
    }
  };
  const num = (): void => {
    const re = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    re.lastIndex = i;
    const m = re.exec(text);
    if (m === null || m[0].length === 0 || m[0] === '-') fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '"') {
      str();
    } else if (c === 't') {
      literal('true');
    } else if (c === 'f') {
      literal('false');
    } else if (c === 'n') {
      literal('null');
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      num();
    } else {
      fail();
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (e) {
    return typeof e === 'number' ? e : undefined;
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const m = /\bat position (\d+)/.exec(raw);
    const offset = m ? Number(m[1]) : findJsonErrorOffset(text);
    // Keep the parser's wording but drop its position suffix and the echoed source snippet.
    let reason = raw
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/\s*in JSON at position \d+/, '')
      .replace(/,\s*".*" is not valid JSON$/s, '')
      .split('\n')[0];
    if (reason.length === 0) reason = 'syntax error';
    if (offset === undefined) throw new ConfigFileError(source, `${source}: invalid JSON: ${reason}`);
    const pos = lineColumnAt(text, offset);
    throw new ConfigFileError(source, `${source}: invalid JSON at line ${pos.line}, column ${pos.column}: ${reason}`, pos);
  }
}

function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const reason = e.message.split('\n')[0].replace(/\s*at line \d+, column \d+:?\s*$/, '');
    const lp = e.linePos?.[0];
    if (lp === undefined) throw new ConfigFileError(source, `${source}: invalid YAML: ${reason}`);
    const pos = { line: lp.line, column: lp.col };
    throw new ConfigFileError(source, `${source}: invalid YAML at line ${pos.line}, column ${pos.column}: ${reason}`, pos);
  }
  try {
    return doc.toJS();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new ConfigFileError(source, `${source}: invalid YAML: ${msg.split('\n')[0]}`);
  }
}

/** Parse config text in the given format; `source` names it in error messages. */
export function parseConfigText(text: string, format: ConfigFileFormat, source: string): Record<string, unknown> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const value = format === 'json' ? parseJson(body, source) : parseYaml(body, source);
  return requireObject(value, source);
}

/** Read a .json, .yaml or .yml config file whose top level is an object. */
export function readConfigFile(filePath: string): Record<string, unknown> {
  const format = configFormatOf(filePath);
  if (format === undefined) {
    const ext = path.extname(filePath) || '(none)';
    throw new ConfigFileError(filePath, `${filePath}: unsupported config file extension ${ext} (expected .json, .yaml or .yml)`);
  }
  let text: string;
  try {
    text = readSettingsTextSync(filePath, (m) => new ConfigFileError(filePath, m));
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigFileError(filePath, `config file not found: ${filePath}`);
    if (code === 'EISDIR') throw new ConfigFileError(filePath, `${filePath}: is a directory, not a config file`);
    const msg = err instanceof Error ? err.message : String(err);
    throw new ConfigFileError(filePath, `cannot read config file ${filePath}: ${msg}`);
  }
  return parseConfigText(text, format, filePath);
}
