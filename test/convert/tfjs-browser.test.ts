/**
 * The TF.js loader must stay bundleable for a browser: src/convert/tfjs-format.ts and everything it
 * imports may only depend on TF.js's browser packages (no fs, path, zlib, sharp, ...).
 */
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.resolve(__dirname, '..', '..', 'src');

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'/gm)) out.push(m[1]);
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1]);
  for (const m of text.matchAll(/(?:require|import)\(\s*'([^']+)'\s*\)/g)) out.push(m[1]);
  return out;
}

function resolveTs(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(c)) return c;
  throw new Error(`cannot resolve ${spec} from ${from}`);
}

test('tfjs-format.ts depends (transitively) on nothing but TF.js (through src/tf.ts)', () => {
  const seen = new Set<string>();
  const external = new Map<string, string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of imports(file)) {
      if (spec.startsWith('.')) walk(resolveTs(file, spec));
      else external.set(spec, path.relative(SRC, file));
    }
  };
  walk(path.join(SRC, 'convert', 'tfjs-format.ts'));
  expect(seen.size).toBeGreaterThan(5);
  expect([...external.keys()].sort()).toEqual(['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);
});
