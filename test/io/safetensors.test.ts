import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  SAFETENSORS_MAX_HEADER_BYTES,
  SafeTensor,
  SafeTensorInput,
  SafetensorsError,
  halfToFloat,
  parseSafetensors,
  parseSafetensorsHeader,
  readSafetensorsFile,
  readSafetensorsHeader,
  serializeSafetensors,
  tensorToFloat32,
  tensorToInt32,
  writeSafetensorsFile,
} from '../../src/io/safetensors';

const SRC = 'test.safetensors';

/** Build a file from a header object/string and raw data bytes (for malformed-input tests). */
function rawFile(header: unknown, data: Uint8Array | number[] = [], opts: { pad?: boolean } = {}): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (opts.pad !== false) while (json.length % 8 !== 0) json += ' ';
  const h = Buffer.from(json, 'utf8');
  const d = data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => {
    out[2 * i] = v & 0xff;
    out[2 * i + 1] = v >> 8;
  });
  return out;
}

function expectSafetensorsError(fn: () => unknown, pattern: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SafetensorsError);
  const e = thrown as SafetensorsError;
  expect(e.message).toContain(SRC);
  expect(e.message).toMatch(pattern);
}

function f32(t: SafeTensor | undefined): number[] {
  expect(t).toBeDefined();
  return Array.from(tensorToFloat32(t as SafeTensor));
}

