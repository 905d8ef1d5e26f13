/**
 * TF.js as spikeclip uses it. Import TF.js through this module only (`import * as tf from '../tf'`),
 * so that what TF.js is made of (packages, gradient and backend registrations) is decided here once.
 */
export * from '@tensorflow/tfjs';
