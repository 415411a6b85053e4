// Finite-difference gradient checking, as torch.autograd.gradcheck but on a random
// projection of the output (one backward instead of one per output element).
import { noGrad } from '../autograd.js';
import { randnLike } from '../creation.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

export interface GradcheckResult {
  maxAbsError: number;
  /** [input index, element index, analytical, numerical] of the worst element. */
  worst: [number, number, number, number] | null;
}

/**
 * Compares autograd's gradient of sum(fn(inputs) * R) (R fixed, random) with central
 * differences. Inputs must be contiguous float64 CPU leaves with requiresGrad. Throws
 * with the worst element when any |analytical - numerical| > atol + rtol * |numerical|.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  for (const [i, x] of inputs.entries()) {
    if (x.dtype !== 'float64') throw new TypeError(`gradcheck: input ${i} is ${x.dtype}; use float64 so differences are meaningful`);
    if (!x.requiresGrad) throw new TypeError(`gradcheck: input ${i} does not require grad`);
  }
  return tidy(() => {
    const probe = noGrad(() => fn(...inputs));
    const projection = randnLike(probe);
    const objective = () => noGrad(() => tidy(() => fn(...inputs).mul(projection).sum().item()));
    for (const x of inputs) x.grad = null;
    tidy(() => fn(...inputs).mul(projection).sum().backward());
    const result: GradcheckResult = { maxAbsError: 0, worst: null };
    inputs.forEach((x, xi) => {
      const g = x.grad;
      const analytical = g === null ? new Float64Array(x.numel()) : (g.toArray() as Float64Array);
      const data = x.dataView() as Float64Array | null;
      if (data === null) throw new TypeError(`gradcheck: input ${xi} is not a contiguous CPU tensor`);
      for (let k = 0; k < data.length; k++) {
        const orig = data[k];
        data[k] = orig + eps;
        const plus = objective();
        data[k] = orig - eps;
        const minus = objective();
        data[k] = orig;
        const numerical = (plus - minus) / (2 * eps);
        const err = Math.abs(analytical[k] - numerical);
        if (err > result.maxAbsError) {
          result.maxAbsError = err;
          result.worst = [xi, k, analytical[k], numerical];
        }
        if (err > atol + rtol * Math.abs(numerical)) {
          throw new Error(
            `gradcheck failed: input ${xi}, element ${k}: autograd ${analytical[k]}, finite difference ${numerical} (|diff| ${err})`,
          );
        }
      }
      x.grad = null;
    });
    return result;
  });
}
