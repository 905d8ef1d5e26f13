/**
 * The multi-step LIF / IF neuron as plain loops over Float32Arrays laid out [T, N] (time-major,
 * N = every other axis): the forward over all T steps in one pass, and the backward (BPTT with
 * the surrogate derivative) in one more. Used by the fused kernels in ./lif-kernels.ts.
 *
 * The forward reproduces MultiStepNeuron's composed ops bit for bit: every float32 operation of
 * the composed path (sub, mul, add, each rounded to float32) is mirrored with Math.fround, in
 * the same order (double rounding through float64 is exact for +, -, *), so the spikes are
 * identical, not merely close. The backward recomputes H from the saved input (one cheap pass)
 * in blocks of neurons that stay in cache, then runs BPTT:
 *
 *   u_t = H_t - V_th,  S_t = [u_t >= 0],  g_t = surrogate'(u_t)
 *   hard reset: V_t = H_t (1 - S_t) + V_r S_t  ->  dV_t/dH_t = 1 - S_t,  dV_t/dS_t = V_r - H_t
 *   soft reset: V_t = H_t - V_th S_t           ->  dV_t/dH_t = 1,        dV_t/dS_t = -V_th
 *   (with detachReset the dV_t/dS_t term is dropped)
 *   LIF: H_t = V_{t-1} + (X_t - (V_{t-1} - V_r)) k  ->  dH/dX = k, dH/dV_{t-1} = 1 - k
 *   IF:  H_t = V_{t-1} + X_t                        ->  dH/dX = 1, dH/dV_{t-1} = 1
 *   dS_t = dy_t + dV_t dV_t/dS_t;  dH_t = dS_t g_t + dV_t dV_t/dH_t
 *   dX_t = dH_t dH/dX;  dV_{t-1} = dH_t dH/dV_{t-1}
 */
import type { SurrogateName } from '../neuron-config';

export interface LifParams {
  /** 'lif' (leaky, decay k = 1/tau) or 'if' (no leak). */
  kind: 'lif' | 'if';
  /** 1/tau (LIF only). */
  decay: number;
  vThreshold: number;
  /** Hard reset to vReset, or soft reset (subtract vThreshold) when false. */
  hardReset: boolean;
  /** Reset potential (hard reset) and initial membrane; 0 for soft reset. */
  vReset: number;
  detachReset: boolean;
  surrogate: SurrogateName;
  alpha: number;
}

const f = Math.fround;

/**
 * Spikes s [T, N] of inputs x [T, N]; `v` is scratch of length N.
 * Branch-free inner loops (spikes are unpredictable; a branch per neuron cost 2x): the spike is
 * `+(h >= vth)` (equal to the composed path's `h - vth >= 0`: the float32 difference of two
 * float32 values is 0 only when they are equal), and the reset `h (1 - s) + vr s` (exactly h or
 * vr for s in {0, 1}, as in the composed path).
 */
export function lifForward(p: LifParams, x: Float32Array, s: Float32Array, T: number, N: number, v: Float32Array): void {
  const k = f(p.decay);
  const vth = f(p.vThreshold);
  const vr = f(p.hardReset ? p.vReset : 0);
  const leaky = p.kind === 'lif';
  v.fill(vr, 0, N);
  if (leaky && p.hardReset) {
    for (let t = 0; t < T; t++) {
      const o = t * N;
      for (let i = 0; i < N; i++) {
        const vi = v[i];
        const h = f(f(f(x[o + i] - f(vi - vr)) * k) + vi);
        const sp = +(h >= vth);
        s[o + i] = sp;
        v[i] = h * (1 - sp) + vr * sp;
      }
    }
  } else if (leaky) {
    for (let t = 0; t < T; t++) {
      const o = t * N;
      for (let i = 0; i < N; i++) {
        const vi = v[i];
        const h = f(f(f(x[o + i] - vi) * k) + vi);
        const sp = +(h >= vth);
        s[o + i] = sp;
        v[i] = f(h - vth * sp);
      }
    }
  } else if (p.hardReset) {
    for (let t = 0; t < T; t++) {
      const o = t * N;
      for (let i = 0; i < N; i++) {
        const h = f(x[o + i] + v[i]);
        const sp = +(h >= vth);
        s[o + i] = sp;
        v[i] = h * (1 - sp) + vr * sp;
      }
    }
  } else {
    for (let t = 0; t < T; t++) {
      const o = t * N;
      for (let i = 0; i < N; i++) {
        const h = f(x[o + i] + v[i]);
        const sp = +(h >= vth);
        s[o + i] = sp;
        v[i] = f(h - vth * sp);
      }
    }
  }
}

/** H [T, n] for neurons [i0, i0 + n) of x [T, N]. */
function chargeBlock(p: LifParams, x: Float32Array, H: Float32Array, T: number, N: number, i0: number, n: number, v: Float32Array): void {
  const k = f(p.decay);
  const vth = f(p.vThreshold);
  const vr = f(p.hardReset ? p.vReset : 0);
  const leaky = p.kind === 'lif';
  const hard = p.hardReset;
  v.fill(vr, 0, n);
  for (let t = 0; t < T; t++) {
    const o = t * N + i0;
    const oh = t * n;
    if (leaky) {
      for (let i = 0; i < n; i++) {
        const vi = v[i];
        const h = f(f(f(x[o + i] - f(vi - vr)) * k) + vi);
        H[oh + i] = h;
        const sp = +(h >= vth);
        v[i] = hard ? h * (1 - sp) + vr * sp : f(h - vth * sp);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const h = f(x[o + i] + v[i]);
        H[oh + i] = h;
        const sp = +(h >= vth);
        v[i] = hard ? h * (1 - sp) + vr * sp : f(h - vth * sp);
      }
    }
  }
}

