import { noGrad } from '../autograd.js';
import * as aten from '../generated/aten.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';

/**
 * Scales gradients in place so their global L2 norm is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_. Returns the norm before clipping.
 */
export function clipGradNorm_(parameters: Tensor[], maxNorm: number, normType = 2): number {
  return noGrad(() =>
    tidy(() => {
      const grads = parameters.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const norms = grads.map((g) => aten.vectorNorm(g, { ord: normType }));
      const total = aten.vectorNorm(aten.stack(norms), { ord: normType }).item();
      const coef = maxNorm / (total + 1e-6);
      if (coef < 1) for (const g of grads) aten.mulScalar_(g, coef);
      return total;
    }),
  );
}
