/**
 * PyTorch's nn.MaxPool2d(kernel, stride, padding) (ceil_mode False, dilation 1) on NHWC input:
 * pad every side with -Infinity explicitly, then a 'valid' pool. TF's 'same' padding is
 * asymmetric and would give different windows. Output size floor((H + 2p - k) / s) + 1.
 */
import * as tf from '../../tf';
import { ModuleError } from '../module';

export function maxPool2dTorch(x: tf.Tensor4D, kernel = 3, stride = 2, pad = 1): tf.Tensor4D {
  if (pad * 2 > kernel) throw new ModuleError(`maxPool2dTorch: padding ${pad} must be at most half the kernel ${kernel} (as in PyTorch)`);
  return tf.tidy(() => {
    const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], -Infinity) : x;
    return tf.maxPool(padded, kernel, stride, 'valid');
  });
}
