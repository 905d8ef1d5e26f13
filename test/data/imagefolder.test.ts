import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { imageFolderLayout, listImages, openImageFolder } from '../../src/data/imagefolder';
import { DatasetError } from '../../src/data/types';
import { makeFolder } from '../helpers/fixtures-folder';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const R: [number, number, number] = [200, 10, 10];
const G: [number, number, number] = [10, 200, 10];

test('flat folder: sorted classes, sorted files, recursive, extensions, hidden entries ignored', async () => {
  await makeFolder(tmp, {
    'dog/b.png': G,
    'dog/a.JPG': R,
    'dog/sub/z.webp': G,
    'dog/c.jpeg': R,
    'dog/notes.txt': 'not an image',
    'dog/.hidden.jpg': R,
    'Cat/x.jpg': R,
    'ant_lion/1.png': G,
    '.ipynb_checkpoints/junk.jpg': R,
    'README.md': 'top-level files are ignored',
  });
  const layout = imageFolderLayout(tmp);
  expect(layout.kind).toBe('flat');
  expect(layout.splits).toEqual(['trainval']);
  // Code-point order, like Python's sorted(): upper case before lower case.
  expect(layout.classes).toEqual(['Cat', 'ant_lion', 'dog']);
  const s = await openImageFolder(tmp, 'trainval');
  expect(s.dataset).toBe(`folder:${tmp}`);
  expect(s.classNames).toEqual(['Cat', 'ant_lion', 'dog']);
  expect(s.size).toBe(6);
  expect(Array.from({ length: s.size }, (_, i) => [s.sample(i).id, s.sample(i).label])).toEqual([
    ['Cat/x.jpg', 0],
    ['ant_lion/1.png', 1],
    ['dog/a.JPG', 2],
    ['dog/b.png', 2],
    ['dog/c.jpeg', 2],
    ['dog/sub/z.webp', 2],
  ]);
  expect(s.source(3)).toEqual({ kind: 'file', path: path.join(tmp, 'dog', 'b.png') });
  expect(() => s.sample(6)).toThrow(RangeError);
  expect(listImages(path.join(tmp, 'dog')).map((p) => path.basename(p))).toEqual(['a.JPG', 'b.png', 'c.jpeg', 'z.webp']);
});

test('split folders (ImageNet style): one class list across splits', async () => {
  await makeFolder(tmp, {
    'train/n01/a.jpg': R,
    'train/n01/b.jpg': R,
    'train/n02/a.jpg': G,
    'val/n02/v.png': G,
    'val/n03/v.png': G,
  });
  const layout = imageFolderLayout(tmp);
  expect(layout).toEqual({ root: tmp, kind: 'split-folders', splits: ['train', 'val'], classes: ['n01', 'n02', 'n03'] });
  const train = await openImageFolder(tmp, 'train', 'folder:x');
  expect(train.size).toBe(3);
  expect(train.classNames).toEqual(['n01', 'n02', 'n03']);
  const val = await openImageFolder(tmp, 'val', 'folder:x');
  expect([val.sample(0).label, val.sample(1).label]).toEqual([1, 2]);
  await expect(openImageFolder(tmp, 'test')).rejects.toThrow(/has the split\(s\) train, val, not "test"/);
});

test('symbolic links are followed once, loops are not walked', async () => {
  await makeFolder(tmp, { 'a/x.jpg': R, 'shared/s.png': G });
  fs.symlinkSync(path.join(tmp, 'shared'), path.join(tmp, 'a', 'link'));
  fs.symlinkSync(path.join(tmp, 'a'), path.join(tmp, 'a', 'loop'));
  const s = await openImageFolder(tmp, 'trainval');
  // Classes: a, shared. a holds x.jpg and (through the link) s.png; the loop adds nothing.
  expect(s.classNames).toEqual(['a', 'shared']);
  expect(Array.from({ length: s.size }, (_, i) => s.sample(i).id)).toEqual(['a/x.jpg', 'a/link/s.png', 'shared/s.png']);
});

describe('bad input', () => {
  test('missing folder, no classes, empty class', async () => {
    expect(() => imageFolderLayout(path.join(tmp, 'nope'))).toThrow(/image folder .*nope does not exist or is not a folder/);
    await makeFolder(tmp, { 'loose.jpg': R });
    expect(() => imageFolderLayout(tmp)).toThrow(DatasetError);
    expect(() => imageFolderLayout(tmp)).toThrow(/has no class folders \(expected .*<class>\/<image>\.jpg\)/);
    await makeFolder(tmp, { 'a/x.jpg': R, 'b/readme.txt': 'no images' });
    await expect(openImageFolder(tmp, 'trainval')).rejects.toThrow(/no \.jpg\/\.jpeg\/\.png\/\.webp files in the class folder\(s\) b/);
  });

  test('unknown split for a flat folder', async () => {
    await makeFolder(tmp, { 'a/x.jpg': R });
    await expect(openImageFolder(tmp, 'train')).rejects.toThrow(/has the split\(s\) trainval \(a flat folder: one pool of images\), not "train"/);
  });
});
