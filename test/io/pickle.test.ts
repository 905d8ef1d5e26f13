import {
  NUMPY_UINT8_GLOBALS,
  NumpyArray,
  PICKLE_SETSTATE,
  PickleError,
  pickleAttributes,
  readNumpyPickle,
  unpickle,
} from '../../src/io/pickle';
import { NUMPY_PICKLE_P2, NUMPY_PICKLE_P4 } from '../helpers/pickle-goldens';
import { PVal, pickle } from '../helpers/pickle-writer';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

describe('unpickle: plain data', () => {
  it.each([2, 3, 4])('round-trips numbers, strings, containers (protocol %i)', (protocol) => {
    const value: PVal = new Map<PVal, PVal>([
      ['ints', [0, 1, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 53, -(2 ** 60), 2n ** 70n]],
      ['floats', [0.5, -1.25, { $float: 1e300 }, { $float: 3 }]],
      ['str', 'héllo wörld ✓ 😀'],
      ['empty', ''],
      ['consts', [null, true, false]],
      ['tuple', { $tuple: [1, { $tuple: [2, 3] }, { $tuple: [] }, { $tuple: [1, 2, 3, 4] }] }],
      ['nested', new Map<PVal, PVal>([[1, 'one'], [2.5, 'x']])],
      ['long string', 'y'.repeat(300)],
    ]);
    const out = unpickle(pickle(value, { protocol })) as Map<unknown, unknown>;
    expect(out).toBeInstanceOf(Map);
    // beyond Number.MAX_SAFE_INTEGER ints come back as bigint
    expect(out.get('ints')).toEqual([0, 1, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2n ** 53n, -(2n ** 60n), 2n ** 70n]);
    expect(out.get('floats')).toEqual([0.5, -1.25, 1e300, 3]);
    expect(out.get('str')).toBe('héllo wörld ✓ 😀');
    expect(out.get('empty')).toBe('');
    expect(out.get('consts')).toEqual([null, true, false]);
    expect(out.get('tuple')).toEqual([1, [2, 3], [], [1, 2, 3, 4]]);
    expect((out.get('nested') as Map<unknown, unknown>).get(2.5)).toBe('x');
    expect(out.get('long string')).toBe('y'.repeat(300));
  });

  it('bytes at protocol 3 (BINBYTES) and protocol 2 (_codecs.encode, allowed only via the numpy list)', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    expect(unpickle(pickle(data, { protocol: 3 }))).toEqual(data);
    const p2 = pickle(data, { protocol: 2 });
    expect(() => unpickle(p2, { source: 'b.pkl' })).toThrow('b.pkl: refusing to load disallowed global _codecs.encode');
    expect(unpickle(p2, { globals: NUMPY_UINT8_GLOBALS })).toEqual(data);
  });

  it('memo: BINPUT/BINGET share one object; LONG_BINPUT beyond 255', () => {
    const strs = Array.from({ length: 300 }, (_, i) => `s${i}`);
    const out = unpickle(pickle([...strs, ...strs])) as string[];
    expect(out.slice(300)).toEqual(strs);
    // hand-built: [l, l] where l is memoised
    const p = bytes(0x80, 2, 0x5d, 0x71, 0, 0x4b, 7, 0x61, 0x68, 0, 0x86, 0x2e);
    const [a, b] = unpickle(p) as number[][];
    expect(a).toBe(b);
    expect(a).toEqual([7]);
  });

  it('protocol 4/5 opcodes: FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL, EMPTY_SET/ADDITEMS, FROZENSET, BINUNICODE8', () => {
    const p = bytes(
      0x80, 5, 0x95, 20, 0, 0, 0, 0, 0, 0, 0, 0x28,
      0x8f, 0x94, 0x28, 0x4b, 1, 0x4b, 2, 0x90, // {1, 2}
      0x28, 0x8c, 1, ...ascii('a'), 0x91, // frozenset({'a'})
      0x8d, 2, 0, 0, 0, 0, 0, 0, 0, ...ascii('hi'),
      0x68, 0, // the set again
      0x74, 0x2e,
    );
    const [s, fs, hi, s2] = unpickle(p) as [Set<number>, Set<string>, string, Set<number>];
    expect([...s]).toEqual([1, 2]);
    expect([...fs]).toEqual(['a']);
    expect(hi).toBe('hi');
    expect(s2).toBe(s);
  });

  it('protocol 0/1 opcodes (text INT, LONG, FLOAT, STRING, UNICODE, DICT, LIST, TUPLE, PUT/GET, POP, DUP, POP_MARK)', () => {
    const text = "(dp0\nS'k\\x41\\n'\np1\nI42\nsS'f'\nF-2.5\nsVuni\\u00e9\nL12345678901234567890L\nsS'l'\n(I01\nI00\nlp2\nsS't'\n(I1\nI2\ntsI9\n0S'dup'\n2s(I5\n1.";
    const out = unpickle(Uint8Array.from(Buffer.from(text, 'latin1'))) as Map<string, unknown>;
    expect(out.get('kA\n')).toBe(42);
    expect(out.get('f')).toBe(-2.5);
    expect(out.get('unié')).toBe(12345678901234567890n);
    expect(out.get('l')).toEqual([true, false]);
    expect(out.get('t')).toEqual([1, 2]);
    expect(out.get('dup')).toBe('dup');
  });

  it('Python 2 strings: latin-1 strings by default, bytes on request', () => {
    const p = pickle(new Map<PVal, PVal>([[{ $py2str: 'data' }, { $py2str: '\u00ff\u0000abc' }]]));
    expect(unpickle(p)).toEqual(new Map([['data', '\u00ff\u0000abc']]));
    const raw = unpickle(p, { py2Strings: 'bytes' }) as Map<unknown, unknown>;
    expect([...raw.values()][0]).toEqual(bytes(0xff, 0, 97, 98, 99));
  });
});

