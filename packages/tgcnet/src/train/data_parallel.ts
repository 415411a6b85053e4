// Data-parallel training as DistributedDataParallel does it, on c10d (@tgcnet/torch's
// distributed): every rank holds the whole model, takes its slice of each global batch, and
// the gradients are averaged before each optimizer step, so every rank takes the same step.
//
// --batch stays the global batch: a run on 2 processes follows the same schedule, learning
// rate and loss as a run on one (to floating-point summation order; dropout draws differ).
// Rank 0 alone writes the run folder; decisions that read a clock (the time budget, a signal,
// the launcher going away) are agreed by all-reduce so that every rank stops at the same step.
import { createHash } from 'node:crypto';
import { type Device, type Tensor, distributed, tensor } from '@tgcnet/torch';

/** What validation Dice and IoU are computed from: pooled pixel counts and sums of per-case scores. */
export interface EvaluationCounts {
  intersection: number;
  predicted: number;
  actual: number;
  diceSum: number;
  iouSum: number;
  cases: number;
}

export class DataParallel {
  private constructor(
    readonly rank: number,
    readonly worldSize: number,
    private readonly launcherPid: number | null,
    /** Where the collectives' tensors live: CPU with Gloo, the rank's GPU with NCCL. */
    private readonly device: Device = 'cpu',
  ) {}

  /** The single process (no process group). */
  static single(): DataParallel {
    return new DataParallel(0, 1, null);
  }

  /** LOCAL_RANK under a launcher with more than one process (which GPU `--device cuda` means), else null. */
  static localRankFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
    if (env.WORLD_SIZE === undefined || Number(env.WORLD_SIZE) <= 1) return null;
    const local = Number(env.LOCAL_RANK ?? env.RANK ?? '0');
    if (!Number.isInteger(local) || local < 0) throw new RangeError(`LOCAL_RANK=${env.LOCAL_RANK}: expected an integer >= 0`);
    return local;
  }

  /**
   * From torchrun's environment (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT); single when
   * WORLD_SIZE is unset. Ranks on CUDA meet over NCCL, ranks on the CPU over Gloo.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, device: Device = 'cpu'): DataParallel {
    const options = distributed.processGroupFromEnv(env);
    if (options === null || options.worldSize === 1) return DataParallel.single();
    const timeoutMs = env.TGCNET_DDP_TIMEOUT_S ? Number(env.TGCNET_DDP_TIMEOUT_S) * 1000 : 120_000;
    const backend = device === 'cpu' ? 'gloo' : 'nccl';
    if (!distributed.available(backend)) {
      throw new Error(
        backend === 'nccl'
          ? `--device ${device} with several processes needs NCCL, and this addon was not built against a CUDA libtorch with NCCL: rebuild it there (npm run build:native), or train on the CPU`
          : 'several processes need Gloo, which this addon was built without: install its headers (Debian: apt-get install libgloo-dev) and rebuild (npm run build:native)',
      );
    }
    try {
      distributed.initProcessGroup({ ...options, backend, timeoutMs });
    } catch (err) {
      throw new Error(
        `rank ${options.rank} of ${options.worldSize}: could not meet the other ranks at ${options.masterAddr}:${options.masterPort} (${(err as Error).message}); ` +
          'check that every rank was started with the same MASTER_ADDR/MASTER_PORT and that rank 0 is reachable',
      );
    }
    const launcher = env.TGCNET_LAUNCHER_PID ? Number(env.TGCNET_LAUNCHER_PID) : null;
    return new DataParallel(options.rank, options.worldSize, launcher, device);
  }

  get isMain(): boolean {
    return this.rank === 0;
  }

  get distributed(): boolean {
    return this.worldSize > 1;
  }

  /** "rank 1 of 2: " for messages, "" for a single process. */
  get label(): string {
    return this.distributed ? `rank ${this.rank} of ${this.worldSize}: ` : '';
  }

  /** A global batch must split evenly: each rank's loss is a mean over the same number of cases. */
  checkBatch(batch: number): void {
    if (batch % this.worldSize !== 0) {
      throw new Error(`--batch ${batch} is the global batch and must split evenly over ${this.worldSize} processes: use a multiple of ${this.worldSize}`);
    }
  }

  /** This rank's share of the validation cases (every worldSize-th). */
  shardCases<T>(items: readonly T[]): T[] {
    return this.distributed ? items.filter((_, i) => i % this.worldSize === this.rank) : [...items];
  }

  /** Seconds spent in collectives since the last takeCommunicationSeconds(). */
  private communication = 0;

  averageGradients(params: readonly Tensor[]): void {
    if (this.distributed) this.collective(() => distributed.allReduceGradients_(params));
  }

  /** Time in collectives (waiting for the slowest rank included) since the last call. */
  takeCommunicationSeconds(): number {
    const s = this.communication;
    this.communication = 0;
    return s;
  }

  /** Sums of small vectors over the ranks (float64, so counts stay exact). */
  sum(values: number[]): number[] {
    return this.reduce(values, 'sum');
  }

  /** The largest value of each entry over the ranks: clocks and flags every rank must agree on. */
  max(values: number[]): number[] {
    return this.reduce(values, 'max');
  }

  /** Whether the launcher that started this rank has gone (killed): the rank should stop as on SIGTERM. */
  launcherGone(): boolean {
    return this.launcherPid !== null && process.ppid !== this.launcherPid;
  }

  /** Pooled validation counts over the ranks' shards: the same Dice as one process scoring every case. */
  combine(counts: EvaluationCounts): EvaluationCounts {
    if (!this.distributed) return counts;
    const [intersection, predicted, actual, diceSum, iouSum, cases] = this.sum([counts.intersection, counts.predicted, counts.actual, counts.diceSum, counts.iouSum, counts.cases]);
    return { intersection, predicted, actual, diceSum, iouSum, cases };
  }

  /**
   * Checks that every rank holds the same weights, bit for bit (a hash of every parameter's
   * bytes, compared by all-reduce): ranks that drifted apart are a bug, said at once.
   */
  checkSameWeights(params: readonly Tensor[]): string {
    const hash = createHash('sha256');
    for (const p of params) hash.update(p.toBuffer());
    const hex = hash.digest('hex');
    if (this.distributed) {
      const word = Number.parseInt(hex.slice(0, 12), 16);
      const [high, negLow] = this.max([word, -word]);
      if (high !== -negLow) throw new Error(`${this.label}the ranks' weights differ after training (hash ${hex.slice(0, 12)}): data-parallel steps diverged`);
    }
    return hex;
  }

  barrier(): void {
    if (this.distributed) this.collective(() => distributed.barrier());
  }

  close(): void {
    if (this.distributed && distributed.isInitialized()) distributed.destroyProcessGroup();
  }

  private reduce(values: number[], op: 'sum' | 'max'): number[] {
    if (!this.distributed) return values;
    // float64 on the CPU; NCCL reduces device tensors (float64 too: counts stay exact).
    const t = tensor(values, { dtype: 'float64', device: this.device });
    try {
      this.collective(() => distributed.allReduce_(t, op));
      return Array.from(t.toArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** A collective whose peer is gone fails with Gloo's words; this says what happened. */
  private collective(fn: () => void): void {
    const t0 = performance.now();
    try {
      fn();
      this.communication += (performance.now() - t0) / 1000;
    } catch (err) {
      throw new Error(
        `${this.label}lost contact with the other ranks (${(err as Error).message.split('\n')[0]}): another rank stopped or failed; ` +
          'its own message says why (the launcher names the first rank that exited)',
      );
    }
  }
}
