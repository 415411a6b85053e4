import { noGrad } from '../autograd.js';
import { tensor, zeros, zerosLike } from '../creation.js';
import * as aten from '../generated/aten.js';
import { getNumThreads } from '../runtime.js';
import { keep, tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamsInput } from './optimizer.js';

export interface AdamWOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  /** Decoupled weight decay (Loshchilov & Hutter): p -= lr * wd * p, separate from the gradient. */
  weightDecay: number;
}

/** The rows of a row-sparse parameter that have had a gradient: flags by row, and the same as an index. */
interface ActiveRows {
  flags: Uint8Array;
  count: number;
  index: Tensor | null;
}

/** ATen's `at::internal::GRAIN_SIZE`: element-wise loops over fewer elements run on one thread. */
const GRAIN_SIZE = 32768;
/** Twice the widest float vector ATen's CPU kernels use (AVX-512: 16 lanes); loops step by it. */
const VECTOR_STEP = 32;

/**
 * Whether ATen's element-wise loop over n contiguous elements, at this thread count, leaves no
 * element to its scalar tail: the loop splits n into one chunk per thread (ceil(n / chunks)
 * each) and runs each chunk's last n mod 32 elements one at a time, which may round
 * differently from the vector body (an FMA or not).
 */
function vectorLoopCovers(n: number, threads: number): boolean {
  const chunks = n < GRAIN_SIZE || threads <= 1 ? 1 : Math.min(threads, Math.ceil(n / GRAIN_SIZE));
  return n % VECTOR_STEP === 0 && Math.ceil(n / chunks) % VECTOR_STEP === 0;
}

