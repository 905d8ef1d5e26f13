import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { captionSource, openCaptions, parseCsv } from '../../src/data/captions';
import { DatasetError } from '../../src/data/types';
import { makeFolder } from '../helpers/fixtures-folder';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'captions-test-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const R: [number, number, number] = [200, 10, 10];

describe('RFC 4180 parsing', () => {
  test('quotes, doubled quotes, commas and line breaks inside quotes, CRLF, BOM, no final newline', () => {
    const text = '\ufeffimage,caption\r\na.jpg,"a dog, running"\r\n"b c.png","she said ""hi""\nand left"\r\n\r\nd.jpg,plain';
    expect(parseCsv(text, 'x.csv')).toEqual([
      { fields: ['image', 'caption'], line: 1 },
      { fields: ['a.jpg', 'a dog, running'], line: 2 },
      { fields: ['b c.png', 'she said "hi"\nand left'], line: 3 },
      { fields: ['d.jpg', 'plain'], line: 6 },
    ]);
    expect(parseCsv('a,b\n1,""\n', 'x.csv')[1].fields).toEqual(['1', '']);
    expect(parseCsv('a,,b\n', 'x.csv')[0].fields).toEqual(['a', '', 'b']);
  });

  test('malformed quoting names the line', () => {
    expect(() => parseCsv('image,caption\na.jpg,"open\n', 'x.csv')).toThrow(/x\.csv:2: a quoted field is not closed/);
    expect(() => parseCsv('image,caption\na.jpg,"x"y\n', 'x.csv')).toThrow(/x\.csv:2: unexpected "y" after a closing quote/);
    expect(() => parseCsv('image,caption\n\na.jpg,x"y\n', 'x.csv')).toThrow(/x\.csv:3: a quote in the middle of an unquoted field/);
  });
});

test('a CSV with paths relative to its folder, extra columns, any column order', async () => {
  await makeFolder(tmp, { 'imgs/a.jpg': R, 'imgs/sub/b.png': R, 'meta/c.webp': R });
  const abs = path.join(tmp, 'meta', 'c.webp');
  fs.mkdirSync(path.join(tmp, 'lists'));
  fs.writeFileSync(path.join(tmp, 'lists', 'caps.csv'), `id,caption,image\n1,"a red square, small",../imgs/a.jpg\n2,another one,../imgs/sub/b.png\n3,absolute,${abs}\n`);
  const s = await openCaptions(path.join(tmp, 'lists', 'caps.csv'), 'trainval');
  expect(s.size).toBe(3);
  expect(s.classNames).toEqual([]);
  expect(s.sample(0)).toEqual({ index: 0, label: -1, caption: 'a red square, small', id: '../imgs/a.jpg' });
  expect(s.source(1)).toEqual({ kind: 'file', path: path.join(tmp, 'imgs', 'sub', 'b.png') });
  expect(s.source(2)).toEqual({ kind: 'file', path: abs });
});

test('a folder with captions.csv, or images with .txt captions beside them', async () => {
  await makeFolder(tmp, { 'x/a.jpg': R, 'x/a.txt': 'first caption\n', 'x/d/b.png': R, 'x/d/b.txt': 'second' });
  expect(captionSource(path.join(tmp, 'x')).kind).toBe('sidecar');
  const s = await openCaptions(path.join(tmp, 'x'), 'trainval');
  expect(Array.from({ length: s.size }, (_, i) => [s.sample(i).id, s.sample(i).caption])).toEqual([
    ['a.jpg', 'first caption'],
    ['d/b.png', 'second'],
  ]);
  fs.writeFileSync(path.join(tmp, 'x', 'captions.csv'), 'image,caption\na.jpg,from the csv\n');
  expect(captionSource(path.join(tmp, 'x')).kind).toBe('csv');
  expect((await openCaptions(path.join(tmp, 'x'), 'trainval')).sample(0).caption).toBe('from the csv');
});

describe('bad input', () => {
  test('header, field count, empty fields, missing images', async () => {
    await makeFolder(tmp, { 'a.jpg': R });
    const csv = (name: string, text: string) => {
      fs.writeFileSync(path.join(tmp, name), text);
      return path.join(tmp, name);
    };
    await expect(openCaptions(csv('h.csv', 'file,text\na.jpg,x\n'), 'trainval')).rejects.toThrow(/h\.csv:1: the header must name the columns "image" and "caption", found "file", "text"/);
    await expect(openCaptions(csv('n.csv', 'image,caption\na.jpg,x,y\n'), 'trainval')).rejects.toThrow(/n\.csv:2: 3 field\(s\), the header has 2/);
    await expect(openCaptions(csv('e.csv', 'image,caption\na.jpg,  \n'), 'trainval')).rejects.toThrow(/e\.csv:2: empty caption for a\.jpg/);
    await expect(openCaptions(csv('m.csv', 'image,caption\na.jpg,x\nmissing.jpg,y\n'), 'trainval')).rejects.toThrow(/m\.csv: 1 image\(s\) not found, e\.g\. missing\.jpg \(line 3\)/);
    await expect(openCaptions(csv('z.csv', ''), 'trainval')).rejects.toThrow(/z\.csv is empty/);
    await expect(openCaptions(csv('o.csv', 'image,caption\n'), 'trainval')).rejects.toThrow(/o\.csv has a header but no rows/);
    await expect(openCaptions(path.join(tmp, 'nope.csv'), 'trainval')).rejects.toThrow(DatasetError);
    await expect(openCaptions(path.join(tmp, 'a.jpg'), 'trainval')).rejects.toThrow(/is an image, not a caption CSV/);
    await expect(openCaptions(csv('ok.csv', 'image,caption\na.jpg,x\n'), 'train')).rejects.toThrow(/the split "trainval" .*not "train"/);
  });

  test('an image without its caption file', async () => {
    await makeFolder(tmp, { 'a.jpg': R, 'a.txt': 'ok', 'b.png': R });
    await expect(openCaptions(tmp, 'trainval')).rejects.toThrow(/1 image\(s\) have no caption file, e\.g\. b\.txt/);
  });
});
