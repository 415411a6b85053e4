// @tgcnet/torch: PyTorch's tensors, autograd, nn and optim for TypeScript, on libtorch.
export { Tensor, type Device } from './tensor.js';
export * from './dtype.js';
export * from './creation.js';
export { tidy, keep, dispose, scopeDepth } from './scope.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd.js';
export { manualSeed, setNumThreads, getNumThreads, blasNumThreads, cuda, memory, liveTensorCount, libtorchVersion, mallocPolicy, blas } from './runtime.js';
export type { BlasInfo } from './runtime.js';
export * as F from './functional.js';
export * as aten from './generated/aten.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as distributed from './distributed.js';
export * from './io/safetensors.js';
export * from './testing/gradcheck.js';
export * as amp from './amp.js';
export * as profiler from './profiler.js';
