/** Converters between reference SpikeCLIP PyTorch files, TF.js model folders and spikeclip checkpoints. */
export * from './errors';
export * from './reference-file';
export * from './architecture';
export * from './import';
export * from './export';
export * from './tfjs-format';
export * from './tfjs-files';
