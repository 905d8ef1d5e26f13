/** Fuzzed MAT-files (issue 13): a result or a clean MatError, quickly, in bounded memory. */
import { matVector, parseMat } from '../../src/io/mat';
import { fuzz } from '../helpers/fuzz';
import { writeMat, type MatVariable } from '../helpers/mat-writer';

const VARS: MatVariable[] = [
  { name: 'labels', value: { values: [77, 77, 1, 102, 5], stored: 'uint8' } },
  { name: 'trnid', value: { values: [8189, 3, 4000], stored: 'uint16' } },
  { name: 'd', value: { values: [1.5, -2.25, 3], dims: [3, 1] } },
  { name: 'i64', value: { class: 'int64', values: [-5, 2 ** 40] } },
  { name: 's', value: { kind: 'char', text: 'hello' } },
  { name: 'c', value: { kind: 'cell', cells: [{ values: [1] }, { kind: 'char', text: 'ab' }] } },
  { name: 'st', value: { kind: 'struct', fields: { a: { values: [1, 2] }, bb: { kind: 'char', text: 'x' } } } },
  { name: 'm', value: { values: [1, 2, 3, 4, 5, 6], dims: [2, 3], stored: 'int16' } },
];

it('3,000 mutated MAT-files: parsed or refused with a MatError', async () => {
  const seeds = [false, true].flatMap((compress) => (['little', 'big'] as const).map((endian) => new Uint8Array(writeMat(VARS, { compress, endian }))));
  const t0 = Date.now();
  const stats = await fuzz({
    seeds,
    cases: 3000,
    seed: 13,
    caseMs: 500,
    memoryMiB: 200,
    parse: (bytes) => {
      const mat = parseMat(bytes, 'fuzz.mat');
      for (const name of mat.variables.keys()) {
        try {
          matVector(mat, name, 'fuzz.mat');
        } catch (e) {
          if ((e as Error).name !== 'MatError') throw e;
        }
      }
    },
  });
  expect(stats.ok + stats.rejected).toBe(3000);
  expect(stats.rejected).toBeGreaterThan(1000);
  expect(Date.now() - t0).toBeLessThan(15_000);
});
