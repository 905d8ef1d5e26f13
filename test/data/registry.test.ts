import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_VAL_FRACTION, datasetInfo, defaultDataDir, knownDatasets, openDataset, registerDataset } from '../../src/data/registry';
import { carveValidation, labelsOf } from '../../src/data/splits';
import { DatasetError, DatasetSplit } from '../../src/data/types';
import { makeCifarFixture } from '../helpers/fixtures-cifar';
import { makeFlowersFixture } from '../helpers/fixtures-flowers';
import { makeFolder } from '../helpers/fixtures-folder';
import { makePetsFixture } from '../helpers/fixtures-pets';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const ids = (s: DatasetSplit) => Array.from({ length: s.size }, (_, i) => s.sample(i).id);

describe('names', () => {
  test('unknown datasets list the known ones', async () => {
    await expect(openDataset('imagenet', { split: 'train' })).rejects.toThrow(DatasetError);
    await expect(openDataset('imagenet', { split: 'train' })).rejects.toThrow(/unknown dataset "imagenet"; known datasets: cifar10, cifar100, flowers102, pets, folder:DIR, captions:FILE/);
    expect(knownDatasets()).toEqual(expect.arrayContaining(['cifar10', 'cifar100', 'flowers102', 'pets', 'folder:DIR', 'captions:FILE']));
  });

  test('the built-in shapes set is known without its module having been imported first', async () => {
    expect(knownDatasets()).toContain('shapes');
    const s = await openDataset('shapes', { split: 'train' });
    expect(s.size).toBeGreaterThan(0);
  });

  test('arguments: required for folder:/captions:, refused elsewhere; names are case-insensitive', async () => {
    await expect(openDataset('folder', { split: 'train' })).rejects.toThrow(/dataset folder needs an argument: folder:DIR/);
    await expect(openDataset('folder:', { split: 'train' })).rejects.toThrow(/needs an argument/);
    await expect(openDataset('cifar10:x', { split: 'train' })).rejects.toThrow(/dataset cifar10 takes no argument/);
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp });
    expect((await openDataset('CIFAR10', { dataDir: tmp, split: 'test' })).dataset).toBe('cifar10');
  });

  test('bad options', async () => {
    await expect(openDataset('cifar10', { split: 'train', valFraction: 1 })).rejects.toThrow(/validation fraction must be in \[0, 1\), got 1/);
    await expect(openDataset('cifar10', { split: 'train', seed: 0.5 })).rejects.toThrow(/split seed must be an integer/);
  });

  test('the default data folder', () => {
    const saved = process.env.SPIKECLIP_DATA_DIR;
    try {
      process.env.SPIKECLIP_DATA_DIR = tmp;
      expect(defaultDataDir()).toBe(tmp);
      delete process.env.SPIKECLIP_DATA_DIR;
      expect(defaultDataDir()).toBe(path.join(os.homedir(), '.cache', 'spikeclip', 'data'));
    } finally {
      if (saved === undefined) delete process.env.SPIKECLIP_DATA_DIR;
      else process.env.SPIKECLIP_DATA_DIR = saved;
    }
  });
});