describe('serialize / parse round trip', () => {
  it('round-trips F32 tensors including scalars and zero-size tensors', () => {
    const input = new Map<string, SafeTensorInput>([
      ['w', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, -0, 1e-30]) }],
      ['scalar', { shape: [], data: Float32Array.from([Math.PI]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
      ['empty1d', { shape: [0], data: new Float32Array(0) }],
      ['special', { shape: [3], data: Float32Array.from([Infinity, -Infinity, NaN]) }],
    ]);
    const bytes = serializeSafetensors(input, { spikeclip_format_version: '1', note: 'héllo ✓' });
    const { tensors, metadata } = parseSafetensors(bytes, SRC);
    expect(metadata).toEqual({ spikeclip_format_version: '1', note: 'héllo ✓' });
    expect([...tensors.keys()].sort()).toEqual(['empty', 'empty1d', 'scalar', 'special', 'w']);
    for (const [name, t] of input) {
      const got = tensors.get(name) as SafeTensor;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(Array.from(got.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));
    }
    expect(Object.is((tensors.get('w') as SafeTensor).data[4], -0)).toBe(true);
  });

  it('accepts a plain record, and writes tensors sorted by name', () => {
    const bytes = serializeSafetensors({
      'z.bias': { shape: [1], data: Float32Array.from([3]) },
      'a.weight': { shape: [1], data: Float32Array.from([1]) },
      'm.weight': { shape: [1], data: Float32Array.from([2]) },
    });
    const header = parseSafetensorsHeader(bytes, SRC);
    expect([...header.tensors.keys()]).toEqual(['a.weight', 'm.weight', 'z.bias']);
    expect(header.tensors.get('a.weight')?.dataOffsets).toEqual([0, 4]);
    expect(header.tensors.get('m.weight')?.dataOffsets).toEqual([4, 8]);
    expect(header.tensors.get('z.bias')?.dataOffsets).toEqual([8, 12]);
    expect(header.metadata).toEqual({});
    expect(header.headerLength % 8).toBe(0);
  });

  it('round-trips integer and F64 dtypes, largest element first', () => {
    const bytes = serializeSafetensors({
      ids: { shape: [3], data: BigInt64Array.from([0n, -1n, 9007199254740993n]) },
      i32: { shape: [2], data: Int32Array.from([-5, 7]) },
      mask: { shape: [2], data: Uint8Array.from([1, 0]), dtype: 'BOOL' },
      u8: { shape: [1], data: Uint8Array.from([255]) },
      f64: { shape: [1], data: Float64Array.from([0.1]) },
      i8: { shape: [2], data: Int8Array.from([-128, 127]) },
      i16: { shape: [1], data: Int16Array.from([-300]) },
    });
    const h = parseSafetensorsHeader(bytes, SRC);
    // 8-byte types first (sorted by name), then 4, then 2, then 1.
    const byOffset = [...h.tensors.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]).map(([n]) => n);
    expect(byOffset).toEqual(['f64', 'ids', 'i32', 'i16', 'i8', 'mask', 'u8']);
    const { tensors } = parseSafetensors(bytes, SRC);
    const ids = tensors.get('ids') as SafeTensor;
    expect(ids.dtype).toBe('I64');
    expect(Array.from(ids.data as BigInt64Array)).toEqual([0n, -1n, 9007199254740993n]);
    expect(tensors.get('i32')?.dtype).toBe('I32');
    expect(Array.from(tensors.get('i32')?.data as Int32Array)).toEqual([-5, 7]);
    expect(tensors.get('mask')?.dtype).toBe('BOOL');
    expect(tensors.get('u8')?.dtype).toBe('U8');
    expect(Array.from(tensors.get('i8')?.data as Int8Array)).toEqual([-128, 127]);
    expect(Array.from(tensors.get('i16')?.data as Int16Array)).toEqual([-300]);
    expect(Array.from(tensors.get('f64')?.data as Float64Array)).toEqual([0.1]);
    const small: SafeTensor = { dtype: 'I64', shape: [2], data: BigInt64Array.from([0n, -1n]) };
    expect(Array.from(tensorToInt32(small, 'ids'))).toEqual([0, -1]);
    expect(() => tensorToInt32(ids, 'ids')).toThrow(/does not fit in int32/);
    expect(f32(tensors.get('i32'))).toEqual([-5, 7]);
  });

  it('only decodes the requested names', () => {
    const bytes = serializeSafetensors({
      a: { shape: [1], data: Float32Array.from([1]) },
      b: { shape: [1], data: Float32Array.from([2]) },
    });
    const { tensors } = parseSafetensors(bytes, SRC, { names: ['b'] });
    expect([...tensors.keys()]).toEqual(['b']);
    expectSafetensorsError(() => parseSafetensors(bytes, SRC, { names: ['nope'] }), /no tensor named "nope"/);
  });

  it('rejects invalid write requests', () => {
    expect(() => serializeSafetensors({ a: { shape: [2], data: new Float32Array(3) } })).toThrow(/holds 2 elements but data has 3/);
    expect(() => serializeSafetensors({ a: { shape: [-1], data: new Float32Array(0) } })).toThrow(/non-negative integer/);
    expect(() => serializeSafetensors({ a: { shape: [1.5], data: new Float32Array(0) } })).toThrow(/non-negative integer/);
    expect(() => serializeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } })).toThrow(/reserved/);
    expect(() => serializeSafetensors({ a: { shape: [1], data: new Float32Array(1), dtype: 'I32' } })).toThrow(/does not match/);
    expect(() => serializeSafetensors({}, { k: 1 as unknown as string })).toThrow(/must be a string/);
    expect(() => serializeSafetensors({ a: { shape: [1], data: new Float32Array(1) } })).not.toThrow();
  });

  it('writes typed-array views (non-zero byteOffset) correctly', () => {
    const big = Float32Array.from([9, 1, 2, 3, 9]);
    const bytes = serializeSafetensors({ v: { shape: [3], data: big.subarray(1, 4) } });
    expect(f32(parseSafetensors(bytes, SRC).tensors.get('v'))).toEqual([1, 2, 3]);
  });
});

describe('golden bytes', () => {
  it('produces exactly the bytes Python safetensors 0.8 writes for the same tensors', () => {
    const bytes = serializeSafetensors(
      {
        b: { shape: [2], data: Float32Array.from([1, 2]) },
        a: { shape: [], data: Float32Array.from([0.5]) },
      },
      { k: 'v' },
    );
    const json =
      '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    expect(json.length).toBe(132); // padded to 136 with four spaces
    const expected = [
      ...[136, 0, 0, 0, 0, 0, 0, 0],
      ...Buffer.from(json + '    ', 'ascii'),
      ...[0x00, 0x00, 0x00, 0x3f], // 0.5
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0
      ...[0x00, 0x00, 0x00, 0x40], // 2.0
    ];
    expect(Array.from(bytes)).toEqual(expected);
  });

  it('writes an empty file as "{}" padded to 8 bytes', () => {
    expect(Buffer.from(serializeSafetensors({})).toString('latin1')).toBe('\x08\0\0\0\0\0\0\0{}      ');
  });

  it('reads a file written by Python safetensors 0.8 (save_file with numpy, f16 + f32 + i64)', () => {
    // Produced by: safetensors.numpy.save_file({"h": np.array([1, -2], np.float16),
    //   "w": np.arange(3, dtype=np.float32), "p": np.array([[7]], np.int64)}, f, metadata={"format": "np"})
    const hex =
      'c800000000000000' +
      Buffer.from(
        '{"__metadata__":{"format":"np"},"p":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]},' +
          '"w":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},"h":{"dtype":"F16","shape":[2],"data_offsets":[20,24]}}    ',
        'ascii',
      ).toString('hex') +
      '0700000000000000' +
      '000000000000803f00000040' +
      '003c00c0';
    const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
    const { tensors, metadata } = parseSafetensors(bytes, SRC);
    expect(metadata).toEqual({ format: 'np' });
    expect(Array.from(tensors.get('p')?.data as BigInt64Array)).toEqual([7n]);
    expect(tensors.get('p')?.shape).toEqual([1, 1]);
    expect(f32(tensors.get('w'))).toEqual([0, 1, 2]);
    expect(tensors.get('h')?.dtype).toBe('F16');
    expect(f32(tensors.get('h'))).toEqual([1, -2]);
  });
});

