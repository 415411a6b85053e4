// torch.nn.init: in-place initialisers, run without recording gradients.
import { noGrad } from '../autograd.js';
import * as aten from '../generated/aten.js';
import type { Tensor } from '../tensor.js';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'gelu';

/** Recommended gain for a nonlinearity, as torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
    case 'gelu':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
  }
}

/** [fanIn, fanOut] of a weight laid out as PyTorch does ([out, in, ...kernel]). */
export function calculateFans(t: Tensor): [number, number] {
  if (t.ndim < 2) throw new RangeError(`fan in/out need at least 2 dims, got shape [${t.shape.join(', ')}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1] * receptive, t.shape[0] * receptive];
}

export function uniform_(t: Tensor, from = 0, to = 1): Tensor {
  return noGrad(() => aten.uniform_(t, { from: from, to }));
}

export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => aten.normal_(t, { mean, std }));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => aten.fill_(t, value));
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFans(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a);
}

export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const [fanIn, fanOut] = calculateFans(t);
  const fan = (options.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  return calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0) / Math.sqrt(fan);
}

export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform_(t, -bound, bound);
}

export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, options));
}

function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

// Math has no erf. Abramowitz & Stegun 7.1.26 (error < 1.5e-7) is ample for choosing the
// truncation bounds; the sampling itself runs in libtorch (erfinv_).
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-ax * ax);
  return sign * y;
}

/**
 * Normal(mean, std) truncated to [a, b], by inverse-CDF sampling as
 * torch.nn.init.trunc_normal_ (ViT and CLIP initialisation).
 */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2): Tensor {
  return noGrad(() => {
    const l = normalCdf((a - mean) / std);
    const u = normalCdf((b - mean) / std);
    aten.uniform_(t, { from: 2 * l - 1, to: 2 * u - 1 });
    aten.erfinv_(t);
    aten.mulScalar_(t, std * Math.SQRT2);
    aten.addScalar_(t, mean);
    return aten.clamp_(t, { min: a, max: b });
  });
}
