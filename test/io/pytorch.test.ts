import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PickleError } from '../../src/io/pickle';
import { readPytorchBytes, readPytorchFile, stateDictAttributes, stateDictOf } from '../../src/io/pytorch';
import { TORCH_SMALL_PT, TORCH_TIMM_PTH } from '../helpers/pickle-goldens';
import { PVal, TorchTensorSpec, pickle, torchSave, writeZip } from '../helpers/pickle-writer';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

function tmpFile(name: string, bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-'));
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}

function expectSmall(tensors: Map<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint> }>): void {
  const get = (n: string) => {
    const t = tensors.get(n);
    if (!t) throw new Error(`missing ${n}`);
    return { dtype: t.dtype, shape: t.shape, data: Array.from(t.data as ArrayLike<number>) };
  };
  expect(get('a.weight')).toEqual({ dtype: 'F32', shape: [2, 3], data: [0, 1, 2, 3, 4, 5] });
  expect(get('a.bias')).toEqual({ dtype: 'F16', shape: [2], data: [1.5, -2.25] });
  expect(get('t')).toEqual({ dtype: 'F32', shape: [3, 2], data: [0, 3, 1, 4, 2, 5] });
  expect(get('n')).toEqual({ dtype: 'I64', shape: [2], data: [7n, -8n] });
  expect(get('b')).toEqual({ dtype: 'BF16', shape: [2], data: [1, 3] });
  expect(get('s')).toEqual({ dtype: 'F32', shape: [3], data: [3, 4, 5] });
}

describe('readPytorchFile on real torch.save output (torch 1.13)', () => {
  it('reads a state dict: f32, f16, bf16, i64, a transposed view (strides) and a view with a storage offset', () => {
    const f = tmpFile('small.pt', b64(TORCH_SMALL_PT));
    const content = readPytorchFile(f);
    expect([...content.tensors.keys()]).toEqual(['a.weight', 'a.bias', 't', 'n', 'b', 's']);
    expectSmall(content.tensors);
    expect(content.root).toBeInstanceOf(Map);
  });

  it('reads a timm-style training checkpoint: tensors under state_dict, other values kept', () => {
    const content = readPytorchBytes(b64(TORCH_TIMM_PTH), 'timm.pth.tar');
    expect(content.values).toEqual(new Map<string, unknown>([['epoch', 3], ['arch', 'x']]));
    const sd = stateDictOf(content);
    expect(sd.prefix).toBe('state_dict');
    expectSmall(sd.tensors);
    expect(content.tensors.has('state_dict.a.weight')).toBe(true);
  });
});

describe('readPytorchFile on files written by the test helper', () => {
  const specs = new Map<string, TorchTensorSpec>([
    ['w', { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] }],
    ['w_t', { shape: [3, 4], values: Array.from({ length: 12 }, (_, i) => i / 4), transposedStorage: true }],
    ['batch_t', { shape: [2, 2, 3], values: Array.from({ length: 12 }, (_, i) => -i), transposedStorage: true }],
    ['half', { shape: [3], values: [0.5, -0.25, 65504], dtype: 'F16' }],
    ['bf', { shape: [2], values: [-2, 0.125], dtype: 'BF16' }],
    ['ids', { shape: [2], values: BigInt64Array.from([1n, -(2n ** 62n)]), dtype: 'I64' }],
    ['d', { shape: [1], values: [Math.PI], dtype: 'F64' }],
    ['off', { shape: [2], values: [9, 8], storageOffset: 5 }],
    ['scalar', { shape: [], values: [42] }],
    ['empty', { shape: [0, 4], values: [] }],
  ]);

  it('rebuilds every tensor exactly, with the _metadata attribute of the state dict', () => {
    const c = readPytorchBytes(torchSave(specs), 'h.bin');
    const t = (n: string) => c.tensors.get(n)!;
    expect(Array.from(t('w').data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t('w_t').shape).toEqual([3, 4]);
    expect(Array.from(t('w_t').data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i / 4));
    expect(Array.from(t('batch_t').data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => -i));
    expect(Array.from(t('half').data as Float32Array)).toEqual([0.5, -0.25, 65504]);
    expect(Array.from(t('bf').data as Float32Array)).toEqual([-2, 0.125]);
    expect(Array.from(t('ids').data as BigInt64Array)).toEqual([1n, -(2n ** 62n)]);
    expect(t('d').dtype).toBe('F64');
    expect(t('d').data[0]).toBe(Math.PI);
    expect(Array.from(t('off').data as Float32Array)).toEqual([9, 8]);
    expect(t('scalar')).toEqual({ dtype: 'F32', shape: [], data: Float32Array.from([42]) });
    expect(t('empty').shape).toEqual([0, 4]);
    expect(t('empty').data.length).toBe(0);
    const meta = stateDictAttributes(c.root)?.get('_metadata');
    expect(meta).toBeInstanceOf(Map);
  });

  it('handles a `module.` prefix and other wrappers through stateDictOf', () => {
    const c = readPytorchBytes(torchSave(new Map([['module.x', specs.get('w')!]]), { wrap: (sd) => new Map<PVal, PVal>([['model', sd], ['epoch', 7]]) }), 'm.pth');
    const sd = stateDictOf(c);
    expect(sd.prefix).toBe('model');
    expect([...sd.tensors.keys()]).toEqual(['module.x']);
    expect(c.values.get('epoch')).toBe(7);
  });

  it('reads a root directory with any name', () => {
    const c = readPytorchBytes(torchSave(specs, { root: 'pytorch_model' }), 'pytorch_model.bin');
    expect(c.tensors.size).toBe(specs.size);
  });

  it('accepts torch._utils._rebuild_parameter (pickled nn.Parameter)', () => {
    const p = pickle(
      new Map<PVal, PVal>([
        [
          'p',
          {
            $reduce: [
              { $global: 'torch._utils._rebuild_parameter' },
              [
                {
                  $reduce: [
                    { $global: 'torch._utils._rebuild_tensor_v2' },
                    [{ $persid: { $tuple: ['storage', { $global: 'torch.FloatStorage' }, '0', 'cpu', 1] } }, 0, { $tuple: [1] }, { $tuple: [1] }, false, { $reduce: [{ $global: 'collections.OrderedDict' }, []] }],
                  ],
                },
                true,
                { $reduce: [{ $global: 'collections.OrderedDict' }, []] },
              ],
            ],
          },
        ],
      ]),
    );
    const zip = writeZip([
      { name: 'archive/data.pkl', data: p },
      { name: 'archive/data/0', data: new Uint8Array(Float32Array.from([2.5]).buffer) },
    ]);
    expect(Array.from(readPytorchBytes(zip, 'p.pt').tensors.get('p')!.data as Float32Array)).toEqual([2.5]);
  });
});

