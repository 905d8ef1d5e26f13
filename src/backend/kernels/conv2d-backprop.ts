/**
 * Conv2D gradients for the wasm backend, written as forward convolutions and matMuls that run
 * on XNNPACK's fast paths.
 *
 * - `Conv2DBackpropFilter` (missing from tfjs-backend-wasm 4.22): the filter gradient
 *   dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*sh+kh-pt, ow*sw+kw-pl, ci] * dy[n,oh,ow,co]
 *   is a forward conv of x with the input channels as the batch ([Ci,H,W,N]) and dy as the
 *   filter ([OH,OW,N,Co], dilated by the stride), giving [Ci,KH,KW,Co]. 1x1 filters without
 *   padding are one matMul ([Ci, M] x [M, Co] with M = N*OH*OW).
 * - `Conv2DBackpropInput` (replaces the built-in, which runs a scalar loop ~12x slower than
 *   the forward conv): dx = conv(dy dilated by the stride with zeros, W reversed in space with
 *   in/out channels swapped), with pads (KH-1-pt, H+pt-Ld) where Ld = (OH-1)*sh+1 (negative pads
 *   crop). 1x1 filters with stride 1 and no padding are one matMul.
 *
 * Both support any stride, 'same' / 'valid' / explicit / numeric padding, dimRoundingMode and
 * NHWC or NCHW (NCHW is transposed to NHWC and back). The filter kernels have no dilation
 * attribute (tfjs-core's conv2d gradient rejects dilations > 1 itself).
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { WASM, WasmBackendLike, WasmOps, withOps } from './wasm-ops';

type ConvPad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  oh: number;
  ow: number;
  top: number;
  left: number;
}

function nchwShapeToNhwc(s: number[]): [number, number, number, number] {
  return [s[0], s[2], s[3], s[1]];
}

/**
 * Geometry of the forward conv (NHWC shapes). The output size is taken from dy itself: tfjs-core's
 * conv2d gradient does not pass dimRoundingMode on, so with 'ceil' rounding the size recomputed
 * here would be one short of dy's; reading dy's gives the true gradient of the forward conv.
 */
function geometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  dyShapeNhwc: number[],
  strides: number | [number, number],
  pad: ConvPad,
  rounding: Rounding,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, rounding, false, 'channelsLast');
  if (dyShapeNhwc[0] !== info.batchSize || dyShapeNhwc[3] !== info.outChannels) {
    throw new Error(`conv2d gradient: dy shape ${dyShapeNhwc} does not fit input ${xShape} and filter ${filterShape}`);
  }
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    co: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    oh: dyShapeNhwc[1],
    ow: dyShapeNhwc[2],
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/** A pointwise conv that reads every input pixel once: a plain matMul on the 2-D view. */
function isPlainPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.top === 0 && g.left === 0 && g.oh === g.h && g.ow === g.w;
}

/**
 * The filter gradient as one forward conv contracts N values per filter position, which XNNPACK
 * runs well only for N of about 8 and more (15-20 GFLOP/s at N >= 8; 4 GFLOP/s at N = 1);
 * below that, one matMul per filter tap (K = N*OH*OW) is faster (measured on 32x32 and 8x8
 * maps with 64-384 channels).
 */
function useConvTrick(g: ConvGeometry): boolean {
  return g.n >= 16 || (g.n >= 8 && g.oh * g.ow >= 256);
}

/** Filter gradient dW [KH,KW,Ci,Co] of an NHWC conv from x [N,H,W,Ci] and dy [N,OH,OW,Co]. */
export function convFilterGradNhwc(ops: WasmOps, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const { n, h, w, ci, co, kh, kw, sh, sw, oh, ow, top, left } = g;
  if (kh === 1 && kw === 1 && top === 0 && left === 0) {
    // Pointwise: subsample x for strides, then one matMul over M = N*OH*OW rows.
    let xs = x;
    if (sh !== 1 || sw !== 1 || oh !== h || ow !== w) {
      xs = ops.stridedSlice(x, [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, ci], [1, sh, sw, 1]);
    }
    const m = n * oh * ow;
    const x2 = ops.reshape(xs, [m, ci]);
    const dy2 = ops.reshape(dy, [m, co]);
    let dw2: TensorInfo;
    if (ci <= co) {
      dw2 = ops.matMul2d(ops.transpose(x2, [1, 0]), dy2); // [Ci, Co]
    } else {
      dw2 = ops.transpose(ops.matMul2d(ops.transpose(dy2, [1, 0]), x2), [1, 0]); // ([Co, Ci])^T
    }
    return ops.reshape(dw2, [1, 1, ci, co]);
  }
  const ldh = (oh - 1) * sh + 1;
  const ldw = (ow - 1) * sw + 1;
  if (!useConvTrick(g)) {
    // One matMul per filter tap: dW[kh,kw]^T = dy^T [Co, M] x x_shifted [M, Ci].
    const p = ops.padOrCrop(x, top, kh + ldh - 1 - h - top, left, kw + ldw - 1 - w - left);
    const xp = ops.pad(p.x, p.pads);
    const m = n * oh * ow;
    const dyT = ops.transpose(ops.reshape(dy, [m, co]), [1, 0]);
    const taps: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const xs = ops.stridedSlice(xp, [0, i, j, 0], [n, i + ldh, j + ldw, ci], [1, sh, sw, 1]);
        taps.push(ops.reshape(ops.matMul2d(dyT, ops.reshape(xs, [m, ci])), [1, co, ci]));
      }
    }
    // The wasm Concat kernel takes its inputs as an array.
    const all = taps.length === 1 ? taps[0] : ops.run(tf.Concat, taps as unknown as NamedTensorInfoMap, { axis: 0 });
    return ops.reshape(ops.transpose(all, [0, 2, 1]), [kh, kw, ci, co]);
  }
  // Forward conv with the batch as channels: [Ci,H,W,N] (*) [OH,OW,N,Co] -> [Ci,KH,KW,Co].
  const xt = ops.transpose(x, [3, 1, 2, 0]);
  const dyt = ops.transpose(dy, [1, 2, 0, 3]);
  const p = ops.padOrCrop(xt, top, kh + ldh - 1 - h - top, left, kw + ldw - 1 - w - left);
  const r = ops.conv2d(p.x, dyt, [1, 1], p.pads, [sh, sw]);
  if (r.shape[1] !== kh || r.shape[2] !== kw) {
    throw new Error(`Conv2DBackpropFilter: internal shape error ${r.shape} for filter ${kh}x${kw}`);
  }
  return ops.transpose(r, [1, 2, 0, 3]);
}

