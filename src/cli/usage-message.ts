/**
 * oclif's parser errors are several lines ("The following errors occurred:", one line per
 * problem, "See more help with --help"); our error line is one. This folds them into one line
 * that keeps every reason: which flag or argument, and what is allowed.
 */

/** What a flag allows, from its oclif definition. */
export interface UsageFlagInfo {
  options?: readonly string[];
  description?: string;
  type?: string;
  min?: number;
  max?: number;
}

function allowed(f: UsageFlagInfo | undefined): string {
  if (!f) return '';
  if (f.options && f.options.length > 0) return ` (one of ${f.options.join(', ')})`;
  const range = f.min !== undefined && f.max !== undefined ? ` from ${f.min} to ${f.max}` : f.min !== undefined ? ` >= ${f.min}` : f.max !== undefined ? ` <= ${f.max}` : '';
  if (f.type === 'option' && f.description) return ` (${f.description.replace(/\.$/, '')}${range ? `; an integer${range}` : ''})`;
  return range ? ` (an integer${range})` : '';
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');
const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

/** One line from an oclif parse error message; `flags` (name -> definition) adds what each flag allows. */
export function describeUsageError(message: string, flags: Readonly<Record<string, UsageFlagInfo>> = {}): string {
  const lines = stripAnsi(message)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with --help$/.test(l) && !/^The following errors? occurred:?$/.test(l));
  const missingFlags: string[] = [];
  const missingArgs: string[] = [];
  const other: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    let m: RegExpExecArray | null;
    if ((m = /^Missing required flags? (.+)$/.exec(l))) {
      for (const name of m[1].split(/,\s*/)) {
        const n = name.replace(/^--/, '');
        missingFlags.push(`--${n}${allowed(flags[n])}`);
      }
    } else if (/^Missing \d+ required args?:?$/.test(l)) {
      // the argument lines follow: "name  description"
      while (i + 1 < lines.length && /^\S+(\s{2,}.*)?$/.test(lines[i + 1]) && !/^(Missing|Parsing|Expected|Nonexistent|Unexpected|Flag)\b/.test(lines[i + 1])) {
        const [name, ...desc] = lines[++i].split(/\s{2,}/);
        missingArgs.push(desc.length > 0 ? `${name.toUpperCase()} (${desc.join(' ').replace(/\.$/, '')})` : name.toUpperCase());
      }
    } else if ((m = /^Parsing (--[\w-]+)\s*$/.exec(l))) {
      const reason = i + 1 < lines.length ? lines[++i] : 'invalid value';
      other.push(`${m[1]}: ${lowerFirst(reason)}`);
    } else {
      other.push(l);
    }
  }
  const parts: string[] = [];
  if (missingArgs.length > 0) parts.push(`missing required argument${missingArgs.length > 1 ? 's' : ''} ${missingArgs.join(', ')}`);
  if (missingFlags.length > 0) parts.push(`missing required flag${missingFlags.length > 1 ? 's' : ''} ${missingFlags.join(', ')}`);
  parts.push(...other);
  return parts.length > 0 ? parts.join('; ') : stripAnsi(message).trim();
}
