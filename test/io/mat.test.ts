import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { MatError, MatNumeric, matVector, parseMat, readMatFile } from '../../src/io/mat';
import { MatVariable, matHeader, writeMat } from '../helpers/mat-writer';

const VARS: MatVariable[] = [
  // Flowers-style: declared double, stored in the narrowest unsigned type.
  { name: 'labels', value: { values: [77, 77, 1, 102, 5], stored: 'uint8' } },
  { name: 'trnid', value: { values: [8189, 3, 4000], stored: 'uint16' } },
  { name: 'd', value: { values: [1.5, -2.25, 3], dims: [3, 1] } },
  { name: 'z', value: { values: [1, 2], imag: [3, 4] } },
  { name: 'i32', value: { class: 'int32', stored: 'int8', values: [-3, 4] } },
  { name: 'i64', value: { class: 'int64', values: [-5, 2 ** 40] } },
  { name: 'f', value: { class: 'single', values: [0.5, -1] } },
  { name: 'u', value: { class: 'uint8', values: [200] } }, // data fits the small element form
  { name: 's', value: { kind: 'char', text: 'hello' } },
  { name: 'u8s', value: { kind: 'char', text: 'héllo', stored: 'utf8' } },
  { name: 'c', value: { kind: 'cell', cells: [{ values: [1] }, { kind: 'char', text: 'ab' }] } },
  { name: 'st', value: { kind: 'struct', fields: { a: { values: [1, 2] }, bb: { kind: 'char', text: 'x' } } } },
  { name: 'sp', value: { kind: 'sparse', rows: 2, cols: 2 } },
  { name: 'lg', value: { class: 'uint8', logical: true, values: [1, 0, 1] } },
  { name: 'm', value: { values: [1, 2, 3, 4, 5, 6], dims: [2, 3], stored: 'int16' } },
];

function num(mat: ReturnType<typeof parseMat>, name: string): MatNumeric {
  const v = mat.variables.get(name);
  if (!v || v.kind !== 'numeric') throw new Error(`${name} is not numeric`);
  return v;
}

