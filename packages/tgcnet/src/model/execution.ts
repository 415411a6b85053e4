// Where the model runs and in what precision: `--device cpu|cuda[:N]` and
// `--precision fp32|bf16|fp16` on every command. Weights stay float32 on any device and are
// always saved from CPU copies, so a checkpoint loads anywhere; the lower precisions are
// autocast regions (PyTorch's op lists), not casts of the model.
import { type Device, amp, cuda, libtorchVersion } from '@tgcnet/torch';

export type Precision = 'fp32' | 'bf16' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];

export interface Execution {
  device: Device;
  precision: Precision;
}

export const CPU_FP32: Execution = { device: 'cpu', precision: 'fp32' };

/**
 * The device and precision a command asked for, checked against this machine before any work.
 * `cuda` without an index is `cuda:LOCAL_RANK` under a data-parallel launcher (each rank its own
 * GPU, as torchrun's convention), else cuda:0.
 */
export function resolveExecution(asked: { device?: string; precision?: Precision }, localRank: number | null = null): Execution {
  const requested = asked.device ?? 'cpu';
  const precision = asked.precision ?? 'fp32';
  if (!PRECISIONS.includes(precision)) throw new Error(`--precision ${precision}: expected fp32, bf16 or fp16`);
  if (requested === 'cpu') {
    if (precision === 'fp16') {
      throw new Error('--precision fp16 needs --device cuda: libtorch autocasts to float16 on CUDA only; on the CPU use bf16 (or fp32)');
    }
    return { device: 'cpu', precision };
  }
  const match = /^cuda(?::(\d+))?$/.exec(requested);
  if (!match) throw new Error(`--device ${requested}: expected cpu, cuda or cuda:N`);
  if (!cuda.isAvailable()) {
    throw new Error(
      `--device ${requested}: libtorch ${libtorchVersion} sees no CUDA device here (a CPU build of libtorch, or no GPU/driver visible). ` +
        'Run on the CPU (--device cpu), or build the addon against a CUDA libtorch on a GPU machine (README: "Devices and precision")',
    );
  }
  if (match[1] !== undefined && localRank !== null) {
    throw new Error(`--device ${requested} with several processes: give --device cuda, and each process takes cuda:LOCAL_RANK`);
  }
  const index = match[1] !== undefined ? Number(match[1]) : (localRank ?? 0);
  const count = cuda.deviceCount();
  if (index >= count) throw new Error(`--device cuda:${index}: this machine has ${count} CUDA device(s), numbered from 0`);
  return { device: `cuda:${index}`, precision };
}

/** Runs fn (a forward pass and its loss) under autocast for the precision; fp32 runs it as it is. */
export function underPrecision<T>(execution: Execution, fn: () => T): T {
  if (execution.precision === 'fp32') return fn();
  const deviceType = execution.device === 'cpu' ? 'cpu' : 'cuda';
  return amp.autocast(deviceType, fn, { dtype: execution.precision === 'bf16' ? 'bfloat16' : 'float16' });
}
