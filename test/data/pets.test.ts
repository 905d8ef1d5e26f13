import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { breedOf, locatePets, openPets, parsePetsList, petKey } from '../../src/data/pets';
import { DatasetError, DatasetSplit } from '../../src/data/types';
import { PETS_CLASSES } from '../../src/text/classnames';
import { PET_BREEDS, makePetsFixture, petColour, petLine } from '../helpers/fixtures-pets';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pets-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function pixel(split: DatasetSplit, i: number): Promise<number[]> {
  const s = split.source(i);
  const input = s.kind === 'file' ? fs.readFileSync(s.path) : s.kind === 'bytes' ? Buffer.from(s.bytes) : null;
  if (!input) throw new Error('unexpected rgb source');
  const { data } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
  return [data[0], data[1], data[2]];
}

const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 6);

describe.each(['archive', 'folder'] as const)('from the %s', (as) => {
  test('official splits, labels matched by name to CLIP names, images', async () => {
    const fx = await makePetsFixture({ dir: tmp, as });
    const tv = await openPets({ dataDir: tmp, split: 'trainval', cacheDir: path.join(tmp, 'cache') });
    expect(tv.dataset).toBe('pets');
    expect(tv.size).toBe(6);
    expect(tv.classNames).toEqual([...PETS_CLASSES]);
    expect(tv.sample(0)).toEqual({ index: 0, label: 0, id: 'Abyssinian_100.jpg' });
    expect(tv.classNames[tv.sample(1).label]).toBe('american bulldog');
    expect(tv.classNames[tv.sample(2).label]).toBe('Bengal');
    expect(tv.classNames[tv.sample(3).label]).toBe('german shorthaired');
    expect(tv.classNames[tv.sample(4).label]).toBe('yorkshire terrier');
    for (let i = 0; i < tv.size; i++) expect(close(await pixel(tv, i), petColour(i))).toBe(true);
    const test = await openPets({ dataDir: tmp, split: 'test', cacheDir: path.join(tmp, 'cache') });
    expect(test.size).toBe(3);
    expect(test.sample(1).id).toBe(`${fx.test[1]}.jpg`);
    expect(test.classNames[test.sample(1).label]).toBe('Siamese');
    expect(close(await pixel(test, 2), petColour(6 + 2))).toBe(true);
    expect(() => test.source(3)).toThrow(RangeError);
  });
});

test('torchvision layout under oxford-iiit-pet/', async () => {
  await makePetsFixture({ dir: tmp, as: 'folder', torchvisionLayout: true });
  expect(locatePets(tmp).root).toBe(path.join(tmp, 'oxford-iiit-pet'));
  expect((await openPets({ dataDir: tmp, split: 'test' })).size).toBe(3);
});

test('class ids in an order different from CLIP list are matched by name', async () => {
  // Swap the ids of Abyssinian (1) and american_bulldog (2) in the annotation files: labels must
  // still follow the breed names.
  const swap = (l: string) => l.replace(/^(Abyssinian_\d+) 1 /, '$1 2 ').replace(/^(american_bulldog_\d+) 2 /, '$1 1 ');
  const tv = [petLine(1, 100), petLine(2, 7)].map(swap).join('\n') + '\n';
  await makePetsFixture({ dir: tmp, as: 'folder', trainval: [[1, 100], [2, 7]], override: { 'trainval.txt': tv, 'list.txt': null } });
  const split = await openPets({ dataDir: tmp, split: 'trainval' });
  expect(split.classNames[split.sample(0).label]).toBe('Abyssinian');
  expect(split.classNames[split.sample(1).label]).toBe('american bulldog');
});

test('names: breed of an image, comparison key, list parsing with comments', () => {
  expect(breedOf('american_pit_bull_terrier_12')).toBe('american_pit_bull_terrier');
  expect(petKey('British_Shorthair')).toBe(petKey('British Shorthair'));
  expect(petKey('British_Shorthair')).toBe('british shorthair');
  const lines = parsePetsList('#Image CLASS-ID SPECIES BREED ID\n\nAbyssinian_100 1 1 1\r\nbeagle_3 5 2 3\n', 'list.txt');
  expect(lines).toEqual([
    { image: 'Abyssinian_100', classId: 1, species: 1, breedId: 1, line: 3 },
    { image: 'beagle_3', classId: 5, species: 2, breedId: 3, line: 4 },
  ]);
  expect(PET_BREEDS.map(petKey)).toEqual(PETS_CLASSES.map(petKey));
});

