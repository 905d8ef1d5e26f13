/**
 * TF.js as spikeclip uses it: tfjs-core's API with every gradient and the pure-JS cpu backend
 * registered. Import TF.js through this module only (`import * as tf from '../tf'`), never from a
 * @tensorflow package directly (test/tf-imports.test.ts checks), so that the registrations below
 * always happen before any op, gradient or backend of ours.
 *
 * tfjs-core's published CommonJS build registers no gradients (its `register_all_gradients` ships
 * only as extensionless ES modules that Node cannot load). The two CommonJS builds that register
 * tfjs-core's full gradient set are the umbrella @tensorflow/tfjs and @tensorflow/tfjs-layers;
 * we take them from tfjs-layers (31 MB) instead of the umbrella (which also installs the converter,
 * the WebGL backend, tfjs-data and core-js: about 210 MB). Nothing of tfjs-layers is used otherwise.
 */
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