describe('CIFAR: validation carved from the official train split', () => {
  beforeEach(() => {
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'archive', dir: tmp, perBatch: 20 });
  });

  test('train + val = trainval = the official train; stratified; deterministic per seed', async () => {
    const trainval = await openDataset('cifar10', { dataDir: tmp, split: 'trainval' });
    const train = await openDataset('cifar10', { dataDir: tmp, split: 'train' });
    const val = await openDataset('cifar10', { dataDir: tmp, split: 'val' });
    expect(trainval.size).toBe(100);
    expect(trainval.split).toBe('trainval');
    expect([train.size, val.size]).toEqual([90, 10]);
    expect([train.split, val.split]).toEqual(['train', 'val']);
    expect(new Set([...ids(train), ...ids(val)])).toEqual(new Set(ids(trainval)));
    expect(ids(val).filter((x) => ids(train).includes(x))).toEqual([]);
    // 10 classes x 10 samples: exactly one of each class in val.
    expect([...labelsOf(val)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(val.sample(3).index).toBe(3);
    expect(ids(await openDataset('cifar10', { dataDir: tmp, split: 'val' }))).toEqual(ids(val));
    expect(ids(await openDataset('cifar10', { dataDir: tmp, split: 'val', seed: 1 }))).not.toEqual(ids(val));
    const quarter = await openDataset('cifar10', { dataDir: tmp, split: 'val', valFraction: 0.25 });
    expect(quarter.size).toBe(30); // round(2.5) = 3 per class... x 10 classes
    expect((await openDataset('cifar10', { dataDir: tmp, split: 'test' })).size).toBe(4);
    expect(DEFAULT_VAL_FRACTION).toBe(0.1);
  });

  test('the loader cache key changes with the carve', async () => {
    const a = (await openDataset('cifar10', { dataDir: tmp, split: 'val' })) as DatasetSplit & { fingerprint?: string };
    const b = (await openDataset('cifar10', { dataDir: tmp, split: 'val', seed: 3 })) as DatasetSplit & { fingerprint?: string };
    expect(a.fingerprint).toBeDefined();
    expect(a.fingerprint).not.toEqual(b.fingerprint);
  });

  test('unknown split names list the valid ones; valFraction 0 carves nothing', async () => {
    await expect(openDataset('cifar10', { dataDir: tmp, split: 'validation' })).rejects.toThrow(/cifar10 has no split "validation"; valid splits: train, val, test, trainval/);
    await expect(openDataset('cifar10', { dataDir: tmp, split: 'val', valFraction: 0 })).rejects.toThrow(/nothing is carved with a validation fraction of 0\); valid splits: train, test, trainval/);
    expect((await openDataset('cifar10', { dataDir: tmp, split: 'train', valFraction: 0 })).size).toBe(100);
  });
});

test('Flowers-102: official splits only, nothing carved', async () => {
  await makeFlowersFixture({ dir: tmp, as: 'folder' });
  const sizes = await Promise.all(['train', 'val', 'test', 'trainval'].map(async (split) => (await openDataset('flowers102', { dataDir: tmp, split })).size));
  expect(sizes).toEqual([4, 3, 5, 7]);
  const val = await openDataset('flowers102', { dataDir: tmp, split: 'val', valFraction: 0.5 });
  expect(ids(val)).toEqual(['image_00002.jpg', 'image_00007.jpg', 'image_00009.jpg']);
  await expect(openDataset('flowers102', { dataDir: tmp, split: 'all' })).rejects.toThrow(/valid splits: train, val, test, trainval/);
});

test('Pets: train/val carved from the official trainval', async () => {
  await makePetsFixture({ dir: tmp, as: 'folder' });
  const train = await openDataset('pets', { dataDir: tmp, split: 'train', valFraction: 0.5 });
  const val = await openDataset('pets', { dataDir: tmp, split: 'val', valFraction: 0.5 });
  const trainval = await openDataset('pets', { dataDir: tmp, split: 'trainval', valFraction: 0.5 });
  expect(trainval.size).toBe(6);
  // Abyssinian has 2 trainval images (one goes to val); every other class has 1 (stays in train).
  expect([train.size, val.size]).toEqual([5, 1]);
  expect(ids(val)[0]).toMatch(/^Abyssinian_10[01]\.jpg$/);
  expect((await openDataset('pets', { dataDir: tmp, split: 'test' })).size).toBe(3);
});

