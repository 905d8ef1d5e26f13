import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { locateFlowers102, openFlowers102 } from '../../src/data/flowers102';
import { DatasetError, DatasetSplit } from '../../src/data/types';
import { FLOWERS102_CLASSES } from '../../src/text/classnames';
import { DEFAULT_FLOWER_LABELS, flowerColour, makeFlowersFixture } from '../helpers/fixtures-flowers';
import { writeTarGz } from '../helpers/tar-writer';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowers-test-'));
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

function close(a: number[], b: number[]): boolean {
  return a.every((v, i) => Math.abs(v - b[i]) <= 6);
}

describe.each([
  ['archive', true],
  ['folder', false],
] as const)('images as the %s, compressed .mat=%s', (as, compress) => {
  test('official splits, 0-based labels, CLIP names, images', async () => {
    const fx = await makeFlowersFixture({ dir: tmp, as, compress });
    const train = await openFlowers102({ dataDir: tmp, split: 'train', cacheDir: path.join(tmp, 'cache') });
    expect(train.dataset).toBe('flowers102');
    expect(train.size).toBe(fx.trnid.length);
    expect(train.classNames).toEqual([...FLOWERS102_CLASSES]);
    expect(train.classNames).toHaveLength(102);
    fx.trnid.forEach((id, i) => {
      expect(train.sample(i)).toEqual({ index: i, label: DEFAULT_FLOWER_LABELS[id - 1] - 1, id: `image_${String(id).padStart(5, '0')}.jpg` });
    });
    expect(train.classNames[train.sample(3).label]).toBe('blackberry lily'); // image 4 has label 102
    for (let i = 0; i < train.size; i++) expect(close(await pixel(train, i), flowerColour(fx.trnid[i]))).toBe(true);
    expect(train.source(0).kind).toBe(as === 'folder' ? 'file' : 'bytes');
    const val = await openFlowers102({ dataDir: tmp, split: 'val', cacheDir: path.join(tmp, 'cache') });
    const test = await openFlowers102({ dataDir: tmp, split: 'test', cacheDir: path.join(tmp, 'cache') });
    expect([val.size, test.size]).toEqual([3, 5]);
    expect(test.sample(0).id).toBe('image_00012.jpg');
    const trainval = await openFlowers102({ dataDir: tmp, split: 'trainval', cacheDir: path.join(tmp, 'cache') });
    expect(trainval.size).toBe(7);
    expect(trainval.sample(4)).toEqual(expect.objectContaining({ index: 4, id: 'image_00002.jpg' }));
    expect(close(await pixel(trainval, 6), flowerColour(9))).toBe(true);
    expect(() => train.sample(4)).toThrow(RangeError);
  });
});

test('torchvision layout: files under flowers-102/', async () => {
  await makeFlowersFixture({ dir: path.join(tmp, 'flowers-102'), as: 'folder' });
  expect(locateFlowers102(tmp).root).toBe(path.join(tmp, 'flowers-102'));
  expect((await openFlowers102({ dataDir: tmp, split: 'test' })).size).toBe(5);
});

describe('bad input', () => {
  test('missing files are listed', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'archive', skip: ['setid.mat', 'images'] });
    expect(() => locateFlowers102(tmp)).toThrow(DatasetError);
    expect(() => locateFlowers102(tmp)).toThrow(/Flowers-102 is incomplete in .*: missing setid\.mat, 102flowers\.tgz \(or its extracted jpg\/ folder\) \(fix: spikeclip data download --dataset flowers102/);
  });

  test('unknown split lists the valid ones', async () => {
    await expect(openFlowers102({ dataDir: tmp, split: 'validation' })).rejects.toThrow(/Flowers-102 has the splits train, val, test, trainval, not "validation"/);
  });

  test('label values outside 1..102', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder', labels: [1, 2, 103, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
    await expect(openFlowers102({ dataDir: tmp, split: 'train' })).rejects.toThrow(/imagelabels\.mat: image 3 has label 103, expected an integer in 1\.\.102/);
  });

  test('label of 0 and non-integers', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder', labelVars: [{ name: 'labels', value: { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2.5] } }] });
    await expect(openFlowers102({ dataDir: tmp, split: 'test' })).rejects.toThrow(/image 12 has label 2\.5/);
  });

  test('split ids outside the labelled images', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder', tstid: [1, 13] });
    await expect(openFlowers102({ dataDir: tmp, split: 'test' })).rejects.toThrow(/setid\.mat: tstid\[1\] is image 13, but imagelabels\.mat labels images 1\.\.12/);
  });

  test('a setid.mat without the split variable', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder', setidVars: [{ name: 'trnid', value: { values: [1] } }] });
    await expect(openFlowers102({ dataDir: tmp, split: 'val' })).rejects.toThrow(/setid\.mat has no variable "valid" \(it has "trnid"\)/);
  });

  test('a truncated .mat file', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder' });
    const p = path.join(tmp, 'imagelabels.mat');
    fs.writeFileSync(p, fs.readFileSync(p).subarray(0, 150));
    await expect(openFlowers102({ dataDir: tmp, split: 'train' })).rejects.toThrow(/imagelabels\.mat: .*truncated/);
  });

  test('images missing from the folder or the archive', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder', missingImages: [5] });
    await expect(openFlowers102({ dataDir: tmp, split: 'train' })).rejects.toThrow(/jpg lacks 1 image\(s\) of the train split, e\.g\. image_00005\.jpg/);
    await expect(openFlowers102({ dataDir: tmp, split: 'val' })).resolves.toBeDefined();
    const other = path.join(tmp, 'other');
    await makeFlowersFixture({ dir: other, as: 'archive', missingImages: [12] });
    await expect(openFlowers102({ dataDir: other, split: 'test', cacheDir: path.join(tmp, 'c') })).rejects.toThrow(/102flowers\.tgz lacks 1 image\(s\) of the test split, e\.g\. jpg\/image_00012\.jpg/);
  });

  test('a hostile or corrupt archive is a DatasetError', async () => {
    await makeFlowersFixture({ dir: tmp, as: 'folder', skip: ['images'] });
    fs.writeFileSync(path.join(tmp, '102flowers.tgz'), writeTarGz([{ name: 'jpg/image_00001.jpg', data: 'x' }]).subarray(0, 40));
    await expect(openFlowers102({ dataDir: tmp, split: 'train', cacheDir: path.join(tmp, 'c') })).rejects.toThrow(/102flowers\.tgz: gzip data is corrupt or truncated/);
  });
});
