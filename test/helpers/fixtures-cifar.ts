/**
 * Tiny CIFAR-10/100 fixtures in the exact official layouts: the binary version
 * (`cifar-10-batches-bin/data_batch_{1..5}.bin`, `test_batch.bin`, `batches.meta.txt`;
 * `cifar-100-binary/train.bin`, `test.bin`, `fine_label_names.txt`, `coarse_label_names.txt`) and
 * the python version (Python 2 cPickle protocol-2 dicts with a numpy uint8 `data` array, written
 * opcode by opcode like the originals), as a folder or as the `.tar.gz` archive.
 * Pixels and labels are a pure function of the sample's position, so tests can check every byte.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CIFAR100_CLASSES } from '../../src/text/classnames';
import { WriterEntry, writeTarGz } from './tar-writer';

export type CifarFixtureName = 'cifar10' | 'cifar100';

const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** CIFAR-100's fine label names in the dataset's own spelling (underscores). */
export function cifar100FineNames(): string[] {
  return CIFAR100_CLASSES.map((n) => n.replace(/ /g, '_'));
}

export function cifar100CoarseNames(): string[] {
  return Array.from({ length: 20 }, (_, i) => (i === 0 ? 'aquatic_mammals' : `superclass_${i}`));
}

/** Label of the k-th sample (global over train, then test offset by 1000). */
export function cifarLabel(name: CifarFixtureName, k: number): number {
  return (k * 7 + 3) % (name === 'cifar10' ? 10 : 100);
}

/** Value of channel c (0 R, 1 G, 2 B) at (y, x) of the k-th sample. */
export function cifarPixel(k: number, c: number, y: number, x: number): number {
  return (k * 31 + c * 67 + y * 5 + x * 3) & 0xff;
}

/** The planar (R, G, B planes) pixels of sample k. */
export function cifarPlanes(k: number): Uint8Array {
  const out = new Uint8Array(3072);
  for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[c * 1024 + y * 32 + x] = cifarPixel(k, c, y, x);
  return out;
}

