/** Fuzzed zip archives, PyTorch checkpoints and bare pickles (issue 13): results or clean errors, quickly, in bounded memory. */
import { unpickle } from '../../src/io/pickle';
import { readPytorchBytes } from '../../src/io/pytorch';
import { ZipArchive } from '../../src/io/zip';
import { fuzz } from '../helpers/fuzz';
import { pickle, torchSave, writeZip, type PVal } from '../helpers/pickle-writer';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

it('2,500 mutated zip archives: read or refused with a ZipError', async () => {
  const files = [
    { name: 'a.txt', data: enc('hello') },
    { name: 'dir/', data: new Uint8Array(0) },
    { name: 'dir/b.bin', data: Uint8Array.from({ length: 1000 }, (_, i) => i % 7), deflate: true },
    { name: 'empty', data: new Uint8Array(0) },
  ];
  const seeds = [writeZip(files), writeZip(files, { zip64: true }), writeZip(files, { align: 64, comment: 'c' })];
  const t0 = Date.now();
  const stats = await fuzz({
    seeds,
    cases: 2500,
    seed: 1301,
    caseMs: 500,
    parse: (bytes) => {
      const zip = ZipArchive.fromBytes(bytes, 'fuzz.zip');
      for (const n of zip.names()) zip.read(n);
    },
  });
  expect(stats.rejected).toBeGreaterThan(1000);
  expect(Date.now() - t0).toBeLessThan(12_000);
});

it('2,500 mutated torch.save files: read or refused with a PickleError', async () => {
  const tensors = new Map([
    ['w', { shape: [3, 4], values: Array.from({ length: 12 }, (_, i) => i / 7) }],
    ['b', { shape: [4], values: [1, 2, 3, 4], dtype: 'F16' as const }],
    ['n', { shape: [2], values: [5, 6], dtype: 'I64' as const }],
  ]);
  const seeds = [torchSave(tensors), torchSave(tensors, { protocol: 4, wrap: (sd) => new Map<PVal, PVal>([['state_dict', sd], ['epoch', 3]]) })];
  const stats = await fuzz({ seeds, cases: 2500, seed: 1302, caseMs: 500, parse: (bytes) => readPytorchBytes(bytes, 'fuzz.pth') });
  expect(stats.rejected).toBeGreaterThan(1000);
});

it('3,000 mutated pickles: loaded or refused with a PickleError, never running anything', async () => {
  const value: PVal = new Map<PVal, PVal>([
    ['a', [1, 2.5, 'x', null, true, { $tuple: [1n << 70n, -3] }]],
    ['b', { $reduce: [{ $global: 'collections.OrderedDict' }, []] }],
    ['c', new Uint8Array([1, 2, 3])],
    ['d', { $global: 'os.system' }],
  ]);
  const seeds = [pickle(value), pickle(value, { protocol: 4, stackGlobal: true }), pickle(value, { memo: false })];
  const stats = await fuzz({ seeds, cases: 3000, seed: 1303, caseMs: 500, parse: (bytes) => unpickle(bytes, { source: 'fuzz.pkl' }) });
  expect(stats.rejected).toBeGreaterThan(1000);
});
