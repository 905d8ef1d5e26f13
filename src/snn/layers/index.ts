/** Layers of the SNN engine (one concern per file). */
export * from './init';
export * from './observe';
export * from './conv2d';
export * from './linear';
export * from './batch-norm';
export * from './layer-norm';
export * from './embedding';
export * from './max-pool';
export * from './temporal-readout';
export * from './spiking-self-attention';
export * from './spiking-mlp';
export * from './module-list';
export * from './spiking-block';
