// The compiled addon, loaded once. Everything above this file is TypeScript.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openblasCoreFor, readCpuFeatures } from './blas_core.js';

/** The addon's surface: handles are integers into a native table. */
export interface NativeBinding {
  findOp(name: string, overload: string): number;
  callOp(op: number, ...args: unknown[]): unknown;
  schemaInfo(name: string, overload: string): NativeSchema | null;
  listOps(): string[];
  fromBuffer(data: ArrayBufferView, dtype: number, shape: number[]): number;
  toBuffer(id: number): Buffer;
  viewBuffer(id: number): ArrayBuffer | null;
  dispose(id: number): void;
  liveCount(): number;
  liveBytes(): number;
  meta(id: number): [number[], number, string, boolean];
  shape(id: number): number[];
  item(id: number): number | boolean;
  toString(id: number): string;
  backward(id: number, grad: number | null, retainGraph: boolean, createGraph: boolean): void;
  grad(id: number): number | null;
  setGrad(id: number, grad: number | null): void;
  requiresGrad(id: number, value: boolean): void;
  setData(id: number, src: number): void;
  isLeaf(id: number): boolean;
  isGradEnabled(): boolean;
  setGradEnabled(enabled: boolean): void;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** glibc: large blocks from the heap, freed memory kept (native/addon.cc); false where mallopt refused. */
  mallocKeepFreedMemory(): boolean;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  /** Fused multi-scale deformable attention (CPU), with autograd: see native/ms_deform_attn.cc. */
  msDeformAttn(value: number, shapes: number[], locations: number, weights: number): number;
  /** Inverted dropout's mask (CPU): 1/keep with probability keep, else 0, from a counter-based hash of (index, seeds); native/dropout_mask.cc. */
  dropoutMask(like: number, keep: number, seedA: number, seedB: number): number;
  libtorchVersion: string;
  /** The loaded OpenBLAS's kernel set and build (openblas_get_corename/config); null when the BLAS is not OpenBLAS. */
  blasInfo(): { core: string; config: string; threads: number } | null;
  /** c10d (native/distributed.cc): one Gloo process group per process. */
  hasGloo: boolean;
  /** Built against a CUDA libtorch with NCCL. */
  hasNccl: boolean;
  initProcessGroup(backend: string, host: string, port: number, rank: number, worldSize: number, timeoutMs: number, hostname: string): void;
  allReduce(id: number, op: string): void;
  broadcast(id: number, root: number): void;
  barrier(): void;
  storeSet(key: string, value: string): void;
  storeGet(key: string): string;
  storeCheck(key: string): boolean;
  processGroupInfo(): { rank: number; worldSize: number } | null;
  destroyProcessGroup(): void;
  /** Autocast state of the calling thread (native/amp.cc). */
  autocastEnter(deviceType: string, dtype: number, enabled: boolean): [boolean, number];
  autocastExit(deviceType: string, wasEnabled: boolean, previousDtype: number): void;
  autocastIsEnabled(deviceType: string): boolean;
  /** RecordFunction profile (native/profiler.cc): rows [name, calls, totalUs, selfUs]. */
  profilerStart(): void;
  profilerStop(): [string, number, number, number][];
}

export interface NativeArgument {
  name: string;
  type: string;
  realType: string;
  n?: number;
  hasDefault: boolean;
  default?: string;
  kwargOnly: boolean;
  writes: boolean;
}

export interface NativeSchema {
  schema: string;
  arguments: NativeArgument[];
  returns: NativeArgument[];
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
// TGCNET_TORCH_ADDON points at another build of the addon (a CUDA one, say).
const addonPath = process.env.TGCNET_TORCH_ADDON ?? join(packageRoot, 'native', 'build', 'Release', 'torch_native.node');

/**
 * OpenMP threads that spin while waiting steal the core that image decoding (sharp, libuv)
 * needs: on 2 cores the small preset trained at 618 ms/step with 2 threads spinning and 368
 * ms/step with them sleeping (one thread: 326). libgomp reads the policy once, when libtorch
 * loads, so it is set here, before the addon, unless the user chose one.
 */
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';

/**
 * Who chose OpenBLAS's kernels: the user (OPENBLAS_CORETYPE already set), tgcnet (set here, for a
 * CPU whose instruction set says which kernels fit: blas_core.ts), or OpenBLAS's own detection.
 * OpenBLAS reads the variable once, when it loads with libtorch, so it is set before the addon.
 */
export const blasCoreChosenBy: 'user' | 'tgcnet' | 'OpenBLAS' = (() => {
  if (process.env.OPENBLAS_CORETYPE !== undefined) return 'user';
  const core = openblasCoreFor(readCpuFeatures());
  if (core === undefined) return 'OpenBLAS';
  process.env.OPENBLAS_CORETYPE = core;
  return 'tgcnet';
})();

function load(): NativeBinding {
  if (!existsSync(addonPath)) {
    throw new Error(
      `the libtorch addon is not built (${addonPath} is missing). Run \`bash scripts/setup.sh\` ` +
        'from the repository root: it installs libtorch and builds the addon.',
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(addonPath) as NativeBinding;
  } catch (err) {
    throw new Error(
      `the libtorch addon at ${addonPath} did not load (${(err as Error).message}). ` +
        'If libtorch was upgraded or moved, rebuild it: `npm run build:native`.',
    );
  }
}

export const native: NativeBinding = load();
