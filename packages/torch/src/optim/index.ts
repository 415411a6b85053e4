export * from './optimizer.js';
export * from './adamw.js';
export * from './sgd.js';
export * from './schedule.js';
export * from './clip_grad.js';