describe('unpickle: globals only from the allow-list, nothing executes', () => {
  it.each([
    ['os.system', 'GLOBAL'],
    ['builtins.eval', 'GLOBAL'],
    ['posix.system', 'STACK_GLOBAL'],
    ['subprocess.Popen', 'STACK_GLOBAL'],
  ])('refuses %s (%s)', (name, how) => {
    const p = pickle({ $reduce: [{ $global: name }, ['echo pwned']] }, { protocol: how === 'GLOBAL' ? 2 : 4, stackGlobal: how === 'STACK_GLOBAL' });
    expect(() => unpickle(p, { source: 'evil.pkl' })).toThrow(new PickleError('evil.pkl', `refusing to load disallowed global ${name} (this reader only rebuilds plain data)`));
    expect(() => unpickle(p, { source: 'evil.pkl', globals: NUMPY_UINT8_GLOBALS })).toThrow(`evil.pkl: refusing to load disallowed global ${name}`);
  });

  it('calls an allowed global with the argument tuple (REDUCE and NEWOBJ) and BUILDs through the setstate symbol', () => {
    class Point {
      constructor(
        public x: unknown,
        public y: unknown,
      ) {}
      state: unknown;
      [PICKLE_SETSTATE](s: unknown): void {
        this.state = s;
      }
    }
    const globals = new Map<string, unknown>([['geo.Point', (x: unknown, y: unknown) => new Point(x, y)]]);
    const v = unpickle(pickle([{ $reduce: [{ $global: 'geo.Point' }, [1, 2]] }, { $build: [{ $newobj: [{ $global: 'geo.Point' }, [3, 4]] }, 'st'] }]), { globals }) as Point[];
    expect(v[0]).toEqual(new Point(1, 2));
    expect(v[1].x).toBe(3);
    expect(v[1].state).toBe('st');
  });

  it('BUILD with a dict state on a dict stores attributes (torch state-dict _metadata)', () => {
    const od = new Map<string, unknown>([['collections.OrderedDict', () => new Map()]]);
    const v = unpickle(pickle({ $build: [{ $setitems: [{ $reduce: [{ $global: 'collections.OrderedDict' }, []] }, new Map<PVal, PVal>([['a', 1]])] }, new Map<PVal, PVal>([['_metadata', 5]])] }), { globals: od });
    expect(v).toEqual(new Map([['a', 1]]));
    expect(pickleAttributes(v)?.get('_metadata')).toBe(5);
  });

  it('a non-callable global cannot be called', () => {
    const globals = new Map<string, unknown>([['m.marker', { kind: 'marker' }]]);
    expect(() => unpickle(pickle({ $reduce: [{ $global: 'm.marker' }, []] }), { globals, source: 'x' })).toThrow('x: REDUCE: m.marker is not callable');
  });

  it('refuses persistent ids without a loader, INST/OBJ, extension codes and out-of-band buffers', () => {
    expect(() => unpickle(pickle({ $persid: 'x' }), { source: 'p' })).toThrow('p: refusing a persistent id');
    expect(() => unpickle(Uint8Array.from(Buffer.from('(ios\nsystem\nS"ls"\n.', 'latin1')), { source: 'p' })).toThrow(/refusing opcode INST/);
    expect(() => unpickle(bytes(0x80, 2, 0x28, 0x6f, 0x2e))).toThrow(/refusing opcode OBJ/);
    expect(() => unpickle(bytes(0x80, 2, 0x82, 1, 0x2e))).toThrow(/refusing opcode EXT1/);
    expect(() => unpickle(bytes(0x80, 5, 0x97, 0x2e))).toThrow(/refusing opcode NEXT_BUFFER/);
  });
});