/** 2^n for n in [-128, 127], at index n + 128. */
const POW2 = Float64Array.from({ length: 256 }, (_, i) => Math.pow(2, i - 128));
const LN2 = Math.LN2;
const C2 = (LN2 * LN2) / 2;
const C3 = (C2 * LN2) / 3;
const C4 = (C3 * LN2) / 4;
const C5 = (C4 * LN2) / 5;
const C6 = (C5 * LN2) / 6;
const C7 = (C6 * LN2) / 7;

/**
 * exp(x) to about 1e-8 relative (2^round(y) from a table times a degree-7 polynomial of 2^f,
 * |f| <= 1/2; y = x log2 e clamped to +-126): twice as fast as Math.exp, and the surrogate
 * gradients it feeds are float32 anyway.
 */
export function expFast(x: number): number {
  let y = x * Math.LOG2E;
  y = y < -126 ? -126 : y > 126 ? 126 : y;
  const n = Math.floor(y + 0.5);
  const t = y - n;
  return POW2[n + 128] * (1 + t * (LN2 + t * (C2 + t * (C3 + t * (C4 + t * (C5 + t * (C6 + t * C7)))))));
}

/** G = surrogate'(H - V_th) elementwise over the first `len` values. */
function surrogateGrad(name: SurrogateName, a: number, vth: number, H: Float32Array, G: Float32Array, len: number): void {
  switch (name) {
    case 'sigmoid':
      // a s (1 - s) with s = sigmoid(a u) = 1 / (1 + e), e = exp(-a u): a e / (1 + e)^2
      for (let i = 0; i < len; i++) {
        const e = expFast(-a * f(H[i] - vth));
        const d = 1 + e;
        G[i] = (a * e) / (d * d);
      }
      return;
    case 'atan': {
      const c = (Math.PI / 2) * a;
      for (let i = 0; i < len; i++) {
        const z = c * f(H[i] - vth);
        G[i] = a / 2 / (1 + z * z);
      }
      return;
    }
    case 'fast-sigmoid':
      for (let i = 0; i < len; i++) {
        const z = 1 + a * Math.abs(f(H[i] - vth));
        G[i] = a / 2 / (z * z);
      }
      return;
    case 'triangle': {
      const a2 = a * a;
      for (let i = 0; i < len; i++) {
        const z = a - a2 * Math.abs(f(H[i] - vth));
        G[i] = z > 0 ? z : 0;
      }
      return;
    }
    case 'rectangular': {
      const w = f(0.5 / a);
      for (let i = 0; i < len; i++) G[i] = Math.abs(f(H[i] - vth)) < w ? a : 0;
      return;
    }
    default:
      throw new Error(`fused neuron: unknown surrogate ${String(name)}`);
  }
}

/** Neurons per backward block: T * BLOCK * 3 floats of scratch stay in L2. */
const BLOCK = 2048;

/** Scratch the backward needs for T steps. */
export function lifBackwardScratchSize(T: number): number {
  return BLOCK * (2 * T + 2);
}

/**
 * dx [T, N] from dy [T, N] (gradient of the spikes) and the forward's input x [T, N].
 * `scratch` holds at least lifBackwardScratchSize(T) floats.
 */
export function lifBackward(p: LifParams, dy: Float32Array, x: Float32Array, dx: Float32Array, T: number, N: number, scratch: Float32Array): void {
  const H = scratch.subarray(0, T * BLOCK);
  const G = scratch.subarray(T * BLOCK, 2 * T * BLOCK);
  const dV = scratch.subarray(2 * T * BLOCK, 2 * T * BLOCK + BLOCK);
  const v = scratch.subarray(2 * T * BLOCK + BLOCK, 2 * T * BLOCK + 2 * BLOCK);
  const vth = f(p.vThreshold);
  const vr = f(p.hardReset ? p.vReset : 0);
  const leaky = p.kind === 'lif';
  const dhdx = leaky ? f(p.decay) : 1;
  const dhdv = leaky ? 1 - f(p.decay) : 1;
  const hard = p.hardReset;
  const detach = p.detachReset;
  for (let i0 = 0; i0 < N; i0 += BLOCK) {
    const n = Math.min(BLOCK, N - i0);
    chargeBlock(p, x, H, T, N, i0, n, v);
    surrogateGrad(p.surrogate, p.alpha, vth, H, G, T * n);
    dV.fill(0, 0, n);
    for (let t = T - 1; t >= 0; t--) {
      const o = t * N + i0;
      const oh = t * n;
      if (hard && detach) {
        for (let i = 0; i < n; i++) {
          const dh = dV[i] * (1 - +(H[oh + i] >= vth)) + dy[o + i] * G[oh + i];
          dx[o + i] = dh * dhdx;
          dV[i] = dh * dhdv;
        }
      } else if (hard) {
        for (let i = 0; i < n; i++) {
          const h = H[oh + i];
          const dv = dV[i];
          const dh = dv * (1 - +(h >= vth)) + (dy[o + i] + dv * (vr - h)) * G[oh + i];
          dx[o + i] = dh * dhdx;
          dV[i] = dh * dhdv;
        }
      } else if (detach) {
        for (let i = 0; i < n; i++) {
          const dh = dV[i] + dy[o + i] * G[oh + i];
          dx[o + i] = dh * dhdx;
          dV[i] = dh * dhdv;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const dv = dV[i];
          const dh = dv + (dy[o + i] - dv * vth) * G[oh + i];
          dx[o + i] = dh * dhdx;
          dV[i] = dh * dhdv;
        }
      }
    }
  }
}
