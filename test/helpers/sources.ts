import * as fs from 'fs';
import * as path from 'path';

/** Every file under `dir` (recursively) whose name passes `keep` (default: .ts and .js files). */
export function sourceFiles(dir: string, keep: (name: string) => boolean = (n) => /\.(ts|js)$/.test(n)): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p, keep));
    else if (keep(e.name)) out.push(p);
  }
  return out;
}
