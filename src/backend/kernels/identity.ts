/**
 * Identity for the wasm backend without a copy.
 *
 * tfjs-backend-wasm 4.22's Identity copies the tensor's bytes. The engine runs Identity for
 * every `tf.clone` and, during training, for every tensor it saves for the backward pass
 * (`saveTensorsForBackwardMode` keeps a clone of each saved input and output), so a training
 * step copied (and held) most of its activations twice. TF.js tensors are immutable and the
 * wasm backend already shares data between tensors (Reshape does), so this Identity shares the
 * data and counts a reference, as the cpu backend's does.
 */
import * as tf from '../../tf';
import type { KernelConfig, KernelFunc, NamedTensorInfoMap, TensorInfo } from '../../tf';
import { builtin, WASM, WasmBackendLike } from './wasm-ops';

function identity({ inputs, backend }: { inputs: NamedTensorInfoMap; backend: {} }): TensorInfo {
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string') {
    const k = builtin(tf.Identity);
    if (!k) throw new Error('wasm Identity is not registered');
    return (k.kernelFunc as KernelFunc)({ inputs, backend, attrs: {} }) as TensorInfo;
  }
  (backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: KernelConfig = {
  kernelName: tf.Identity,
  backendName: WASM,
  kernelFunc: identity as KernelFunc,
};
