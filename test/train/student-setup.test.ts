import { identicalClassVectors } from '../../src/train/student-setup';

describe('identicalClassVectors', () => {
  const rows = (...r: number[][]) => Float32Array.from(r.flat());

  test('groups classes whose vectors agree to 6 significant digits, in class order', () => {
    const w = rows([1, 2], [0.5, 0.5], [1, 2.0000001], [0.5, 0.5], [3, 4]);
    expect(identicalClassVectors(w, 5, 2)).toEqual([
      [0, 2],
      [1, 3],
    ]);
  });

  test('no group when every vector differs (even in the 6th digit); one group of all when all are equal', () => {
    expect(identicalClassVectors(rows([1, 2], [1, 2.00001], [1, 2.0001]), 3, 2)).toEqual([]);
    expect(identicalClassVectors(rows([7, 7], [7, 7], [7, 7]), 3, 2)).toEqual([[0, 1, 2]]);
  });
});