describe('half precision decoding', () => {
  const f16Cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24], // smallest subnormal, 5.96e-8
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x3555, 0.333251953125],
    [0x0000, 0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  it('decodes F16 bit patterns', () => {
    const bits = [...f16Cases.map(([b]) => b), 0x7e00, 0xfc01, 0x8000];
    const bytes = rawFile({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16le(bits));
    const t = parseSafetensors(bytes, SRC).tensors.get('h') as SafeTensor;
    expect(t.dtype).toBe('F16');
    expect(t.data).toBeInstanceOf(Float32Array);
    const got = Array.from(t.data as Float32Array);
    f16Cases.forEach(([, v], i) => expect(got[i]).toBe(Math.fround(v)));
    expect(got[f16Cases.length]).toBeNaN();
    expect(got[f16Cases.length + 1]).toBeNaN();
    expect(Object.is(got[f16Cases.length + 2], -0)).toBe(true);
    expect(halfToFloat(0x0001)).toBeCloseTo(5.96e-8, 10);
  });

  it('decodes BF16 bit patterns', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4049, 3.140625],
      [0x7f7f, 3.3895313892515355e38],
      [0x0001, 9.183549615799121e-41], // subnormal
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x0000, 0],
    ];
    const bits = [...cases.map(([b]) => b), 0x7fc0];
    const bytes = rawFile({ b: { dtype: 'BF16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16le(bits));
    const got = f32(parseSafetensors(bytes, SRC).tensors.get('b'));
    cases.forEach(([, v], i) => expect(got[i]).toBe(Math.fround(v)));
    expect(got[cases.length]).toBeNaN();
  });

  it('decodes FP8 E4M3 and E5M2', () => {
    const e4 = [0x38, 0xb8, 0x7e, 0x01, 0x7f, 0x00];
    const e5 = [0x3c, 0xc0, 0x7b, 0x7c, 0x01];
    const bytes = rawFile(
      {
        a: { dtype: 'F8_E4M3', shape: [e4.length], data_offsets: [0, e4.length] },
        b: { dtype: 'F8_E5M2', shape: [e5.length], data_offsets: [e4.length, e4.length + e5.length] },
      },
      [...e4, ...e5],
    );
    const { tensors } = parseSafetensors(bytes, SRC);
    const a = f32(tensors.get('a'));
    expect(a.slice(0, 4)).toEqual([1, -1, 448, 2 ** -9]);
    expect(a[4]).toBeNaN();
    expect(a[5]).toBe(0);
    expect(f32(tensors.get('b'))).toEqual([1, -2, 57344, Infinity, 2 ** -16]);
  });
});

describe('alignment', () => {
  it('copies unaligned data into an aligned buffer', () => {
    const good = serializeSafetensors({ w: { shape: [3], data: Float32Array.from([1, 2, 3]) }, i: { shape: [1], data: BigInt64Array.from([5n]) } });
    const shifted = new Uint8Array(good.length + 1);
    shifted.set(good, 1);
    const view = shifted.subarray(1); // byteOffset 1: every tensor is misaligned
    const { tensors } = parseSafetensors(view, SRC);
    expect(f32(tensors.get('w'))).toEqual([1, 2, 3]);
    expect(Array.from(tensors.get('i')?.data as BigInt64Array)).toEqual([5n]);
    expect((tensors.get('w')?.data as Float32Array).byteOffset % 4).toBe(0);
  });

  it('handles headers that are not padded to 8 bytes', () => {
    const bytes = rawFile('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', Buffer.from(Float32Array.from([4, 5]).buffer), { pad: false });
    expect(f32(parseSafetensors(bytes, SRC).tensors.get('x'))).toEqual([4, 5]);
  });
});