describe('folders and captions', () => {
  test('a flat folder is trainval; train/val carved from it', async () => {
    await makeFolder(tmp, { 'a/1.jpg': [1, 2, 3], 'a/2.jpg': [1, 2, 3], 'a/3.jpg': [1, 2, 3], 'a/4.jpg': [1, 2, 3], 'b/1.png': [9, 9, 9], 'b/2.png': [9, 9, 9] });
    const name = `folder:${tmp}`;
    const all = await openDataset(name, { split: 'trainval' });
    const train = await openDataset(name, { split: 'train', valFraction: 0.25 });
    const val = await openDataset(name, { split: 'val', valFraction: 0.25 });
    expect(all.size).toBe(6);
    expect([train.size, val.size]).toEqual([4, 2]);
    expect(all.dataset).toBe(name);
    await expect(openDataset(name, { split: 'test' })).rejects.toThrow(/has no split "test"; valid splits: train, val, trainval/);
  });

  test('split folders: official train/val used as they are; val carved when only train/test exist', async () => {
    await makeFolder(tmp, { 'x/train/a/1.jpg': [1, 1, 1], 'x/train/a/2.jpg': [1, 1, 1], 'x/val/a/3.jpg': [1, 1, 1], 'y/train/a/1.jpg': [1, 1, 1], 'y/train/a/2.jpg': [1, 1, 1], 'y/test/a/3.jpg': [1, 1, 1] });
    expect((await openDataset(`folder:${path.join(tmp, 'x')}`, { split: 'train' })).size).toBe(2);
    expect((await openDataset(`folder:${path.join(tmp, 'x')}`, { split: 'val' })).size).toBe(1);
    const y = `folder:${path.join(tmp, 'y')}`;
    expect((await openDataset(y, { split: 'val', valFraction: 0.5 })).size).toBe(1);
    expect((await openDataset(y, { split: 'train', valFraction: 0.5 })).size).toBe(1);
    expect((await openDataset(y, { split: 'trainval', valFraction: 0.5 })).size).toBe(2);
    expect((await openDataset(y, { split: 'test' })).size).toBe(1);
  });

  test('captions: trainval, with train/val carved at random (one unlabelled class)', async () => {
    await makeFolder(tmp, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`i${i}.jpg`, [i, i, i] as [number, number, number]])));
    fs.writeFileSync(path.join(tmp, 'c.csv'), 'image,caption\n' + Array.from({ length: 10 }, (_, i) => `i${i}.jpg,caption ${i}\n`).join(''));
    const name = `captions:${path.join(tmp, 'c.csv')}`;
    const val = await openDataset(name, { split: 'val' });
    const train = await openDataset(name, { split: 'train' });
    expect([train.size, val.size]).toEqual([9, 1]);
    expect(val.sample(0).caption).toMatch(/^caption \d$/);
    expect(val.sample(0).label).toBe(-1);
  });
});

describe('extension point', () => {
  test('a registered dataset gets split checking and validation carving', async () => {
    const opened: string[] = [];
    registerDataset('toy', {
      usage: 'toy',
      title: 'a toy set',
      officialSplits: () => ['train', 'test'],
      open: async (split) => {
        opened.push(split);
        const n = split === 'train' ? 20 : 5;
        return {
          dataset: 'toy',
          split,
          classNames: ['a', 'b'],
          size: n,
          files: [],
          sample: (i: number) => ({ index: i, label: i % 2, id: `${split}-${i}` }),
          source: () => ({ kind: 'rgb' as const, image: { width: 1, height: 1, data: new Uint8Array(3) } }),
        };
      },
    });
    expect(knownDatasets()).toContain('toy');
    const val = await openDataset('toy', { split: 'val', valFraction: 0.2 });
    expect(val.size).toBe(4);
    expect(ids(val)).toEqual(carveValidation(Array.from({ length: 20 }, (_, i) => i % 2), 0.2, 0).val.map((i) => `train-${i}`));
    expect(opened).toEqual(['train']);
    registerDataset('toy2', { usage: 'toy2', title: 'no carving', carveValidation: false, officialSplits: () => ['train'], open: async () => { throw new Error('unused'); } });
    await expect(openDataset('toy2', { split: 'val' })).rejects.toThrow(/toy2 has no split "val"; valid splits: train$/);
    expect(() => registerDataset('Bad Name', { usage: 'x', title: 'x', officialSplits: () => [], open: async () => { throw new Error('x'); } })).toThrow(/must be lower-case/);
  });
});