describe('bad input', () => {
  test('missing archives', async () => {
    await makePetsFixture({ dir: tmp, as: 'archive' });
    fs.rmSync(path.join(tmp, 'annotations.tar.gz'));
    expect(() => locatePets(tmp)).toThrow(DatasetError);
    expect(() => locatePets(tmp)).toThrow(/Oxford-IIIT Pet is incomplete in .*: missing annotations\.tar\.gz \(or its extracted annotations\/ folder\) \(fix: spikeclip data download --dataset pets/);
  });

  test('unknown split', async () => {
    await expect(openPets({ dataDir: tmp, split: 'train' })).rejects.toThrow(/official splits trainval, test, not "train"/);
  });

  test('a missing split file (archive and folder)', async () => {
    await makePetsFixture({ dir: tmp, as: 'archive', override: { 'test.txt': null } });
    await expect(openPets({ dataDir: tmp, split: 'test' })).rejects.toThrow(/annotations\.tar\.gz member annotations\/test\.txt is missing/);
    const other = path.join(tmp, 'o');
    await makePetsFixture({ dir: other, as: 'folder', override: { 'trainval.txt': null } });
    await expect(openPets({ dataDir: other, split: 'trainval' })).rejects.toThrow(/annotations[/\\]trainval\.txt is missing/);
  });

  test('malformed lines, out-of-range ids, inconsistent ids, unknown breeds', async () => {
    expect(() => parsePetsList('Abyssinian_1 1 1\n', 'test.txt')).toThrow(/test\.txt:1: expected "IMAGE CLASS-ID SPECIES BREED-ID", got "Abyssinian_1 1 1"/);
    expect(() => parsePetsList('x\nAbyssinian_1 38 1 1\n', 'test.txt')).toThrow(/test\.txt:1: expected/);
    expect(() => parsePetsList('Abyssinian_1 38 1 1\n', 'test.txt')).toThrow(/test\.txt:1: class id 38 is outside 1\.\.37/);
    expect(() => parsePetsList('Abyssinian_1 0 1 1\n', 'test.txt')).toThrow(/class id 0 is outside/);
    expect(() => parsePetsList('Abyssinian_1 1 3 1\n', 'test.txt')).toThrow(/species 3 is neither 1 \(cat\) nor 2 \(dog\)/);
    await makePetsFixture({ dir: tmp, as: 'folder', override: { 'test.txt': 'american_bulldog_8 2 2 1\nbeagle_9 2 2 3\n' } });
    await expect(openPets({ dataDir: tmp, split: 'test' })).rejects.toThrow(/test\.txt:2: class id 2 is "beagle" here but "american bulldog" at list\.txt/);
    const other = path.join(tmp, 'o');
    await makePetsFixture({ dir: other, as: 'folder', override: { 'test.txt': 'corgi_1 2 2 1\n', 'list.txt': null } });
    await expect(openPets({ dataDir: other, split: 'test' })).rejects.toThrow(/test\.txt:1: breed "corgi" is not one of the 37 Oxford-IIIT Pet classes/);
  });

  test('images missing from the folder or the archive', async () => {
    await makePetsFixture({ dir: tmp, as: 'archive', missingImages: ['Siamese_4'] });
    await expect(openPets({ dataDir: tmp, split: 'test', cacheDir: path.join(tmp, 'c') })).rejects.toThrow(/images\.tar\.gz lacks 1 image\(s\) of the test split, e\.g\. images\/Siamese_4\.jpg/);
    await expect(openPets({ dataDir: tmp, split: 'trainval', cacheDir: path.join(tmp, 'c') })).resolves.toBeDefined();
  });
});
