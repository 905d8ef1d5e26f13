/**
 * --config FILE: a JSON or YAML object whose keys are the command's flag names (kebab-case, or
 * camelCase). Flags given on the command line override the file; unknown keys and wrong types are
 * errors that name the key and the file.
 */
import { deprecationMessage, flagOfAlias } from './deprecated-flags';
import { EXIT, UserError } from '../errors';

/** What we need to know about one oclif flag definition. */
export interface FlagSpec {
  type: 'boolean' | 'option';
  multiple?: boolean;
  options?: readonly string[];
  /** oclif's parse function for option flags (validates integers, ranges, ...). */
  parse?: (input: string, ctx: unknown, opts: unknown) => Promise<unknown>;
  /** Other names of the flag (a key may use them too). */
  aliases?: readonly string[];
  /** The aliases are deprecated names: using one warns. */
  deprecateAliases?: boolean;
}

/** Flags that make no sense in a config file. */
const META_FLAGS = new Set(['config', 'json', 'help', 'debug']);

export function kebab(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** A key or value in a --config file that the command does not accept: a usage error (exit status 2), like a bad flag. */
export class ConfigKeyError extends UserError {
  constructor(message: string) {
    super(message, { code: 'E_CONFIG_KEY', exitCode: EXIT.usage, fix: 'see --help for the flags this command accepts' });
    this.name = 'ConfigKeyError';
  }
}

/**
 * Merges file values into parsed flags. `explicit` holds the flag names the user typed. A key may
 * be a flag's alias; a deprecated one is reported through `warn`.
 * Returns a new object; the inputs are untouched.
 */
export async function mergeConfig(
  file: string,
  values: Record<string, unknown>,
  flags: Record<string, unknown>,
  specs: Record<string, FlagSpec>,
  explicit: ReadonlySet<string>,
  warn: (message: string) => void = () => undefined,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...flags };
  const allowed = Object.keys(specs).filter((k) => !META_FLAGS.has(k)).sort();
  for (const [rawKey, value] of Object.entries(values)) {
    let key = kebab(rawKey);
    const alias = specs[key] ? undefined : flagOfAlias(key, specs);
    if (alias) {
      if (alias.deprecated) warn(`${file}: ${deprecationMessage(key, alias.name)}`);
      key = alias.name;
    }
    const spec = specs[key];
    if (!spec || META_FLAGS.has(key)) {
      throw new ConfigKeyError(`${file}: unknown key "${rawKey}"; this command accepts: ${allowed.join(', ')}`);
    }
    if (explicit.has(key)) continue; // the command line wins
    out[key] = await coerce(file, rawKey, value, spec);
  }
  return out;
}

async function coerce(file: string, key: string, value: unknown, spec: FlagSpec): Promise<unknown> {
  if (spec.type === 'boolean') {
    if (typeof value !== 'boolean') throw new ConfigKeyError(`${file}: "${key}" must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  if (spec.multiple) {
    const list = Array.isArray(value) ? value : [value];
    const outList: unknown[] = [];
    for (const v of list) outList.push(await coerceOne(file, key, v, spec));
    return outList;
  }
  if (Array.isArray(value)) throw new ConfigKeyError(`${file}: "${key}" takes one value, got a list`);
  return coerceOne(file, key, value, spec);
}

async function coerceOne(file: string, key: string, value: unknown, spec: FlagSpec): Promise<unknown> {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new ConfigKeyError(`${file}: "${key}" must be a string or a number, got ${value === null ? 'null' : typeof value}`);
  }
  const text = String(value);
  if (spec.options && !spec.options.includes(text)) {
    throw new ConfigKeyError(`${file}: "${key}" must be one of ${spec.options.join(', ')}, got "${text}"`);
  }
  if (!spec.parse) return text;
  try {
    return await spec.parse(text, {}, spec);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new ConfigKeyError(`${file}: "${key}": ${msg.split('\n')[0]}`);
  }
}