describe('malformed input gives a SafetensorsError naming the file', () => {
  const okEntry = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
  const four = [0, 0, 128, 63];

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['empty file', () => new Uint8Array(0), /0 bytes, too short/],
    ['7-byte file', () => new Uint8Array(7), /7 bytes, too short/],
    [
      'header length larger than the file',
      () => {
        const b = rawFile({ a: okEntry }, four);
        new DataView(b.buffer).setBigUint64(0, BigInt(b.length), true);
        return b;
      },
      /larger than the .* bytes that follow/,
    ],
    [
      'header length over the 100 MB cap',
      () => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
        return b;
      },
      /exceeds the 100000000-byte limit/,
    ],
    ['header not JSON', () => rawFile('{"a": nope}'), /not valid JSON/],
    ['header not UTF-8', () => rawFile(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1')), /not valid JSON|UTF-8/],
    ['header a JSON array', () => rawFile('[1,2,3]'), /must be a JSON object, got an array/],
    ['header null', () => rawFile('null'), /must be a JSON object, got null/],
    ['entry not an object', () => rawFile({ a: 3 }), /tensor "a": entry must be an object/],
    ['unknown dtype', () => rawFile({ a: { ...okEntry, dtype: 'F128' } }, four), /unknown dtype "F128"/],
    ['unsupported dtype', () => rawFile({ a: { ...okEntry, dtype: 'C64' } }, four), /unsupported dtype "C64"/],
    ['missing dtype', () => rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, four), /dtype must be a string/],
    ['negative shape', () => rawFile({ a: { ...okEntry, shape: [-1] } }, four), /non-negative integers/],
    ['fractional shape', () => rawFile({ a: { ...okEntry, shape: [0.5] } }, four), /non-negative integers/],
    ['string shape', () => rawFile({ a: { ...okEntry, shape: ['1'] } }, four), /non-negative integers/],
    ['shape not array', () => rawFile({ a: { ...okEntry, shape: 1 } }, four), /shape must be an array/],
    ['huge shape', () => rawFile({ a: { ...okEntry, shape: [2 ** 52, 2 ** 52] } }, four), /needs too many bytes/],
    ['offsets missing', () => rawFile({ a: { dtype: 'F32', shape: [1] } }, four), /data_offsets must be/],
    ['offsets wrong arity', () => rawFile({ a: { ...okEntry, data_offsets: [0, 4, 8] } }, four), /data_offsets must be/],
    ['offsets beyond 2^53', () => rawFile({ a: { ...okEntry, data_offsets: [0, 1e300] } }, four), /data_offsets must be/],
    ['offsets reversed', () => rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, four), /reversed|hole/],
    ['offsets out of range', () => rawFile({ a: { ...okEntry, shape: [2], data_offsets: [0, 8] } }, four), /run past the 4-byte data section/],
    [
      'overlapping tensors',
      () => rawFile({ a: okEntry, b: { ...okEntry, shape: [2], data_offsets: [0, 8] } }, [...four, ...four]),
      /overlaps the previous tensor/,
    ],
    [
      'hole between tensors',
      () => rawFile({ a: okEntry, b: { ...okEntry, data_offsets: [8, 12] } }, [...four, ...four, ...four]),
      /leaves a hole of 4 bytes/,
    ],
    ['hole at start', () => rawFile({ a: { ...okEntry, data_offsets: [4, 8] } }, [...four, ...four]), /hole/],
    ['trailing bytes after data', () => rawFile({ a: okEntry }, [...four, 1]), /cover 4 bytes but the data section has 5/],
    ['truncated data', () => rawFile({ a: { ...okEntry, shape: [2], data_offsets: [0, 8] } }, four.slice(0, 3)), /run past/],
    ['byte size mismatch', () => rawFile({ a: { ...okEntry, shape: [2] } }, four), /needs 8 bytes but data_offsets give 4/],
    ['metadata value not a string', () => rawFile({ __metadata__: { k: 1 }, a: okEntry }, four), /__metadata__ value for "k" must be a string/],
    ['metadata not an object', () => rawFile({ __metadata__: ['x'], a: okEntry }, four), /__metadata__ must be an object/],
  ];

  it.each(cases)('%s', (_label, make, pattern) => {
    expectSafetensorsError(() => parseSafetensors(make(), SRC), pattern);
  });

  it('accepts a header with a null __metadata__ and unknown extra fields (like the Rust crate)', () => {
    const bytes = rawFile({ __metadata__: null, a: { ...okEntry, extra: true } }, four);
    expect(parseSafetensors(bytes, SRC).metadata).toEqual({});
  });

  it('treats __proto__ as an ordinary tensor name', () => {
    const bytes = rawFile('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', four);
    const { tensors } = parseSafetensors(bytes, SRC);
    expect(f32(tensors.get('__proto__'))).toEqual([1]);
  });

  it('cap constant is the Rust crate value', () => {
    expect(SAFETENSORS_MAX_HEADER_BYTES).toBe(100_000_000);
  });
});

