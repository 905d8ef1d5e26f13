/**
 * `spikeclip evl`: @oclif/plugin-not-found asks "Did you mean eval?" in a terminal, but prints no
 * suggestion when stdin is not one (scripts, CI, pipes). This hook adds the suggestion there, as one
 * line on stderr; the plugin still reports the unknown command and exits with 127.
 */
import { toConfiguredId, type Hook } from '@oclif/core';

/** Levenshtein distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The closest command id, when it is close enough to be what was meant (at most a third of it wrong). */
export function closestCommand(id: string, ids: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of ids) {
    const d = editDistance(id, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

const hook: Hook<'command_not_found'> = async function (opts) {
  if (process.stdin.isTTY) return; // the plugin asks interactively
  const hidden = new Set(opts.config.commands.filter((c) => c.hidden).map((c) => c.id));
  const ids = [...opts.config.commandIDs, ...opts.config.commands.flatMap((c) => c.aliases)].filter((c) => !hidden.has(c));
  const best = closestCommand(opts.id, ids);
  if (best) process.stderr.write(`Did you mean \`${opts.config.bin} ${toConfiguredId(best, opts.config)}\`?\n`);
};

export default hook;
