import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { locateCifar, openCifar, parseCifarBinary, parseCifarPython, planarToRgb } from '../../src/data/cifar';
import { DatasetError, DatasetSplit, RgbImage } from '../../src/data/types';
import { CIFAR100_CLASSES } from '../../src/text/classnames';
import { cifarBinaryBatch, cifarLabel, cifarPixel, cifarPythonBatch, makeCifarFixture } from '../helpers/fixtures-cifar';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function rgbOf(split: DatasetSplit, i: number): RgbImage {
  const s = split.source(i);
  if (s.kind !== 'rgb') throw new Error(`expected rgb, got ${s.kind}`);
  return s.image;
}

/** Every pixel of sample i equals the fixture's formula for sample k. */
function expectPixels(img: RgbImage, k: number): void {
  expect([img.width, img.height, img.data.length]).toEqual([32, 32, 3072]);
  for (const [y, x] of [
    [0, 0],
    [0, 31],
    [17, 9],
    [31, 31],
  ]) {
    for (let c = 0; c < 3; c++) expect(img.data[(y * 32 + x) * 3 + c]).toBe(cifarPixel(k, c, y, x));
  }
}

describe.each(['binary', 'python'] as const)('%s version', (format) => {
  test.each(['archive', 'folder'] as const)('CIFAR-10 from the %s', async (as) => {
    const fx = makeCifarFixture({ name: 'cifar10', format, as, dir: tmp });
    const train = await openCifar('cifar10', { dataDir: tmp, split: 'train' });
    expect(train.size).toBe(15);
    expect(train.dataset).toBe('cifar10');
    expect(train.split).toBe('train');
    expect(train.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    fx.train.forEach((k, i) => expect(train.sample(i)).toEqual(expect.objectContaining({ index: i, label: cifarLabel('cifar10', k) })));
    expect(train.sample(4).id).toBe(format === 'binary' ? 'data_batch_2.bin:1' : 'data_batch_2:1');
    expectPixels(rgbOf(train, 0), fx.train[0]);
    expectPixels(rgbOf(train, 14), fx.train[14]);
    expect(train.files).toHaveLength(5);
    expect((train as DatasetSplit & { fingerprint?: string }).fingerprint).toMatch(as === 'archive' ? /^cifar10:(binary|python):train:.*:\d+:\d+$/ : /^cifar10:(binary|python):train:.*:(\d+:\d+,){4}\d+:\d+$/);
    const test = await openCifar('cifar10', { dataDir: fx.path, split: 'test' });
    expect(test.size).toBe(4);
    expectPixels(rgbOf(test, 3), fx.test[3]);
    expect(test.sample(3).label).toBe(cifarLabel('cifar10', fx.test[3]));
    expect(() => test.sample(4)).toThrow(RangeError);
    expect(() => test.source(-1)).toThrow(RangeError);
  });

  test.each(['archive', 'folder'] as const)('CIFAR-100 from the %s: fine labels, CLIP spelling', async (as) => {
    const fx = makeCifarFixture({ name: 'cifar100', format, as, dir: tmp, perBatch: 6 });
    const train = await openCifar('cifar100', { dataDir: tmp, split: 'train' });
    expect(train.size).toBe(6);
    expect(train.classNames).toHaveLength(100);
    expect(train.classNames.slice(0, 3)).toEqual(['apple', 'aquarium fish', 'baby']);
    expect(train.classNames[41]).toBe('lawn mower');
    expect(train.classNames).toEqual([...CIFAR100_CLASSES]);
    fx.train.forEach((k, i) => expect(train.sample(i).label).toBe(cifarLabel('cifar100', k)));
    expectPixels(rgbOf(train, 5), fx.train[5]);
    const test = await openCifar('cifar100', { dataDir: tmp, split: 'test' });
    expect(test.size).toBe(4);
  });
});

describe('locating', () => {
  test('prefers the binary folder, then the binary archive, then python', () => {
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'archive', dir: tmp });
    expect(locateCifar('cifar10', tmp)).toEqual({ format: 'binary', kind: 'archive', path: path.join(tmp, 'cifar-10-binary.tar.gz') });
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp });
    expect(locateCifar('cifar10', tmp).kind).toBe('folder');
    expect(locateCifar('cifar10', path.join(tmp, 'cifar-10-binary.tar.gz')).kind).toBe('archive');
  });

  test('nothing found: the error names what was expected and how to get it', () => {
    expect(() => locateCifar('cifar100', tmp)).toThrow(DatasetError);
    expect(() => locateCifar('cifar100', tmp)).toThrow(/no CIFAR-100 found in .*: expected cifar-100-binary\/ or cifar-100-binary\.tar\.gz .*spikeclip data download --dataset cifar100/);
  });

  test('unknown split', async () => {
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'val' as 'train' })).rejects.toThrow(/official splits train and test, not "val"/);
  });
});

