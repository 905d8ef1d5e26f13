/**
 * Depthwise conv gradients for the wasm backend (both missing from tfjs-backend-wasm 4.22).
 * Our models do not use depthwise convs; these exist so that a model which does can train.
 * NHWC only, like the wasm forward kernel.
 *
 * Forward: y[n,oh,ow,c*M+m] = sum_{kh,kw} x[n, oh*s+kh*d-pt, ow*s+kw*d-pl, c] * W[kh,kw,c,m].
 * - Filter gradient: per filter tap, a strided slice of the padded x times dy, summed over
 *   n, oh, ow (elementwise kernels; KH*KW passes over dy).
 * - Input gradient: a depthwise conv (multiplier 1, C*M channels) of dy, zero-dilated by the
 *   stride, with the spatially reversed filter; then a sum over the M multipliers.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { dilateByStride } from './conv2d-backprop';
import { WASM, WasmBackendLike, withOps } from './wasm-ops';

type ConvPad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

function info(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  a: { strides: number | [number, number]; dilations: number | [number, number]; pad: unknown; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
) {
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad as ConvPad,
    a.dimRoundingMode,
    true,
    'channelsLast',
  );
}

function depthwiseBackpropFilter({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo {
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const ci = info(x.shape as [number, number, number, number], a.filterShape, a);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = ci;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = ci;
  const mul = a.filterShape[3];
  const top = ci.padInfo.top;
  const left = ci.padInfo.left;
  return withOps(backend as WasmBackendLike, (ops) => {
    // Pad x so every tap's slice is in range.
    const needH = (kh - 1) * dh + (oh - 1) * sh + 1;
    const needW = (kw - 1) * dw + (ow - 1) * sw + 1;
    const p = ops.padOrCrop(x, top, needH - h - top, left, needW - w - left);
    const xp = ops.pad(p.x, p.pads);
    const dy5 = ops.reshape(dy, [n, oh, ow, c, mul]);
    const taps: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const r0 = i * dh;
        const c0 = j * dw;
        const xs = ops.stridedSlice(xp, [0, r0, c0, 0], [n, r0 + (oh - 1) * sh + 1, c0 + (ow - 1) * sw + 1, c], [1, sh, sw, 1]);
        const prodT = ops.run(tf.Multiply, { a: ops.reshape(xs, [n, oh, ow, c, 1]), b: dy5 });
        taps.push(ops.sum(ops.reshape(prodT, [n * oh * ow, c * mul]), [0]));
      }
    }
    // The wasm Concat kernel takes its inputs as an array.
    const rows = taps.map((t) => ops.reshape(t, [1, c * mul]));
    const stacked = ops.run(tf.Concat, rows as unknown as NamedTensorInfoMap, { axis: 0 });
    return ops.keep(ops.reshape(stacked, [kh, kw, c, mul]));
  });
}

function depthwiseBackpropInput({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: {}; attrs?: NamedAttrMap }): TensorInfo {
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const ci = info(a.inputShape, filter.shape as [number, number, number, number], a);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = ci;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = ci;
  const mul = filter.shape[3];
  const top = ci.padInfo.top;
  const left = ci.padInfo.left;
  return withOps(backend as WasmBackendLike, (ops) => {
    const cm = c * mul;
    const { dyd, ldh, ldw } = dilateByStride(ops, dy, [n, oh, ow, cm], sh, sw);
    const wr = ops.reshape(kh > 1 || kw > 1 ? ops.reverse(filter, [0, 1]) : filter, [kh, kw, cm, 1]);
    const keH = (kh - 1) * dh + 1;
    const keW = (kw - 1) * dw + 1;
    const p = ops.padOrCrop(dyd, keH - 1 - top, h + top - ldh, keW - 1 - left, w + left - ldw);
    const r = ops.run(
      tf.DepthwiseConv2dNative,
      { x: p.x, filter: wr },
      { strides: [1, 1], pad: p.pads as unknown as number[][], dilations: [dh, dw], dataFormat: 'NHWC' },
    );
    if (mul === 1) return ops.keep(r);
    return ops.keep(ops.sum(ops.reshape(r, [n, h, w, c, mul]), [4]));
  });
}

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: WASM,
  kernelFunc: depthwiseBackpropFilter as KernelFunc,
};

export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: WASM,
  kernelFunc: depthwiseBackpropInput as KernelFunc,
};