/** AdamW as torch.optim.AdamW (amsgrad off), the same update order and bias corrections. */
export class AdamW extends Optimizer<AdamWOptions> {
  readonly #rowSparse = new Set<Tensor>();
  readonly #activeRows = new Map<Tensor, ActiveRows>();

  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    const defaults: AdamWOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, ...options };
    if (!(defaults.lr >= 0)) throw new RangeError(`AdamW: invalid learning rate ${defaults.lr}`);
    if (!(defaults.betas[0] >= 0 && defaults.betas[0] < 1 && defaults.betas[1] >= 0 && defaults.betas[1] < 1)) {
      throw new RangeError(`AdamW: betas must be in [0, 1), got [${defaults.betas.join(', ')}]`);
    }
    super(params, defaults);
  }

  /**
   * Declares parameters whose gradients touch few rows (embedding tables: only the tokens a
   * batch holds get a gradient). Each step then decays the whole table and runs Adam on the rows
   * that have ever had a nonzero gradient only. The result is the dense update's, bit for bit:
   * a row whose gradient and moments are zero comes out of Adam's part unchanged (0 * b1 + 0 =
   * 0, and p - lr * 0 / eps = p), so decay is all a dense step does to it. Why: a text tower
   * trained from scratch has a 49408-row token table of which a dataset's prompts use a few
   * dozen rows, and its nine dense passes were 60% of the optimizer's time.
   *
   * Rows are dimension 0. A step runs the dense update instead where exactness is not certain:
   * CUDA tensors, eps <= 0 (0 / 0 on a zero row), every row active, and thread counts at which
   * ATen would hand some of the table's or the gathered rows' elements to its scalar tail loop
   * (see vectorLoopCovers). A parameter whose rows are not a multiple of 32 elements would
   * always be in that case and is refused (`AdamW.canRowSparse`). Both are precautions: with
   * libtorch 1.13.1 the scalar tail gave these nine operations the vector body's bits in every
   * case tried (a unit test at three threads agrees without the guard), which nothing promises
   * for other builds.
   */
  rowSparse(params: Tensor[]): this {
    const mine = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of params) {
      if (!mine.has(p)) {
        throw new RangeError(`AdamW.rowSparse: a parameter of shape [${p.shape.join(', ')}] is not in this optimizer; pass only tensors given to its constructor`);
      }
      if (!AdamW.canRowSparse(p)) {
        throw new RangeError(
          `AdamW.rowSparse: a parameter of shape [${p.shape.join(', ')}] needs at least 2 dimensions and a multiple of 32 elements per row to be updated exactly by rows; leave it out of rowSparse`,
        );
      }
      this.#rowSparse.add(p);
    }
    return this;
  }

  /** Whether rowSparse accepts this parameter: rows (dimension 0) of a multiple of 32 elements. */
  static canRowSparse(p: Tensor): boolean {
    if (p.ndim < 2 || p.shape[0] === 0) return false;
    return (p.numel() / p.shape[0]) % VECTOR_STEP === 0;
  }

  step(): void {
    this.stepCount += 1;
    noGrad(() => {
      for (const group of this.paramGroups) {
        const { lr, betas, eps, weightDecay } = group.options;
        const [b1, b2] = betas;
        for (const p of group.params) {
          tidy(() => {
            const g = p.grad;
            if (g === null) return;
            const s = this.stateOf(p);
            // Steps are counted per parameter, as PyTorch: one that missed a step (no grad)
            // keeps its own bias correction.
            const stepT = s.get('step') ?? this.setState(p, 'step', zeros([]));
            const t = stepT.add_(1).item();
            const bc1 = 1 - b1 ** t;
            const bc2 = 1 - b2 ** t;
            const stepSize = lr / bc1;
            const m = s.get('exp_avg') ?? this.setState(p, 'exp_avg', zerosLike(p));
            const v = s.get('exp_avg_sq') ?? this.setState(p, 'exp_avg_sq', zerosLike(p));
            if (weightDecay !== 0) aten.mulScalar_(p, 1 - lr * weightDecay);
            const adam = (pw: Tensor, gw: Tensor, mw: Tensor, vw: Tensor) => {
              aten.mulScalar_(mw, b1);
              aten.add_(mw, gw, { alpha: 1 - b1 });
              aten.mulScalar_(vw, b2);
              aten.addcmul_(vw, gw, gw, { value: 1 - b2 });
              const denom = aten.addScalar_(aten.divScalar_(vw.sqrt(), Math.sqrt(bc2)), eps);
              aten.addcdiv_(pw, mw, denom, { value: -stepSize });
            };
            if (!this.#rowSparse.has(p)) {
              adam(p, g, m, v);
              return;
            }
            if (p.device !== 'cpu' || !(eps > 0)) {
              // Rows this step touches go untracked: a later row-sparse step rebuilds the set from the moments.
              this.#forgetRows(p);
              adam(p, g, m, v);
              return;
            }
            const active = this.#activeRowsOf(p, g, m, v);
            const threads = getNumThreads();
            const perRow = p.numel() / p.shape[0];
            if (active.count === p.shape[0] || !vectorLoopCovers(p.numel(), threads) || !vectorLoopCovers(active.count * perRow, threads)) {
              adam(p, g, m, v);
              return;
            }
            const rows = active.index;
            if (rows === null) return;
            const [pr, gr, mr, vr] = [p, g, m, v].map((x) => aten.indexSelect(x, 0, rows));
            adam(pr, gr, mr, vr);
            aten.indexCopy_(p, 0, rows, pr);
            aten.indexCopy_(m, 0, rows, mr);
            aten.indexCopy_(v, 0, rows, vr);
          });
        }
      }
    });
  }

  /**
   * The rows with a nonzero gradient now or at an earlier step. After a restore (or on the
   * first step) also every row whose moments are not all +0: a moment of -0 (a gradient whose
   * share underflowed) is turned to +0 by the dense update's next step, so that row counts.
   */
  #activeRowsOf(p: Tensor, g: Tensor, m: Tensor, v: Tensor): ActiveRows {
    // A gradient row is zero when its largest and its smallest element are (-0 acts as +0 in
    // Adam; NaN counts as nonzero). Two reductions that write nothing: a sixth of the time of
    // (g != 0).any(1).
    const nonzeroRows = (x: Tensor): number[] =>
      tidy(() => {
        const flat = x.reshape(x.shape[0], -1);
        return [...aten.nonzero(aten.amax(flat, { dim: 1 })).toNumbers(), ...aten.nonzero(aten.amin(flat, { dim: 1 })).toNumbers()];
      });
    // A moment row is all +0 when it has no nonzero element and no -0 (1 / -0 is -Infinity; a
    // tiny positive x also gives +Infinity, which the first test catches).
    const notPositiveZeroRows = (x: Tensor): number[] => [
      ...nonzeroRows(x),
      ...tidy(() => aten.nonzero(aten.neScalar(aten.amin(aten.pow(x.reshape(x.shape[0], -1), -1), { dim: 1 }), Number.POSITIVE_INFINITY)).toNumbers()),
    ];
    let active = this.#activeRows.get(p);
    let added = nonzeroRows(g);
    if (active === undefined) {
      active = { flags: new Uint8Array(p.shape[0]), count: 0, index: null };
      this.#activeRows.set(p, active);
      added = [...added, ...notPositiveZeroRows(m), ...notPositiveZeroRows(v)];
    }
    let changed = false;
    for (const r of added) {
      if (!active.flags[r]) {
        active.flags[r] = 1;
        active.count += 1;
        changed = true;
      }
    }
    if (changed) {
      active.index?.dispose();
      const rows: number[] = [];
      active.flags.forEach((f, r) => f && rows.push(r));
      active.index = keep(tensor(rows, { dtype: 'int64', device: p.device }));
    }
    return active;
  }

  #forgetRows(p: Tensor): void {
    this.#activeRows.get(p)?.index?.dispose();
    this.#activeRows.delete(p);
  }

  override disposeState(): void {
    super.disposeState();
    for (const a of this.#activeRows.values()) a.index?.dispose();
    this.#activeRows.clear();
  }
}