describe('unpickle: malformed input is a PickleError naming the source', () => {
  const good = pickle(new Map<PVal, PVal>([['k', ['v', 1, 2.5, 'x'.repeat(40)]]]));

  it('every truncation of a valid pickle fails cleanly', () => {
    for (let n = 0; n < good.length; n++) {
      expect(() => unpickle(good.subarray(0, n), { source: 'cut.pkl' })).toThrow(PickleError);
    }
  });

  it('lengths beyond the input are refused before allocating', () => {
    expect(() => unpickle(bytes(0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0), { source: 'big' })).toThrow(/big: truncated pickle: BINBYTES8 declares \d+ bytes/);
    expect(() => unpickle(bytes(0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e), { source: 'big' })).toThrow(/truncated pickle: BINUNICODE needs 2147483647 bytes/);
  });

  it('unknown opcodes, stack underflow, missing memo, unsupported protocol', () => {
    expect(() => unpickle(bytes(0x80, 2, 0xff), { source: 's' })).toThrow('s: invalid or unsupported pickle opcode 0xff at offset 2');
    expect(() => unpickle(bytes(0x80, 2, 0x85, 0x2e))).toThrow(/stack underflow at TUPLE1/);
    expect(() => unpickle(bytes(0x80, 2, 0x68, 3, 0x2e))).toThrow(/memo key 3 is not defined/);
    expect(() => unpickle(bytes(0x80, 9, 0x4e, 0x2e))).toThrow(/unsupported pickle protocol 9/);
    expect(() => unpickle(bytes(0x80, 2, 0x74, 0x2e))).toThrow(/TUPLE without a MARK/);
    expect(() => unpickle(bytes(0x80, 2, 0x4e, 0x4b, 1, 0x4b, 2, 0x73, 0x2e))).toThrow(/SETITEM on None/);
  });

  it('random byte flips never crash with anything but a PickleError', () => {
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let t = 0; t < 500; t++) {
      const p = good.slice();
      const i = Math.floor(rnd() * p.length);
      p[i] = Math.floor(rnd() * 256);
      try {
        unpickle(p, { source: 'fuzz', globals: NUMPY_UINT8_GLOBALS });
      } catch (e) {
        expect(e).toBeInstanceOf(PickleError);
      }
    }
  });
});

