/** SpikeCLIP models: configs, the spiking encoders, the ANN twin, PyTorch name mapping. */
export * from './config';
export * from './image-encoder';
export * from './text-encoder';
export * from './spikeclip';
export * from './ann-twin';
export * from './pytorch-names';
export * from './describe';
