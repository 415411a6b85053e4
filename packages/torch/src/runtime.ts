// Process-wide settings: seeds, threads, devices, memory accounting.
import { availableParallelism } from 'node:os';
import { blasCoreWarning, readCpuFeatures } from './blas_core.js';
import { blasCoreChosenBy, native } from './native.js';

/** Seeds libtorch's generators (CPU and CUDA), as torch.manual_seed. */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`manualSeed: expected a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** OpenBLAS's own thread count (setNumThreads sets it with libtorch's); null for another BLAS. */
export function blasNumThreads(): number | null {
  return native.blasInfo()?.threads ?? null;
}

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  synchronize: (): void => native.cudaSynchronize(),
};

/** Live native tensor handles and the bytes of the distinct storages they hold. */
export function memory(): { tensors: number; bytes: number } {
  return { tensors: native.liveCount(), bytes: native.liveBytes() };
}

export function liveTensorCount(): number {
  return native.liveCount();
}

export const libtorchVersion: string = native.libtorchVersion;

/** The BLAS under libtorch's matrix products: OpenBLAS's kernel set and who chose it, or "other". */
export interface BlasInfo {
  library: 'OpenBLAS' | 'other';
  /** OpenBLAS's kernel set (e.g. "Haswell", "SkylakeX"); null for another BLAS. */
  core: string | null;
  chosenBy: 'user' | 'tgcnet' | 'OpenBLAS' | null;
  config: string | null;
}

function describeBlas(): BlasInfo {
  const info = native.blasInfo();
  if (info === null) return { library: 'other', core: null, chosenBy: null, config: null };
  const blas: BlasInfo = { library: 'OpenBLAS', core: info.core, chosenBy: blasCoreChosenBy, config: info.config };
  const warning = blasCoreWarning(info.core, blasCoreChosenBy, readCpuFeatures(), process.env.OPENBLAS_CORETYPE);
  if (warning !== null) process.emitWarning(warning, { code: 'TGCNET_BLAS_CORE' });
  return blas;
}

export const blas: BlasInfo = describeBlas();

// libtorch's OpenMP may start with one thread (it reads the CPU quota); use every core,
// as PyTorch users expect, unless the user asked otherwise.
if (process.env.OMP_NUM_THREADS === undefined) native.setNumThreads(availableParallelism());

/**
 * The allocator policy libtorch's CPU buffers get. glibc maps every large block afresh and unmaps
 * it on free, so each training step page-faults its activations in again: `b16` at batch 2 on 2
 * cores spent a third of its time in the kernel, and ran 11.0 s/step against 7.7 with freed memory
 * kept (README, "Where a step's time goes"). Kept by default in this process, as PyTorch users get
 * from jemalloc/tcmalloc; GLIBC_TUNABLES (the user's own malloc settings) or TGCNET_MALLOC=default
 * leave glibc as it is. Returns whether the policy is in force.
 */
function keepFreedMemory(): boolean {
  if (process.platform !== 'linux' || process.env.GLIBC_TUNABLES !== undefined || process.env.TGCNET_MALLOC === 'default') return false;
  return native.mallocKeepFreedMemory();
}

export const mallocPolicy: 'keep-freed' | 'glibc-default' = keepFreedMemory() ? 'keep-freed' : 'glibc-default';