/**
 * Zero-dilates dy [N,OH,OW,C] by the stride (the first step of an input gradient as a forward
 * conv): [N,OH,1,OW,1,C] padded to [N,OH,sh,OW,sw,C], i.e. [N, OH*sh, OW*sw, C]. Stride 1 is a no-op.
 */
export function dilateByStride(
  ops: WasmOps,
  dy: TensorInfo,
  [n, oh, ow, c]: [number, number, number, number],
  sh: number,
  sw: number,
): { dyd: TensorInfo; ldh: number; ldw: number } {
  if (sh === 1 && sw === 1) return { dyd: dy, ldh: oh, ldw: ow };
  const p6 = ops.pad(ops.reshape(dy, [n, oh, 1, ow, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return { dyd: ops.reshape(p6, [n, oh * sh, ow * sw, c]), ldh: oh * sh, ldw: ow * sw };
}

/** Input gradient dx [N,H,W,Ci] of an NHWC conv from dy [N,OH,OW,Co] and filter [KH,KW,Ci,Co]. */
export function convInputGradNhwc(ops: WasmOps, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { n, h, w, ci, co, kh, kw, sh, sw, oh, ow, top, left } = g;
  if (isPlainPointwise(g)) {
    const m = n * h * w;
    const wt = ops.transpose(ops.reshape(filter, [ci, co]), [1, 0]); // [Co, Ci]
    return ops.reshape(ops.matMul2d(ops.reshape(dy, [m, co]), wt), [n, h, w, ci]);
  }
  // the trailing zeros the stride dilation adds are taken off the bottom/right pads below
  const { dyd, ldh, ldw } = dilateByStride(ops, dy, [n, oh, ow, co], sh, sw);
  let wr = filter;
  if (kh > 1 || kw > 1) wr = ops.reverse(filter, [0, 1]);
  wr = ops.transpose(wr, [0, 1, 3, 2]); // [KH,KW,Co,Ci]
  const p = ops.padOrCrop(dyd, kh - 1 - top, h + top - ldh, kw - 1 - left, w + left - ldw);
  const dx = ops.conv2d(p.x, wr, [1, 1], p.pads);
  if (dx.shape[1] !== h || dx.shape[2] !== w) {
    throw new Error(`Conv2DBackpropInput: internal shape error ${dx.shape} for input ${h}x${w}`);
  }
  return dx;
}

function isNchw(dataFormat: unknown): boolean {
  return dataFormat === 'NCHW';
}

function conv2DBackpropFilter({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter (wasm): float32 only');
  return withOps(backend as WasmBackendLike, (ops) => {
    const nchw = isNchw(a.dataFormat);
    const xs = nchw ? nchwShapeToNhwc(x.shape) : (x.shape as [number, number, number, number]);
    const xn = nchw ? ops.transpose(x, [0, 2, 3, 1]) : x;
    const dyn = nchw ? ops.transpose(dy, [0, 2, 3, 1]) : dy;
    const g = geometry(xs, a.filterShape, dyn.shape, a.strides, a.pad as ConvPad, a.dimRoundingMode);
    return ops.keep(convFilterGradNhwc(ops, xn, dyn, g));
  });
}

function conv2DBackpropInput({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo {
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error('Conv2DBackpropInput (wasm): float32 only');
  return withOps(backend as WasmBackendLike, (ops) => {
    const nchw = isNchw(a.dataFormat);
    const xs = nchw ? nchwShapeToNhwc(a.inputShape) : a.inputShape;
    const dyn = nchw ? ops.transpose(dy, [0, 2, 3, 1]) : dy;
    const g = geometry(xs, filter.shape as [number, number, number, number], dyn.shape, a.strides, a.pad as ConvPad, a.dimRoundingMode);
    const dx = convInputGradNhwc(ops, dyn, filter, g);
    return ops.keep(nchw ? ops.transpose(dx, [0, 3, 1, 2]) : dx);
  });
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: WASM,
  kernelFunc: conv2DBackpropFilter as KernelFunc,
};

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: WASM,
  kernelFunc: conv2DBackpropInput as KernelFunc,
};