/** A binary batch: records of label byte(s) + 3072 pixel bytes. */
export function cifarBinaryBatch(name: CifarFixtureName, ks: number[], labels?: number[]): Buffer {
  const lb = name === 'cifar10' ? 1 : 2;
  const out = Buffer.alloc(ks.length * (3072 + lb));
  ks.forEach((k, r) => {
    const base = r * (3072 + lb);
    const fine = labels ? labels[r] : cifarLabel(name, k);
    if (lb === 2) {
      out[base] = fine % 20;
      out[base + 1] = fine;
    } else out[base] = fine;
    out.set(cifarPlanes(k), base + lb);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Python 2 cPickle, protocol 2, as the CIFAR python batches are written.

class Py2Pickler {
  private parts: Buffer[] = [];
  private memo = 0;

  private op(...bytes: number[]): void {
    this.parts.push(Buffer.from(bytes));
  }
  private raw(b: Buffer): void {
    this.parts.push(b);
  }
  private put(): void {
    this.memo++;
    if (this.memo < 256) this.op(0x71, this.memo); // BINPUT
    else {
      const b = Buffer.alloc(5);
      b[0] = 0x72; // LONG_BINPUT
      b.writeUInt32LE(this.memo, 1);
      this.raw(b);
    }
  }
  /** Python 2 str: SHORT_BINSTRING (U) or BINSTRING (T). */
  str(s: Buffer | string): void {
    const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
    if (b.length < 256) this.op(0x55, b.length);
    else {
      const h = Buffer.alloc(5);
      h[0] = 0x54;
      h.writeUInt32LE(b.length, 1);
      this.raw(h);
    }
    this.raw(b);
    this.put();
  }
  int(v: number): void {
    if (v >= 0 && v < 256) this.op(0x4b, v); // BININT1
    else if (v >= 0 && v < 65536) this.op(0x4d, v & 0xff, v >> 8); // BININT2
    else {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(v, 1);
      this.raw(b);
    }
  }
  global(module: string, name: string): void {
    this.raw(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    this.put();
  }
  intList(values: number[]): void {
    this.op(0x5d); // EMPTY_LIST
    this.put();
    for (let i = 0; i < values.length; i += 1000) {
      this.op(0x28); // MARK
      for (const v of values.slice(i, i + 1000)) this.int(v);
      this.op(0x65); // APPENDS
    }
  }
  strList(values: string[]): void {
    this.op(0x5d);
    this.put();
    this.op(0x28);
    for (const v of values) this.str(v);
    this.op(0x65);
  }
  /** numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') then BUILD with the uint8 array state. */
  uint8Array(shape: number[], data: Uint8Array): void {
    this.global('numpy.core.multiarray', '_reconstruct');
    this.global('numpy', 'ndarray');
    this.int(0);
    this.op(0x85); // TUPLE1
    this.put();
    this.str('b');
    this.op(0x87); // TUPLE3
    this.put();
    this.op(0x52); // REDUCE
    this.put();
    // state: (1, shape, dtype, False, rawdata)
    this.op(0x28); // MARK
    this.int(1);
    for (const d of shape) this.int(d);
    this.op(shape.length === 2 ? 0x86 : 0x85); // TUPLE2 / TUPLE1
    this.put();
    this.global('numpy', 'dtype');
    this.str('u1');
    this.int(0);
    this.int(1);
    this.op(0x87, 0x52); // TUPLE3, REDUCE
    this.put();
    // dtype state: (3, '|', None, None, None, -1, -1, 0)
    this.op(0x28);
    this.int(3);
    this.str('|');
    this.op(0x4e, 0x4e, 0x4e); // None x3
    this.raw(Buffer.from([0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff]));
    this.int(0);
    this.op(0x74); // TUPLE
    this.put();
    this.op(0x62); // BUILD
    this.op(0x89); // NEWFALSE
    this.str(Buffer.from(data));
    this.op(0x74); // TUPLE
    this.put();
    this.op(0x62); // BUILD
  }
  /** A dict of str keys; values written by the callbacks. */
  dict(entries: Array<[string, () => void]>): void {
    this.op(0x7d); // EMPTY_DICT
    this.put();
    this.op(0x28); // MARK
    for (const [k, write] of entries) {
      this.str(k);
      write();
    }
    this.op(0x75); // SETITEMS
  }
  finish(): Buffer {
    return Buffer.concat([Buffer.from([0x80, 0x02]), ...this.parts, Buffer.from([0x2e])]);
  }
}

/** A python batch pickle like `data_batch_1` (CIFAR-10) or `train` (CIFAR-100). */
export function cifarPythonBatch(name: CifarFixtureName, ks: number[], batchLabel: string, labels?: number[]): Buffer {
  const data = new Uint8Array(ks.length * 3072);
  ks.forEach((k, r) => data.set(cifarPlanes(k), r * 3072));
  const fine = labels ?? ks.map((k) => cifarLabel(name, k));
  const p = new Py2Pickler();
  const filenames = ks.map((k) => `image_${k}.png`);
  if (name === 'cifar10') {
    p.dict([
      ['batch_label', () => p.str(batchLabel)],
      ['labels', () => p.intList(fine)],
      ['data', () => p.uint8Array([ks.length, 3072], data)],
      ['filenames', () => p.strList(filenames)],
    ]);
  } else {
    p.dict([
      ['filenames', () => p.strList(filenames)],
      ['batch_label', () => p.str(batchLabel)],
      ['fine_labels', () => p.intList(fine)],
      ['coarse_labels', () => p.intList(fine.map((f) => f % 20))],
      ['data', () => p.uint8Array([ks.length, 3072], data)],
    ]);
  }
  return p.finish();
}

/** The python meta pickle (`batches.meta` / `meta`). */
export function cifarPythonMeta(name: CifarFixtureName, perBatch: number): Buffer {
  const p = new Py2Pickler();
  if (name === 'cifar10') {
    p.dict([
      ['num_cases_per_batch', () => p.int(perBatch)],
      ['label_names', () => p.strList(CIFAR10_NAMES)],
      ['num_vis', () => p.int(3072)],
    ]);
  } else {
    p.dict([
      ['fine_label_names', () => p.strList(cifar100FineNames())],
      ['coarse_label_names', () => p.strList(cifar100CoarseNames())],
    ]);
  }
  return p.finish();
}

export interface CifarFixture {
  /** The folder or archive written. */
  path: string;
  /** Sample ids k of the train split, in order (labels: cifarLabel(name, k)). */
  train: number[];
  test: number[];
  /** Class names as the dataset spells them. */
  rawNames: string[];
  /** member/file name -> bytes, before packing (for tests that tamper with one). */
  files: Map<string, Buffer>;
}

export interface CifarFixtureOptions {
  name: CifarFixtureName;
  format: 'binary' | 'python';
  as: 'archive' | 'folder';
  /** Folder to write into (the archive or the dataset folder is created inside). */
  dir: string;
  /** Samples per CIFAR-10 batch / CIFAR-100 train file (default 3). */
  perBatch?: number;
  /** Test samples (default 4). */
  testCount?: number;
  /** Replace or drop (null) files before writing, by file name within the dataset folder. */
  override?: Record<string, Buffer | null>;
}

const FOLDERS = {
  cifar10: { binary: ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz'], python: ['cifar-10-batches-py', 'cifar-10-python.tar.gz'] },
  cifar100: { binary: ['cifar-100-binary', 'cifar-100-binary.tar.gz'], python: ['cifar-100-python', 'cifar-100-python.tar.gz'] },
} as const;

/** Writes a CIFAR fixture in the official layout. */
export function makeCifarFixture(opts: CifarFixtureOptions): CifarFixture {
  const per = opts.perBatch ?? 3;
  const testCount = opts.testCount ?? 4;
  const files = new Map<string, Buffer>();
  const train: number[] = [];
  const trainBatches = opts.name === 'cifar10' ? 5 : 1;
  const batchKs: number[][] = [];
  for (let b = 0; b < trainBatches; b++) {
    const ks = Array.from({ length: per }, (_, r) => b * per + r);
    batchKs.push(ks);
    train.push(...ks);
  }
  const test = Array.from({ length: testCount }, (_, r) => 1000 + r);
  const rawNames = opts.name === 'cifar10' ? CIFAR10_NAMES : cifar100FineNames();
  if (opts.format === 'binary') {
    if (opts.name === 'cifar10') {
      batchKs.forEach((ks, b) => files.set(`data_batch_${b + 1}.bin`, cifarBinaryBatch('cifar10', ks)));
      files.set('test_batch.bin', cifarBinaryBatch('cifar10', test));
      files.set('batches.meta.txt', Buffer.from(CIFAR10_NAMES.join('\n') + '\n\n'));
    } else {
      files.set('train.bin', cifarBinaryBatch('cifar100', batchKs[0]));
      files.set('test.bin', cifarBinaryBatch('cifar100', test));
      files.set('fine_label_names.txt', Buffer.from(cifar100FineNames().join('\n') + '\n'));
      files.set('coarse_label_names.txt', Buffer.from(cifar100CoarseNames().join('\n') + '\n'));
    }
    if (opts.name === 'cifar10') files.set('readme.html', Buffer.from('<html>fixture</html>\n'));
  } else {
    if (opts.name === 'cifar10') {
      batchKs.forEach((ks, b) => files.set(`data_batch_${b + 1}`, cifarPythonBatch('cifar10', ks, `training batch ${b + 1} of 5`)));
      files.set('test_batch', cifarPythonBatch('cifar10', test, 'testing batch 1 of 1'));
      files.set('batches.meta', cifarPythonMeta('cifar10', per));
      files.set('readme.html', Buffer.from('<html>fixture</html>\n'));
    } else {
      files.set('train', cifarPythonBatch('cifar100', batchKs[0], 'training batch 1 of 1'));
      files.set('test', cifarPythonBatch('cifar100', test, 'testing batch 1 of 1'));
      files.set('meta', cifarPythonMeta('cifar100', per));
    }
  }
  for (const [k, v] of Object.entries(opts.override ?? {})) {
    if (v === null) files.delete(k);
    else files.set(k, v);
  }
  const [folder, archive] = FOLDERS[opts.name][opts.format];
  fs.mkdirSync(opts.dir, { recursive: true });
  if (opts.as === 'folder') {
    const dir = path.join(opts.dir, folder);
    fs.mkdirSync(dir, { recursive: true });
    for (const [n, b] of files) fs.writeFileSync(path.join(dir, n), b);
    return { path: dir, train, test, rawNames, files };
  }
  const entries: WriterEntry[] = [{ name: `${folder}/`, type: 'directory' }, ...[...files].map(([n, b]) => ({ name: `${folder}/${n}`, data: b }))];
  const file = path.join(opts.dir, archive);
  fs.writeFileSync(file, writeTarGz(entries, { format: 'gnu' }));
  return { path: file, train, test, rawNames, files };
}
