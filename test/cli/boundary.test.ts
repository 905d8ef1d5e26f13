/**
 * The CLI is the top layer: src/cli/ and src/commands/ may import any layer, but no module below
 * them (io, models, train, eval, convert, energy, ...) imports from src/cli/. What they share with
 * it (errors and exit statuses, provenance) lives in the leaf src/errors.ts or in src/io/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { sourceFiles as sources } from '../helpers/sources';

const SRC = path.resolve(__dirname, '..', '..', 'src');
const CLI = path.join(SRC, 'cli');
const ABOVE_CLI = [CLI, path.join(SRC, 'commands')];

/** Module specifiers of import/export-from statements, dynamic imports and requires (comments stripped). */
function moduleSpecifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const re of [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s*['"]([^'"]+)['"]/gm]) {
    for (const m of code.matchAll(re)) out.push(m[1]);
  }
  return out;
}

/** The specifiers of `file` that reach into src/cli/. */
function cliImports(file: string, text: string): string[] {
  return moduleSpecifiers(text).filter((spec) => {
    if (!spec.startsWith('.')) return false;
    const target = path.resolve(path.dirname(file), spec);
    return target === CLI || target.startsWith(CLI + path.sep);
  });
}

describe('no layer below cli/ imports from it', () => {
  it('finds every kind of import (the scan can fail)', () => {
    const file = path.join(SRC, 'eval', 'x.ts');
    const text = [
      "import { UserError } from '../cli/errors';",
      "import type { Provenance } from '../cli/provenance';",
      'import {\n  a,\n  b,\n} from "../cli/config";',
      "export * from '../cli/progress';",
      "const m = await import('../cli/train-flags');",
      "const r = require('../cli');",
      "// import { x } from '../cli/errors';",
      "/** see '../cli/errors' */ import { y } from '../errors';",
      "import { z } from '../io/provenance';",
    ].join('\n');
    expect(cliImports(file, text)).toEqual(['../cli/errors', '../cli/provenance', '../cli/config', '../cli/progress', '../cli/train-flags', '../cli']);
  });

  it('holds for every module of src/ outside cli/ and commands/', () => {
    const bad: string[] = [];
    const files = sources(SRC).filter((f) => !ABOVE_CLI.some((d) => f.startsWith(d + path.sep)));
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      for (const spec of cliImports(file, fs.readFileSync(file, 'utf8'))) bad.push(`${path.relative(SRC, file)}: ${spec}`);
    }
    expect(bad).toEqual([]);
  });
});
