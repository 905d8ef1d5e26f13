/**
 * Deprecated flag names: an old name is an oclif alias of the new flag with `deprecateAliases:
 * true`, so it keeps working; using it (on the command line or as a --config key) gives one
 * warning line that names the new flag. oclif's own check misses `--old=value` and prints nothing
 * with --json; ours sees both and goes through the command's warning path (stderr, and the
 * envelope's warnings with --json).
 */

/** What we read of an oclif flag definition. */
export interface AliasedFlag {
  aliases?: readonly string[];
  deprecateAliases?: boolean;
}

/** The one-line warning for a deprecated name. */
export function deprecationMessage(oldName: string, newName: string): string {
  return `--${oldName} is deprecated and will be removed in the next release: use --${newName}`;
}

/** Deprecated names of `flags` (name -> definition) that `argv` uses, as warnings (each name once). */
export function deprecatedNamesUsed(argv: readonly string[], flags: Readonly<Record<string, AliasedFlag>>): string[] {
  const end = argv.indexOf('--');
  const words = end === -1 ? argv : argv.slice(0, end);
  const out: string[] = [];
  for (const [name, def] of Object.entries(flags)) {
    if (!def?.deprecateAliases) continue;
    for (const alias of def.aliases ?? []) {
      if (words.some((w) => w === `--${alias}` || w.startsWith(`--${alias}=`))) out.push(deprecationMessage(alias, name));
    }
  }
  return out;
}

/** The flag a --config key names when it is an alias, and whether that alias is deprecated. */
export function flagOfAlias(key: string, flags: Readonly<Record<string, AliasedFlag>>): { name: string; deprecated: boolean } | undefined {
  for (const [name, def] of Object.entries(flags)) {
    if (def?.aliases?.includes(key)) return { name, deprecated: Boolean(def.deprecateAliases) };
  }
  return undefined;
}