test('datasetInfo: split sizes, origins, class counts, files found', async () => {
  makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'archive', dir: tmp, perBatch: 20 });
  const info = await datasetInfo('cifar10', { dataDir: tmp });
  expect(info.dataset).toBe('cifar10');
  expect(info.numClasses).toBe(10);
  expect(info.classNames[0]).toBe('airplane');
  expect(info.splits.map((s) => [s.name, s.size, s.origin])).toEqual([
    ['train', 90, 'train minus val'],
    ['val', 10, 'carved from train: 10% of each class, seed 0'],
    ['test', 4, 'official'],
    ['trainval', 100, 'all of train'],
  ]);
  expect(info.splits[1].classCounts).toEqual(new Array(10).fill(1));
  expect(info.splits[3].classCounts.reduce((a, b) => a + b, 0)).toBe(100);
  const archive = info.files.find((f) => f.path.endsWith('cifar-10-binary.tar.gz'));
  expect(archive).toEqual({ path: path.join(tmp, 'cifar-10-binary.tar.gz'), found: true, role: 'binary version, archive (used)' });
  expect(info.files.filter((f) => f.found)).toHaveLength(1);
  const flowers = path.join(tmp, 'f');
  await makeFlowersFixture({ dir: flowers, as: 'archive' });
  const fi = await datasetInfo('flowers102', { dataDir: flowers, cacheDir: path.join(tmp, 'cache') });
  expect(fi.splits.map((s) => [s.name, s.size, s.origin])).toEqual([
    ['train', 4, 'official'],
    ['val', 3, 'official'],
    ['test', 5, 'official'],
    ['trainval', 7, 'official'],
  ]);
  expect(fi.files.map((f) => [path.basename(f.path), f.found])).toEqual([
    ['102flowers.tgz', true],
    ['jpg', false],
    ['imagelabels.mat', true],
    ['setid.mat', true],
  ]);
});

describe('carveValidation', () => {
  test('stratified, rounded per class, never a class\'s last sample, deterministic', () => {
    const labels = [...new Array(10).fill(0), ...new Array(3).fill(1), 2, ...new Array(2).fill(3)];
    const a = carveValidation(labels, 0.2, 7);
    const valLabels = a.val.map((i) => labels[i]);
    // class 0: round(2) = 2; class 1: round(0.6) = 1; class 2 (one sample): 0; class 3: round(0.4) -> at least 1.
    expect(valLabels.sort()).toEqual([0, 0, 1, 3]);
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(labels.map((_, i) => i));
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
    expect(carveValidation(labels, 0.2, 7)).toEqual(a);
    const seeds = new Set(Array.from({ length: 8 }, (_, s) => carveValidation(labels, 0.2, s).val.join(',')));
    expect(seeds.size).toBeGreaterThan(1);
    expect(carveValidation(labels, 0, 7)).toEqual({ train: labels.map((_, i) => i), val: [] });
    expect(carveValidation(new Array(4).fill(0), 0.9, 1).val).toHaveLength(3);
    expect(() => carveValidation(labels, 1, 0)).toThrow(DatasetError);
    expect(() => carveValidation(labels, -0.1, 0)).toThrow(/validation fraction must be in \[0, 1\)/);
  });

  test('datasetInfo opens each official split once', async () => {
    const opened: string[] = [];
    registerDataset('counted', {
      usage: 'counted',
      title: 'counts opens',
      officialSplits: () => ['train', 'test'],
      open: async (split) => {
        opened.push(split);
        return {
          dataset: 'counted',
          split,
          classNames: ['a', 'b'],
          size: 10,
          files: [],
          sample: (i: number) => ({ index: i, label: i % 2, id: `${split}-${i}` }),
          source: () => ({ kind: 'rgb' as const, image: { width: 1, height: 1, data: new Uint8Array(3) } }),
        };
      },
    });
    const info = await datasetInfo('counted', { valFraction: 0.2 });
    expect(info.splits.map((s) => [s.name, s.size])).toEqual([
      ['train', 8],
      ['val', 2],
      ['test', 10],
      ['trainval', 10],
    ]);
    expect(opened.sort()).toEqual(['test', 'train']);
  });
});