describe('bad input', () => {
  test('a truncated batch file (records not whole) names the file', async () => {
    const good = cifarBinaryBatch('cifar10', [0, 1, 2]);
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp, override: { 'data_batch_3.bin': good.subarray(0, good.length - 100) } });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'train' })).rejects.toThrow(
      /data_batch_3\.bin is truncated or not a CIFAR batch: 9119 bytes is not a whole number of 3073-byte records \(2 records and 2973 bytes left over\)/,
    );
    expect(() => parseCifarBinary(new Uint8Array(0), { file: 'x.bin', labelBytes: 1, numClasses: 10 })).toThrow(/x\.bin is empty/);
  });

  test('a truncated batch inside the archive names the member', async () => {
    const good = cifarBinaryBatch('cifar100', [0, 1]);
    makeCifarFixture({ name: 'cifar100', format: 'binary', as: 'archive', dir: tmp, override: { 'test.bin': good.subarray(0, 3074 + 5) } });
    await expect(openCifar('cifar100', { dataDir: tmp, split: 'test' })).rejects.toThrow(/cifar-100-binary\.tar\.gz:cifar-100-binary\/test\.bin is truncated/);
  });

  test('label values out of range', async () => {
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp, override: { 'test_batch.bin': cifarBinaryBatch('cifar10', [0, 1], [4, 10]) } });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'test' })).rejects.toThrow(/test_batch\.bin: record 1 has label 10, but the dataset has 10 classes \(0\.\.9\)/);
    const bad100 = cifarBinaryBatch('cifar100', [0]);
    bad100[1] = 100;
    expect(() => parseCifarBinary(bad100, { file: 'train.bin', labelBytes: 2, numClasses: 100 })).toThrow(/train\.bin: record 0 has label 100/);
    bad100[0] = 20;
    expect(() => parseCifarBinary(bad100, { file: 'train.bin', labelBytes: 2, numClasses: 100 })).toThrow(/coarse label 20, but CIFAR-100 has 20 superclasses/);
  });

  test('a missing split file names it (folder and archive)', async () => {
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp, override: { 'data_batch_4.bin': null } });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'train' })).rejects.toThrow(/cifar-10-batches-bin[/\\]data_batch_4\.bin is missing/);
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'test' })).resolves.toBeDefined();
    const other = path.join(tmp, 'other');
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'archive', dir: other, override: { 'test_batch.bin': null } });
    await expect(openCifar('cifar10', { dataDir: other, split: 'test' })).rejects.toThrow(/cifar-10-binary\.tar\.gz has no member cifar-10-batches-bin\/test_batch\.bin/);
  });

  test('a class-name file with the wrong count or order; none at all is fine', async () => {
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp, override: { 'batches.meta.txt': Buffer.from('cat\ndog\n') } });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'test' })).rejects.toThrow(/batches\.meta\.txt lists 2 class names, CIFAR-10 has 10/);
    const swapped = 'automobile\nairplane\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n';
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: tmp, override: { 'batches.meta.txt': Buffer.from(swapped) } });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'test' })).rejects.toThrow(/batches\.meta\.txt: class 0 is "automobile", but CIFAR-10's class 0 is "airplane"/);
    makeCifarFixture({ name: 'cifar10', format: 'binary', as: 'folder', dir: path.join(tmp, 'n'), override: { 'batches.meta.txt': null } });
    expect((await openCifar('cifar10', { dataDir: path.join(tmp, 'n'), split: 'test' })).classNames[0]).toBe('airplane');
  });
});

describe('python version: bad input', () => {
  test('labels out of range, label/image count mismatch, wrong pickle content', async () => {
    expect(() => parseCifarPython(cifarPythonBatch('cifar10', [0, 1], 'b', [3, 12]), { file: 'data_batch_1', numClasses: 10 })).toThrow(
      /data_batch_1: record 1 has label 12, but the dataset has 10 classes/,
    );
    makeCifarFixture({ name: 'cifar100', format: 'python', as: 'archive', dir: tmp, override: { test: cifarPythonBatch('cifar100', [0, 1], 'b', [5, 100]) } });
    await expect(openCifar('cifar100', { dataDir: tmp, split: 'test' })).rejects.toThrow(/cifar-100-python\.tar\.gz:cifar-100-python\/test: record 1 has label 100/);
    const good = cifarPythonBatch('cifar10', [0, 1, 2], 'b');
    expect(() => parseCifarPython(good.subarray(0, good.length - 200), { file: 'cut', numClasses: 10 })).toThrow(/cut/);
    expect(() => parseCifarPython(Buffer.from([0x80, 0x02, 0x4b, 0x05, 0x2e]), { file: 'int', numClasses: 10 })).toThrow(/int is not a CIFAR python batch \(the pickle holds no dict\)/);
  });

  test('a pickle that tries to call anything else is refused, nothing runs', () => {
    const evil = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cos\nsystem\nq\x00U\x04echo\x85R.', 'latin1')]);
    expect(() => parseCifarPython(evil, { file: 'evil', numClasses: 10 })).toThrow(/os\.system|not allowed|allow/i);
  });

  test('a missing python split file names it', async () => {
    makeCifarFixture({ name: 'cifar10', format: 'python', as: 'folder', dir: tmp, override: { data_batch_2: null } });
    await expect(openCifar('cifar10', { dataDir: tmp, split: 'train' })).rejects.toThrow(/cifar-10-batches-py[/\\]data_batch_2 is missing/);
  });
});

test('planar to interleaved', () => {
  const planes = new Uint8Array(3072 + 2);
  planes[2] = 1; // R of pixel 0
  planes[2 + 1024] = 2; // G of pixel 0
  planes[2 + 2048 + 1023] = 3; // B of the last pixel
  const img = planarToRgb(planes, 2);
  expect([img.data[0], img.data[1], img.data[2], img.data[3071]]).toEqual([1, 2, 0, 3]);
});