describe.each([
  [false, 'little'],
  [true, 'little'],
  [false, 'big'],
  [true, 'big'],
] as const)('compressed=%s, %s-endian', (compress, endian) => {
  const mat = parseMat(writeMat(VARS, { compress, endian }), 'x.mat');

  test('header and variables', () => {
    expect(mat.endian).toBe(endian);
    expect(mat.header).toMatch(/^MATLAB 5\.0 MAT-file/);
    expect([...mat.variables.keys()]).toEqual(VARS.map((v) => v.name));
  });

  test('numeric arrays whose stored type differs from the class', () => {
    const labels = num(mat, 'labels');
    expect(labels.class).toBe('double');
    expect(labels.storedType).toBe('miUINT8');
    expect(labels.dims).toEqual([1, 5]);
    expect(Array.from(labels.real)).toEqual([77, 77, 1, 102, 5]);
    expect(num(mat, 'trnid').storedType).toBe('miUINT16');
    expect(Array.from(num(mat, 'trnid').real)).toEqual([8189, 3, 4000]);
    expect(Array.from(num(mat, 'd').real)).toEqual([1.5, -2.25, 3]);
    expect(num(mat, 'd').dims).toEqual([3, 1]);
    expect(num(mat, 'i32').class).toBe('int32');
    expect(Array.from(num(mat, 'i32').real)).toEqual([-3, 4]);
    expect(Array.from(num(mat, 'i64').real)).toEqual([-5, 2 ** 40]);
    expect(Array.from(num(mat, 'f').real)).toEqual([0.5, -1]);
    expect(Array.from(num(mat, 'u').real)).toEqual([200]);
    expect(num(mat, 'lg').logical).toBe(true);
    expect(Array.from(num(mat, 'm').real)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(num(mat, 'm').dims).toEqual([2, 3]);
    const z = num(mat, 'z');
    expect(Array.from(z.real)).toEqual([1, 2]);
    expect(Array.from(z.imag ?? [])).toEqual([3, 4]);
  });

  test('char, cell, struct; sparse reported as unsupported', () => {
    expect(mat.variables.get('s')).toEqual(expect.objectContaining({ kind: 'char', rows: ['hello'] }));
    expect(mat.variables.get('u8s')).toEqual(expect.objectContaining({ kind: 'char', rows: ['héllo'] }));
    const c = mat.variables.get('c');
    if (c?.kind !== 'cell') throw new Error('not a cell');
    expect(c.cells.map((x) => x.kind)).toEqual(['numeric', 'char']);
    const st = mat.variables.get('st');
    if (st?.kind !== 'struct') throw new Error('not a struct');
    expect(st.fields).toEqual(['a', 'bb']);
    const a = st.elements[0].a;
    expect(a.kind === 'numeric' && Array.from(a.real)).toEqual([1, 2]);
    expect(mat.variables.get('sp')).toEqual(expect.objectContaining({ kind: 'unsupported', class: 'sparse' }));
  });

  test('matVector', () => {
    expect(Array.from(matVector(mat, 'labels', 'x.mat'))).toEqual([77, 77, 1, 102, 5]);
    expect(Array.from(matVector(mat, 'd', 'x.mat'))).toEqual([1.5, -2.25, 3]);
    expect(() => matVector(mat, 'nope', 'x.mat')).toThrow(/x\.mat has no variable "nope" \(it has "labels", "trnid"/);
    expect(() => matVector(mat, 'm', 'x.mat')).toThrow(/dimensions 2x3, expected a vector/);
    expect(() => matVector(mat, 's', 'x.mat')).toThrow(/is a char array/);
    expect(() => matVector(mat, 'sp', 'x.mat')).toThrow(/is a sparse array/);
    expect(() => matVector(mat, 'z', 'x.mat')).toThrow(/is complex/);
  });
});

describe('files written by scipy.io.savemat (an independent writer)', () => {
  // savemat({'labels': uint8 [[3, 1, 102]], 'ids': float64 [[0.5, 2.0]]}, do_compression=True/False)
  const compressed =
    'TUFUTEFCIDUuMCBNQVQtZmlsZSBQbGF0Zm9ybTogcG9zaXgsIENyZWF0ZWQgb246IE1vbiBOb3YgMzAgMDQ6MTU6NTAgMjAyNgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABSU0PAAAALwAAAHic42NgYLAAYjYg5gBiTgYIYIXyGYGYGUqD1OQkJqXmFDMwMAFFmRnTGAA6VgNYDwAAAC4AAAB4nONjYGBwAGI2IOaA0iDACuUzAjETmGZmyEwpZuAEsgUYYOCBPZThAABMJwMv';
  const plain =
    'TUFUTEFCIDUuMCBNQVQtZmlsZSBQbGF0Zm9ybTogcG9zaXgsIENyZWF0ZWQgb246IE1vbiBOb3YgMzAgMDQ6MTU6NTAgMjAyNgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABSU0OAAAAOAAAAAYAAAAIAAAACQAAAAAAAAAFAAAACAAAAAEAAAADAAAAAQAAAAYAAABsYWJlbHMAAAIAAwADAWYADgAAAEAAAAAGAAAACAAAAAYAAAAAAAAABQAAAAgAAAABAAAAAgAAAAEAAwBpZHMACQAAABAAAAAAAAAAAADgPwAAAAAAAABA';
  test.each([
    ['compressed', compressed],
    ['plain', plain],
  ])('%s', (_kind, b64) => {
    const mat = parseMat(Buffer.from(b64, 'base64'), 'scipy.mat');
    expect(num(mat, 'labels').class).toBe('uint8');
    expect(Array.from(matVector(mat, 'labels', 'scipy.mat'))).toEqual([3, 1, 102]);
    expect(Array.from(matVector(mat, 'ids', 'scipy.mat'))).toEqual([0.5, 2]);
  });
});

describe('bad input', () => {
  const good = writeMat([{ name: 'labels', value: { values: [1, 2, 3, 4, 5, 6, 7, 8, 9], stored: 'uint8' } }]);

  test('short, v4, v7.3 and garbage files', () => {
    expect(() => parseMat(Buffer.alloc(50), 'a.mat')).toThrow(/a\.mat is not a MATLAB 5 MAT-file: 50 bytes is shorter than the 128-byte header/);
    expect(() => parseMat(Buffer.alloc(300), 'v4.mat')).toThrow(/v4\.mat is not a MATLAB 5 MAT-file .*v4 MAT-files are not supported/);
    const h73 = matHeader({ header: 'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .' });
    h73.writeUInt16LE(0x0200, 124);
    expect(() => parseMat(Buffer.concat([h73, Buffer.alloc(512)]), 'new.mat')).toThrow(/new\.mat is a MATLAB 7\.3 \(HDF5\) file, which is not supported \(fix: .*-v7/);
  });

  test('truncated files', () => {
    for (const cut of [good.length - 1, good.length - 12, 140]) {
      expect(() => parseMat(good.subarray(0, cut), 'cut.mat')).toThrow(MatError);
    }
    expect(() => parseMat(good.subarray(0, good.length - 12), 'cut.mat')).toThrow(/cut\.mat: .*the file is truncated/);
    const z = writeMat([{ name: 'labels', value: { values: [1, 2, 3] } }], { compress: true });
    expect(() => parseMat(z.subarray(0, z.length - 10), 'z.mat')).toThrow(/z\.mat: .*truncated/);
  });

  test('corrupt compressed data', () => {
    const z = writeMat([{ name: 'labels', value: { values: [1, 2, 3] } }], { compress: true });
    const bad = Buffer.from(z);
    bad.fill(0x41, 136, 150);
    expect(() => parseMat(bad, 'bad.mat')).toThrow(/bad\.mat: compressed element at byte 128 is corrupt/);
  });

  test('a compressed stream without its checksum is still read', () => {
    const z = writeMat([{ name: 'labels', value: { values: [1, 2, 3] } }], { compress: true });
    const m = z.subarray(128 + 8);
    const raw = zlib.inflateSync(m);
    const noTrailer = m.subarray(0, m.length - 4); // drop adler32
    const file = Buffer.concat([z.subarray(0, 128), Buffer.from([15, 0, 0, 0]), Buffer.from(new Uint32Array([noTrailer.length]).buffer), noTrailer]);
    expect(raw.length).toBeGreaterThan(0);
    expect(Array.from(matVector(parseMat(file, 'nt.mat'), 'labels', 'nt.mat'))).toEqual([1, 2, 3]);
  });

  test('value count disagreeing with the dimensions', () => {
    const bad = writeMat([{ name: 'labels', value: { values: [1, 2, 3], dims: [1, 4], stored: 'uint8' } }]);
    expect(() => parseMat(bad, 'n.mat')).toThrow(/n\.mat: double array labels of dimensions \[1x4\] holds 3 values, expected 4/);
  });

  test('readMatFile names a missing file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-'));
    try {
      expect(() => readMatFile(path.join(dir, 'setid.mat'))).toThrow(/setid\.mat does not exist/);
      fs.writeFileSync(path.join(dir, 'ok.mat'), good);
      expect(Array.from(matVector(readMatFile(path.join(dir, 'ok.mat')), 'labels', 'ok.mat'))).toHaveLength(9);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
