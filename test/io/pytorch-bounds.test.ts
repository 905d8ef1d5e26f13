/** Declared sizes against what the pickle needs, before anything is inflated (issue 13, item 4). */
import { randomBytes } from 'crypto';
import { PickleError } from '../../src/io/pickle';
import { readPytorchBytes } from '../../src/io/pytorch';
import { ZipArchive } from '../../src/io/zip';
import { pickle, torchTensorNode, writeZip, type PVal } from '../helpers/pickle-writer';

/** A torch.save-like archive whose one storage is deflated `inflated` bytes of zeros; the pickle says `numel` floats. */
function bomb(inflated: number, numel: number, data = new Uint8Array(inflated)): Uint8Array {
  const items = new Map<PVal, PVal>([['w', torchTensorNode('0', { shape: [numel], values: [] }, numel)]]);
  const pkl = pickle({ $setitems: [{ $reduce: [{ $global: 'collections.OrderedDict' }, []] }, items] });
  return writeZip([
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/data/0', data, deflate: true },
  ]);
}

describe('PyTorch zip bounds', () => {
  it('a storage that declares more than the pickle needs is refused before it is inflated', () => {
    const bytes = bomb(64 * 2 ** 20, 10);
    expect(bytes.length).toBeLessThan(200_000);
    const read = jest.spyOn(ZipArchive.prototype, 'read');
    try {
      expect(() => readPytorchBytes(bytes, 'bomb.pth')).toThrow(PickleError);
      expect(() => readPytorchBytes(bytes, 'bomb.pth')).toThrow(/bomb\.pth: size mismatch: storage 0 has 67108864 bytes but 10 elements of F32 need 40/);
      // data.pkl is read (it is small); the 64 MB storage never
      expect(read.mock.calls.map((c) => c[0])).toEqual(['archive/data.pkl', 'archive/data.pkl']);
    } finally {
      read.mockRestore();
    }
  });

  it('a large deflated storage is refused even when the pickle agrees', () => {
    const n = 2 ** 27; // 512 MiB of floats, declared; the zip says so too
    // 600 KB of noise that claims to inflate to 512 MiB: within deflate's ratio, so only the cap stops it
    const noise = new Uint8Array(randomBytes(600_000));
    const patched = patchSizes(bomb(0, n, noise), 'archive/data/0', n * 4);
    expect(() => readPytorchBytes(patched, 'bomb.pth')).toThrow(/bomb\.pth: storage 0 is deflated to expand to 536870912 bytes/);
  });

  it('an entry that declares more than deflate can produce is refused when the archive is opened', () => {
    const bytes = patchSizes(writeZip([{ name: 'a', data: new Uint8Array(1000), deflate: true }]), 'a', 2 ** 30);
    expect(() => ZipArchive.fromBytes(bytes, 'z.zip')).toThrow(/z\.zip: invalid zip archive: entry a declares 1073741824 bytes from \d+ deflated bytes, more than deflate can produce/);
  });
});

/** Sets the uncompressed size of `name` in the central directory (32-bit field). */
function patchSizes(bytes: Uint8Array, name: string, size: number): Uint8Array {
  const out = Buffer.from(bytes);
  const sig = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let p = out.indexOf(sig); p >= 0; p = out.indexOf(sig, p + 4)) {
    const len = out.readUInt16LE(p + 28);
    if (out.subarray(p + 46, p + 46 + len).toString() === name) out.writeUInt32LE(size, p + 24);
  }
  return new Uint8Array(out);
}
