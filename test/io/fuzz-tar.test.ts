/** Fuzzed tar and tar.gz archives (issue 13): read, indexed and extracted, or refused with a TarError; never a file outside the target. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extractTar, indexTarFile, readTarMembers } from '../../src/io/tar';
import { fuzz } from '../helpers/fuzz';
import { writeTar, writeTarGz, type WriterEntry } from '../helpers/tar-writer';

const ENTRIES: WriterEntry[] = [
  { name: 'root/', type: 'directory' },
  { name: 'root/a.txt', data: 'hello' },
  { name: 'root/sub/b.bin', data: Buffer.alloc(700, 7) },
  { name: 'root/empty', data: '' },
  { name: `root/${'long-name-'.repeat(12)}.txt`, data: 'long', longName: 'gnu' },
  { name: `root/${'pax-name-'.repeat(13)}.txt`, data: 'pax', longName: 'pax' },
  { name: 'root/big', data: 'x', base256Size: true },
];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-fuzz-tar-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('1,500 mutated archives: read or refused with a TarError; extraction stays inside its target', async () => {
  const seeds = [new Uint8Array(writeTar(ENTRIES)), new Uint8Array(writeTar(ENTRIES, { format: 'gnu' })), new Uint8Array(writeTarGz(ENTRIES))];
  const t0 = Date.now();
  const stats = await fuzz({
    seeds,
    cases: 1500,
    seed: 1304,
    caseMs: 1000,
    parse: async (bytes, i) => {
      const file = path.join(dir, `case.tar`);
      fs.writeFileSync(file, bytes);
      await readTarMembers(file, () => true);
      if (bytes[0] !== 0x1f) indexTarFile(file);
      if (i % 10 === 0) {
        const target = path.join(dir, `x${i}`, 'target');
        fs.mkdirSync(target, { recursive: true });
        try {
          await extractTar(file, target);
        } finally {
          // nothing beside the target, and no staging folder left inside it
          expect(fs.readdirSync(path.dirname(target))).toEqual(['target']);
          expect(fs.readdirSync(target).filter((n) => n.startsWith('.spikeclip-extract-'))).toEqual([]);
          fs.rmSync(path.dirname(target), { recursive: true, force: true });
        }
      }
    },
  });
  expect(stats.rejected).toBeGreaterThan(300);
  expect(Date.now() - t0).toBeLessThan(15_000);
});
