/**
 * Small seeded random number generators for the data layer (never Math.random): every random
 * choice (synthetic images, shuffling, augmentation) is a pure function of a seed and a few
 * integers or names, so it can be recomputed in any order, in any process.
 */

/** 32-bit FNV-1a over a string's UTF-16 code units, then a murmur3 finaliser. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** The murmur3 32-bit finaliser (a bijection that mixes all bits). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed from any mix of numbers and strings, e.g. `seedOf(seed, 'shuffle', epoch)`. */
export function seedOf(...parts: Array<number | string>): number {
  return hashString(parts.map((p) => (typeof p === 'number' ? `n${p}` : `s${p}`)).join('\u0000'));
}

/** A generator of uniform numbers in [0, 1). */
export interface Rng {
  (): number;
}

/** mulberry32: tiny, fast, full-period 32-bit state; good enough for data augmentation and shapes. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator seeded from `seedOf(...parts)`. */
export function rngOf(...parts: Array<number | string>): Rng {
  return mulberry32(seedOf(...parts));
}

/** Uniform integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Uniform number in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
