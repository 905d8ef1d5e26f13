/** The flag checks of `finetune --target teacher` (no TF.js, no CLI spawn; the CLI runs are in test/commands). */
import { checkTeacherTarget } from '../../src/train/finetune-teacher';
import type { FinetuneOptions } from '../../src/train/finetune';

const base: FinetuneOptions = { dataset: 'shapes', out: '/nonexistent/run', teacher: 'ckpt/teacher' };

describe('checkTeacherTarget', () => {
  test('a teacher and nothing student-specific passes (--loss ce included)', () => {
    expect(() => checkTeacherTarget(base)).not.toThrow();
    expect(() => checkTeacherTarget({ ...base, loss: 'ce' })).not.toThrow();
  });

  test.each([
    [{ teacher: undefined }, /no --teacher was given/],
    [{ checkpoint: 'ckpt/student' }, /--checkpoint names a student/],
    [{ preset: 'spikeclip-tiny' }, /--preset sizes a fresh student/],
    [{ loss: 'kl' as const }, /--loss kl does not apply/],
    [{ boundaryAngle: 90 }, /--boundary-angle gates the student's dual loss/],
  ])('%j is a usage error (exit 2) with its fix', (extra, message) => {
    let err: unknown;
    try {
      checkTeacherTarget({ ...base, ...extra });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
    expect((err as { exitCode?: number }).exitCode).toBe(2);
  });
});