describe('numpy pickles (CIFAR-style)', () => {
  function check(v: unknown): void {
    const d = v as Map<string, unknown>;
    const data = d.get('data') as NumpyArray;
    expect(data).toBeInstanceOf(NumpyArray);
    expect(data.dtype).toBe('uint8');
    expect(data.shape).toEqual([2, 12]);
    expect(Array.from(data.data as Uint8Array)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(d.get('labels')).toEqual([1, 2]);
    const f = d.get('f') as NumpyArray;
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([2, 3]);
    expect(Array.from(f.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]); // Fortran order reordered to C order
    const i8 = d.get('i8') as NumpyArray;
    expect(Array.from(i8.data as BigInt64Array)).toEqual([-1n, 2n ** 40n]);
  }

  it('reads a real Python 3 protocol-2 pickle (bytes via _codecs.encode)', () => {
    const v = readNumpyPickle(b64(NUMPY_PICKLE_P2), { source: 'np2.pkl' }) as Map<string, unknown>;
    check(v);
    expect(v.get('batch_label')).toEqual(Uint8Array.from(Buffer.from('training batch 1 of 5')));
    expect(v.get('filenames')).toEqual([Uint8Array.from(Buffer.from('a.png')), Uint8Array.from(Buffer.from('b.png'))]);
  });

  it('reads a real protocol-4 pickle', () => {
    check(readNumpyPickle(b64(NUMPY_PICKLE_P4)));
  });

  it('reads a hand-built Python 2 (cPickle protocol 2) CIFAR batch: str keys and data as BINSTRING', () => {
    const pixels = Uint8Array.from({ length: 3 * 3072 }, (_, i) => (i * 7) % 256);
    const ndarray = (shape: number[], code: string, raw: string): PVal => ({
      $build: [
        { $reduce: [{ $global: 'numpy.core.multiarray._reconstruct' }, [{ $global: 'numpy.ndarray' }, { $tuple: [0] }, { $py2str: 'b' }]] },
        {
          $tuple: [
            1,
            { $tuple: shape },
            { $build: [{ $reduce: [{ $global: 'numpy.dtype' }, [{ $py2str: code }, 0, 1]] }, { $tuple: [3, { $py2str: '|' }, null, null, null, -1, -1, 0] }] },
            false,
            { $py2str: raw },
          ],
        },
      ],
    });
    const batch = new Map<PVal, PVal>([
      [{ $py2str: 'batch_label' }, { $py2str: 'training batch 1 of 5' }],
      [{ $py2str: 'labels' }, [6, 9, 9]],
      [{ $py2str: 'data' }, ndarray([3, 3072], 'u1', Buffer.from(pixels).toString('latin1'))],
      [{ $py2str: 'filenames' }, [{ $py2str: 'leptodactylus_pentadactylus_s_000004.png' }, { $py2str: 'camion_s_000148.png' }, { $py2str: 'tipper_truck_s_001250.png' }]],
    ]);
    const v = readNumpyPickle(pickle(batch), { source: 'data_batch_1' }) as Map<string, unknown>;
    expect([...v.keys()]).toEqual(['batch_label', 'labels', 'data', 'filenames']);
    const data = v.get('data') as NumpyArray;
    expect(data.shape).toEqual([3, 3072]);
    expect(data.data).toEqual(pixels);
    expect(v.get('labels')).toEqual([6, 9, 9]);
    expect((v.get('filenames') as string[])[1]).toBe('camion_s_000148.png');
  });

  it('size mismatches and unsupported dtypes are PickleErrors', () => {
    const arr = (code: string, raw: Uint8Array, shape: number[]): Uint8Array =>
      pickle(
        {
          $build: [
            { $reduce: [{ $global: 'numpy.core.multiarray._reconstruct' }, [{ $global: 'numpy.ndarray' }, { $tuple: [0] }, new Uint8Array([98])]] },
            { $tuple: [1, { $tuple: shape }, { $build: [{ $reduce: [{ $global: 'numpy.dtype' }, [code, false, true]] }, { $tuple: [3, '<', null, null, null, -1, -1, 0] }] }, false, raw] },
          ],
        },
        { protocol: 3 },
      );
    expect(() => readNumpyPickle(arr('u1', new Uint8Array(5), [2, 3]), { source: 'm' })).toThrow('m: BUILD: ndarray of shape [2, 3] and dtype uint8 needs 6 bytes, the pickle has 5');
    expect(() => readNumpyPickle(arr('c16', new Uint8Array(16), [1]), { source: 'm' })).toThrow(/numpy dtype c16 is not supported/);
    expect(() => readNumpyPickle(arr('O', new Uint8Array(8), [1]), { source: 'm' })).toThrow(/numpy dtype O is not supported/);
  });
});
