/** With --checksums FILE the reports no longer call the expected MD5 "published" (issue 13). */
import { renderVerifyReport, verifyFailure, type VerifyReport } from '../../src/data/archives';

const report = (checksumSource: VerifyReport['checksumSource']): VerifyReport => ({
  dataset: 'cifar10',
  dataDir: '/d',
  files: [{ file: 'cifar-10-binary.tar.gz', path: '/d/cifar-10-binary.tar.gz', found: true, ok: false, actual: 'a'.repeat(32), expected: 'b'.repeat(32), variant: 'binary' } as VerifyReport['files'][number]],
  mismatched: ['cifar-10-binary.tar.gz'],
  missing: [],
  complete: false,
  completeVariants: [],
  checksumSource,
});

describe('verify report wording', () => {
  it('says published only for the official checksums', () => {
    expect(renderVerifyReport(report('published'))).toMatch(/MISMATCH\s+md5 a{32}, published b{32}/);
    expect(verifyFailure(report('published'))?.message).toMatch(/has MD5 a{32}, published b{32}/);
    const custom = renderVerifyReport(report('checksums file'));
    expect(custom).toMatch(/MISMATCH\s+md5 a{32}, expected \(checksums file\) b{32}/);
    expect(custom).not.toMatch(/published/);
    expect(verifyFailure(report('checksums file'))?.message).not.toMatch(/published/);
  });
});
