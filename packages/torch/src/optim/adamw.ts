import { noGrad } from '../autograd.js';
import { tensor, zeros, zerosLike } from '../creation.js';
import * as aten from '../generated/aten.js';
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
  index: Tensor | null;
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
   * batch holds get a gradient). Each step then updates only the rows that have ever had a
   * nonzero gradient, after decaying the whole table. The result is the dense update's, bit
   * for bit: a row whose gradient and moments are zero comes out of Adam's part unchanged
   * (0 * b1 + 0 = 0, and p - lr * 0 / eps = p), so decay is all a dense step does to it. Why:
   * a text tower trained from scratch has a 49408-row token table of which a dataset's
   * prompts use a few hundred, and its nine dense passes were 60% of the optimizer's time.
   * Rows are dimension 0; CPU tensors only (elsewhere the dense update runs). Exactness needs
   * each row's element count to be a multiple of 32, so that the gathered rows and the whole
   * table take ATen's vector loop alike; other shapes are refused.
   */
  rowSparse(params: Tensor[]): this {
    const mine = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of params) {
      if (!mine.has(p)) throw new RangeError('AdamW.rowSparse: a parameter that is not in this optimizer');
      const perRow = p.ndim >= 2 ? p.numel() / p.shape[0] : 0;
      if (perRow === 0 || perRow % 32 !== 0) {
        throw new RangeError(`AdamW.rowSparse: parameter of shape [${p.shape.join(', ')}] must have at least 2 dimensions and a multiple of 32 elements per row`);
      }
      this.#rowSparse.add(p);
    }
    return this;
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
            if (!this.#rowSparse.has(p) || p.device !== 'cpu') {
              adam(p, g, m, v);
              return;
            }
            const rows = this.#rowsToUpdate(p, g, m, v);
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

  /** The rows with a nonzero gradient now or before (after a restore: nonzero moments), or null for none. */
  #rowsToUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor): Tensor | null {
    // A row is zero when its largest and its smallest element are (NaN counts as nonzero). Two
    // reductions read the table without writing: a tenth of the time of (x != 0).any(1).
    const rowsOf = (x: Tensor): number[] =>
      tidy(() => {
        const flat = x.reshape(x.shape[0], -1);
        return [...aten.nonzero(aten.amax(flat, { dim: 1 })).toNumbers(), ...aten.nonzero(aten.amin(flat, { dim: 1 })).toNumbers()];
      });
    let active = this.#activeRows.get(p);
    let added = rowsOf(g);
    if (active === undefined) {
      active = { flags: new Uint8Array(p.shape[0]), index: null };
      this.#activeRows.set(p, active);
      added = [...added, ...rowsOf(m), ...rowsOf(v)];
    }
    let changed = false;
    for (const r of added) {
      if (!active.flags[r]) {
        active.flags[r] = 1;
        changed = true;
      }
    }
    if (changed) {
      active.index?.dispose();
      const rows: number[] = [];
      active.flags.forEach((f, r) => f && rows.push(r));
      active.index = keep(tensor(rows, { dtype: 'int64', device: p.device }));
    }
    return active.index;
  }

  override disposeState(): void {
    super.disposeState();
    for (const a of this.#activeRows.values()) a.index?.dispose();
    this.#activeRows.clear();
  }
}
