import { noGrad } from '../autograd.js';
import { zeros, zerosLike } from '../creation.js';
import * as aten from '../generated/aten.js';
import { tidy } from '../scope.js';
import { Optimizer, type ParamsInput } from './optimizer.js';

export interface AdamWOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  /** Decoupled weight decay (Loshchilov & Hutter): p -= lr * wd * p, separate from the gradient. */
  weightDecay: number;
}

/** AdamW as torch.optim.AdamW (amsgrad off), the same update order and bias corrections. */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    const defaults: AdamWOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, ...options };
    if (!(defaults.lr >= 0)) throw new RangeError(`AdamW: invalid learning rate ${defaults.lr}`);
    if (!(defaults.betas[0] >= 0 && defaults.betas[0] < 1 && defaults.betas[1] >= 0 && defaults.betas[1] < 1)) {
      throw new RangeError(`AdamW: betas must be in [0, 1), got [${defaults.betas.join(', ')}]`);
    }
    super(params, defaults);
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
            aten.mulScalar_(m, b1);
            aten.add_(m, g, { alpha: 1 - b1 });
            aten.mulScalar_(v, b2);
            aten.addcmul_(v, g, g, { value: 1 - b2 });
            const denom = aten.addScalar_(aten.divScalar_(v.sqrt(), Math.sqrt(bc2)), eps);
            aten.addcdiv_(p, m, denom, { value: -stepSize });
          });
        }
      }
    });
  }
}
