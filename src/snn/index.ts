/** The SNN engine: Module tree, spike monitors, neuron settings, surrogates and neurons. */
export * from './module';
export * from './monitor';
export * from './neuron-config';
export * from './surrogate';
export * from './neuron';
export * from './layers';