describe('files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spikeclip-st-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes atomically and reads back, whole or selected tensors', async () => {
    const p = path.join(dir, 'model.safetensors');
    const w = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    await writeSafetensorsFile(p, new Map([['w', { shape: [10, 100], data: w }], ['b', { shape: [1], data: Float32Array.from([7]) }]]), { a: 'b' });
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    const all = await readSafetensorsFile(p);
    expect(Array.from(all.tensors.get('w')?.data as Float32Array)).toEqual(Array.from(w));
    expect(all.metadata).toEqual({ a: 'b' });
    const some = await readSafetensorsFile(p, { names: ['b'] });
    expect([...some.tensors.keys()]).toEqual(['b']);
    expect(f32(some.tensors.get('b'))).toEqual([7]);
  });

  it('reads only the header', async () => {
    const p = path.join(dir, 'x.safetensors');
    await writeSafetensorsFile(p, { w: { shape: [4, 4], data: new Float32Array(16) } });
    const h = await readSafetensorsHeader(p);
    expect(h.tensors.get('w')).toEqual({ dtype: 'F32', shape: [4, 4], dataOffsets: [0, 64] });
    expect(h.byteLength).toBe(fs.statSync(p).size);
    expect(h.dataStart).toBe(8 + h.headerLength);
  });

  it('reports file problems with the path', async () => {
    const missing = path.join(dir, 'missing.safetensors');
    await expect(readSafetensorsFile(missing)).rejects.toThrow(SafetensorsError);
    await expect(readSafetensorsFile(missing)).rejects.toThrow(`${missing}: invalid safetensors file: no such file`);
    await expect(readSafetensorsHeader(dir)).rejects.toThrow(/is a directory/);
    const bad = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(bad, 'hello');
    await expect(readSafetensorsHeader(bad)).rejects.toThrow(`${bad}: invalid safetensors file: file is 5 bytes, too short`);
    const truncated = path.join(dir, 'trunc.safetensors');
    const good = serializeSafetensors({ w: { shape: [8], data: new Float32Array(8) } });
    fs.writeFileSync(truncated, good.subarray(0, good.length - 3));
    await expect(readSafetensorsFile(truncated)).rejects.toThrow(/run past the 29-byte data section/);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing

/** mulberry32: small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUZZ_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'U16'] as const;
const FUZZ_SIZES: Record<(typeof FUZZ_DTYPES)[number], number> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, U16: 2,
};

/** A random valid file with mixed dtypes (raw bytes, so every dtype is covered). */
function randomValidFile(r: () => number): Uint8Array {
  const int = (n: number): number => Math.floor(r() * n);
  const n = int(5);
  const header: Record<string, unknown> = {};
  const chunks: number[] = [];
  if (r() < 0.5) header.__metadata__ = { format: 'pt', k: String(int(1000)) };
  for (let i = 0; i < n; i++) {
    const dtype = FUZZ_DTYPES[int(FUZZ_DTYPES.length)];
    const rank = int(4);
    const shape = Array.from({ length: rank }, () => int(4));
    const count = shape.reduce((a, b) => a * b, 1);
    const nbytes = count * FUZZ_SIZES[dtype];
    const begin = chunks.length;
    for (let j = 0; j < nbytes; j++) chunks.push(int(256));
    header[`t${i}.${['weight', 'bias', 'x'][int(3)]}`] = { dtype, shape, data_offsets: [begin, begin + nbytes] };
  }
  return rawFile(header, chunks, { pad: r() < 0.8 });
}

const HEADER_EDITS: [RegExp, string][] = [
  [/"F32"|"F16"|"BF16"|"I64"|"U8"/, '"F31"'],
  [/"F32"/, '"F16"'],
  [/"I8"/, '"I64"'],
  [/\[(\d+),/, '[$1$1,'],
  [/,(\d+)\]/, ',-$1]'],
  [/"shape":\[/, '"shape":[2,'],
  [/"shape":\[\d*\]?/, '"shape":null'],
  [/"data_offsets"/, '"data_offset"'],
  [/\d+\]/, '1e400]'],
  [/\d+/, '0.5'],
  [/"pt"/, '7'],
  [/\}\}/, '}'],
  [/:/, ''],
  [/"dtype"/, '"__proto__"'],
  [/\{/, '['],
  [/,/, ',"t0.weight":{},'],
  [/\d+/, '18446744073709551616'],
];

function mutate(file: Uint8Array, r: () => number): Uint8Array {
  const int = (n: number): number => Math.floor(r() * n);
  const out = Uint8Array.from(file);
  switch (int(6)) {
    case 0: {
      // bit flips anywhere
      const flips = 1 + int(4);
      for (let i = 0; i < flips && out.length > 0; i++) out[int(out.length)] ^= 1 << int(8);
      return out;
    }
    case 1:
      // truncation
      return out.subarray(0, int(out.length + 1));
    case 2: {
      // edit the length field
      const dv = new DataView(out.buffer, out.byteOffset);
      if (out.length < 8) return out;
      const choices = [0n, 1n, 7n, BigInt(out.length), BigInt(out.length - 8), 2n ** 63n, 2n ** 64n - 1n, BigInt(100_000_001), dv.getBigUint64(0, true) + BigInt(int(17) - 8)];
      const v = choices[int(choices.length)];
      dv.setBigUint64(0, v < 0n ? 0n : v % 2n ** 64n, true);
      return out;
    }
    case 3: {
      // textual edit of the header JSON, keeping the length field consistent
      if (out.length < 8) return out;
      const n = Number(new DataView(out.buffer, out.byteOffset).getBigUint64(0, true));
      if (8 + n > out.length) return out;
      const text = Buffer.from(out.subarray(8, 8 + n)).toString('latin1');
      const [re, rep] = HEADER_EDITS[int(HEADER_EDITS.length)];
      const edited = Buffer.from(text.replace(re, rep), 'latin1');
      const res = new Uint8Array(8 + edited.length + (out.length - 8 - n));
      new DataView(res.buffer).setBigUint64(0, BigInt(edited.length), true);
      res.set(edited, 8);
      res.set(out.subarray(8 + n), 8 + edited.length);
      return res;
    }
    case 4: {
      // append or remove data bytes
      if (r() < 0.5) return out.subarray(0, Math.max(0, out.length - 1 - int(8)));
      const res = new Uint8Array(out.length + 1 + int(8));
      res.set(out);
      return res;
    }
    default: {
      // random garbage of random length
      const res = new Uint8Array(int(64));
      for (let i = 0; i < res.length; i++) res[i] = int(256);
      return res;
    }
  }
}

describe('fuzz', () => {
  it('every mutated file either parses or raises SafetensorsError', () => {
    const r = rng(20240611);
    const counts = { ok: 0, rejected: 0 };
    const t0 = Date.now();
    for (let iter = 0; iter < 3000; iter++) {
      const valid = randomValidFile(r);
      // The unmutated file must always parse.
      if (iter % 10 === 0) parseSafetensors(valid, SRC);
      let input = mutate(valid, r);
      if (r() < 0.3) input = mutate(input, r);
      try {
        const { tensors } = parseSafetensors(input, SRC);
        // A successful parse must be self-consistent.
        for (const t of tensors.values()) {
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }
        counts.ok++;
      } catch (err) {
        if (!(err instanceof SafetensorsError)) {
          throw new Error(`iteration ${iter}: unexpected ${String(err)} for input ${Buffer.from(input).toString('hex')}`);
        }
        expect(err.message.startsWith(`${SRC}: `)).toBe(true);
        counts.rejected++;
      }
    }
    expect(counts.ok + counts.rejected).toBe(3000);
    expect(counts.ok).toBeGreaterThan(50);
    expect(counts.rejected).toBeGreaterThan(1000);
    expect(Date.now() - t0).toBeLessThan(20000);
  });
});
