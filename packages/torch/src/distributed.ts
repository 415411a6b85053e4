// torch.distributed for data-parallel training, on PyTorch's own c10d engine (native/
// distributed.cc): one process group per process, rendezvous through a TCPStore at
// MASTER_ADDR:MASTER_PORT (torchrun's environment), Gloo collectives on CPU tensors, NCCL on
// CUDA tensors where the addon was built against a CUDA libtorch.
//
// Gradients are averaged in one flat bucket after backward (allReduceGradients_), not in
// buckets overlapped with backward as the c10d reducer does: on the CPU the all-reduce and the
// backward pass compete for the same cores, so overlapping buys little, and one bucket is one
// collective per step with a fixed, rank-independent order (bit-identical results on every rank).
import { native } from './native.js';
import { tidy } from './scope.js';
import { cat } from './functional.js';
import { zerosLike } from './creation.js';
import type { Tensor } from './tensor.js';

export interface ProcessGroupOptions {
  /** 'gloo' (CPU tensors, the default) or 'nccl' (CUDA tensors; built when the addon is built against a CUDA libtorch with NCCL). */
  backend?: 'gloo' | 'nccl';
  /** Rank 0's address: it hosts the TCPStore every rank meets at. */
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  /** How long a rendezvous or collective may wait for the other ranks (default 60 s). */
  timeoutMs?: number;
  /** The address Gloo binds for its connections (default: MASTER_ADDR's when it is a loopback address, else the host's name). */
  hostname?: string;
}

export type ReduceOp = 'sum' | 'max' | 'min' | 'product';

function integer(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`${name}=${value ?? ''}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

/**
 * The process group torchrun would describe: WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT (and
 * LOCAL_RANK, unused on the CPU). null when WORLD_SIZE is not set: a single process.
 */
export function processGroupFromEnv(env: NodeJS.ProcessEnv = process.env): ProcessGroupOptions | null {
  if (env.WORLD_SIZE === undefined) return null;
  const worldSize = integer('WORLD_SIZE', env.WORLD_SIZE, 1, 1 << 16);
  const rank = integer('RANK', env.RANK, 0, worldSize - 1);
  const masterPort = integer('MASTER_PORT', env.MASTER_PORT, 1, 65535);
  const masterAddr = env.MASTER_ADDR;
  if (!masterAddr) throw new RangeError('MASTER_ADDR is not set: the address of rank 0, where the ranks meet');
  return { masterAddr, masterPort, rank, worldSize };
}

/** Whether this build of the addon has a backend: Gloo (its headers were found when it was built) or NCCL (a CUDA libtorch). */
export function available(backend: 'gloo' | 'nccl' = 'gloo'): boolean {
  return backend === 'gloo' ? native.hasGloo : native.hasNccl;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/;

/** Meets the other ranks (blocks until all have come, or the timeout). A build without Gloo throws what to install. */
export function initProcessGroup(options: ProcessGroupOptions): void {
  const hostname = options.hostname ?? (LOOPBACK.test(options.masterAddr) ? '127.0.0.1' : '');
  native.initProcessGroup(options.backend ?? 'gloo', options.masterAddr, options.masterPort, options.rank, options.worldSize, options.timeoutMs ?? 60_000, hostname);
}

export function isInitialized(): boolean {
  return native.processGroupInfo() !== null;
}

/** This process's rank (0 without a process group). */
export function getRank(): number {
  return native.processGroupInfo()?.rank ?? 0;
}

/** The number of processes (1 without a process group). */
export function getWorldSize(): number {
  return native.processGroupInfo()?.worldSize ?? 1;
}

export function destroyProcessGroup(): void {
  native.destroyProcessGroup();
}

/** In place: every rank ends with the reduction of every rank's `tensor` (contiguous, CPU). */
export function allReduce_(tensor: Tensor, op: ReduceOp = 'sum'): Tensor {
  native.allReduce(tensor.id, op);
  return tensor;
}

/** In place: every rank ends with rank `root`'s values. */
export function broadcast_(tensor: Tensor, root = 0): Tensor {
  native.broadcast(tensor.id, root);
  return tensor;
}

export function barrier(): void {
  native.barrier();
}

/** The store every rank shares: small messages (a rank that failed says why). */
export const store = {
  set: (key: string, value: string): void => native.storeSet(key, value),
  get: (key: string): string => native.storeGet(key),
  has: (key: string): boolean => native.storeCheck(key),
};

/**
 * Averages the gradients of `params` over the ranks, as DistributedDataParallel does: one flat
 * bucket, summed, divided by the world size, copied back. A parameter without a gradient on this
 * rank contributes zeros (and gets the average), so every rank reduces the same layout.
 */
export function allReduceGradients_(params: readonly Tensor[]): void {
  const world = getWorldSize();
  if (world === 1 || params.length === 0) return;
  tidy(() => {
    const grads = params.map((p) => p.grad ?? zerosLike(p));
    const flat = cat(grads.map((g) => g.reshape(-1)));
    allReduce_(flat, 'sum');
    flat.div_(world);
    let offset = 0;
    params.forEach((p, i) => {
      const n = grads[i].numel();
      const averaged = flat.narrow(0, offset, n).view(...grads[i].shape);
      offset += n;
      const own = p.grad;
      if (own === null) p.grad = averaged.clone();
      else own.copy_(averaged);
    });
  });
}

/** Makes every rank's parameters rank `root`'s (the start of data-parallel training). */
export function broadcastParameters_(params: readonly Tensor[], root = 0): void {
  if (getWorldSize() === 1) return;
  for (const p of params) broadcast_(p, root);
}
