export * from './module.js';
export * from './linear.js';
export * from './conv.js';
export * from './normalization.js';
export * from './embedding.js';
export * from './activation.js';
export * from './attention.js';
export * from './container.js';
export * as init from './init.js';
