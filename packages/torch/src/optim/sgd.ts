import { noGrad } from '../autograd.js';
import * as aten from '../generated/aten.js';
import { tidy } from '../scope.js';
import { Optimizer, type ParamsInput } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** SGD with momentum as torch.optim.SGD (coupled weight decay, optional Nesterov). */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    const defaults: SGDOptions = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options };
    if (defaults.nesterov && (defaults.momentum <= 0 || defaults.dampening !== 0)) {
      throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
    super(params, defaults);
  }

  step(): void {
    this.stepCount += 1;
    noGrad(() => {
      for (const group of this.paramGroups) {
        const { lr, momentum, dampening, weightDecay, nesterov } = group.options;
        for (const p of group.params) {
          tidy(() => {
            let d = p.grad;
            if (d === null) return;
            if (weightDecay !== 0) d = d.add(p.mul(weightDecay));
            if (momentum !== 0) {
              const buf = this.stateOf(p).get('momentum_buffer');
              if (buf === undefined) {
                this.setState(p, 'momentum_buffer', d.detach().clone());
                d = nesterov ? d.add(this.stateOf(p).get('momentum_buffer')!.mul(momentum)) : this.stateOf(p).get('momentum_buffer')!;
              } else {
                aten.mulScalar_(buf, momentum);
                aten.add_(buf, d, { alpha: 1 - dampening });
                d = nesterov ? d.add(buf.mul(momentum)) : buf;
              }
            }
            aten.add_(p, d, { alpha: -lr });
          });
        }
      }
    });
  }
}
