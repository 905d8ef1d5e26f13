// Test-wide TF.js settings: no "install tfjs-node" banner, no debug-mode checks (as in the CLI).
import * as tf from '../../src/tf';

tf.env().set('IS_TEST', true);