describe('bad PyTorch files: clear errors naming the file', () => {
  const specs = new Map<string, TorchTensorSpec>([
    ['a', { shape: [4], values: [1, 2, 3, 4] }],
    ['b', { shape: [2], values: [5, 6] }],
  ]);

  it('a disallowed global is refused by name and nothing runs', () => {
    const evil = pickle({ $reduce: [{ $global: 'os.system' }, ['touch /tmp/pwned']] });
    const zip = writeZip([{ name: 'archive/data.pkl', data: evil }]);
    expect(() => readPytorchBytes(zip, 'evil.bin')).toThrow(new PickleError('evil.bin', 'refusing to load disallowed global os.system (this reader only rebuilds plain data and torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor, torch._utils._rebuild_parameter, collections.OrderedDict, ...)'));
    // a pickled module object is refused too
    const model = pickle({ $reduce: [{ $global: 'torch.nn.modules.linear.Linear' }, []] });
    expect(() => readPytorchBytes(writeZip([{ name: 'archive/data.pkl', data: model }]), 'model.pt')).toThrow(/model\.pt: refusing to load disallowed global torch\.nn\.modules\.linear\.Linear/);
  });

  it('a missing storage', () => {
    expect(() => readPytorchBytes(torchSave(specs, { dropStorage: '1' }), 'm.bin')).toThrow('m.bin: storage 1 is missing from the archive (no entry archive/data/1)');
  });

  it('a storage of the wrong size', () => {
    expect(() => readPytorchBytes(torchSave(specs, { truncateStorage: '0' }), 'm.bin')).toThrow('m.bin: size mismatch: storage 0 has 12 bytes but 4 elements of F32 need 16');
  });

  it('a tensor that reaches past its storage', () => {
    const p = pickle(
      new Map<PVal, PVal>([
        ['x', { $reduce: [{ $global: 'torch._utils._rebuild_tensor_v2' }, [{ $persid: { $tuple: ['storage', { $global: 'torch.FloatStorage' }, '0', 'cpu', 4] } }, 2, { $tuple: [3] }, { $tuple: [1] }, false, null]] }],
      ]),
    );
    const zip = writeZip([
      { name: 'archive/data.pkl', data: p },
      { name: 'archive/data/0', data: new Uint8Array(16) },
    ]);
    expect(() => readPytorchBytes(zip, 'o.bin')).toThrow(/o\.bin: REDUCE torch\._utils\._rebuild_tensor_v2: tensor of shape \[3\] \(offset 2, stride \[1\]\) reaches element 4 of storage 0, which has 4 elements/);
  });

  it('a truncated file', () => {
    const bytes = torchSave(specs);
    for (const cut of [10, 100, bytes.length / 2]) {
      const f = tmpFile('cut.bin', bytes.subarray(0, bytes.length - cut));
      let err: unknown;
      try {
        readPytorchFile(f);
      } catch (e) {
        err = e;
      }
      // zip-level damage is reported as a PickleError (one error class for bad PyTorch files)
      expect(err).toBeInstanceOf(PickleError);
      expect((err as Error).message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid zip archive: `));
    }
  });

  it('not a PyTorch archive, and the legacy format', () => {
    expect(() => readPytorchBytes(writeZip([{ name: 'x/other.txt', data: new Uint8Array(1) }]), 'z.zip')).toThrow('z.zip: not a PyTorch zip checkpoint: no data.pkl in the archive');
    const legacy = tmpFile('old.pt', pickle(0x1950a86a20f9469cfc6c, { protocol: 2 }));
    expect(() => readPytorchFile(legacy)).toThrow(/legacy \(torch < 1\.6\) torch\.save file/);
  });

  it('a big-endian archive is refused', () => {
    const bytes = torchSave(specs);
    // rebuild with a byteorder entry
    const zip = writeZip([
      { name: 'archive/data.pkl', data: pickle(new Map<PVal, PVal>()) },
      { name: 'archive/byteorder', data: new TextEncoder().encode('big') },
    ]);
    expect(bytes.length).toBeGreaterThan(0);
    expect(() => readPytorchBytes(zip, 'be.bin')).toThrow(/be\.bin: storages are stored big-endian/);
  });
});
