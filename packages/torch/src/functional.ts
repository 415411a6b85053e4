// torch.nn.functional with PyTorch's argument names (camelCase) and defaults.
import * as aten from './generated/aten.js';
import { native } from './native.js';
import { Tensor, wrap } from './tensor.js';
import { tidy } from './scope.js';
import { isGradEnabled } from './autograd.js';
import { randint } from './creation.js';
import { isFloatingPoint } from './dtype.js';

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION_CODE: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reductionCode(r: Reduction | undefined): number {
  const code = REDUCTION_CODE[r ?? 'mean'];
  if (code === undefined) throw new TypeError(`reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  return code;
}

function pair(v: number | number[] | undefined, name: string, def: number): number[] {
  if (v === undefined) return [def, def];
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw new TypeError(`${name}: expected a number or two numbers, got [${v.join(', ')}]`);
  return v;
}

function expectDims(op: string, x: Tensor, dims: number[]): void {
  if (!dims.includes(x.ndim)) {
    throw new RangeError(`${op}: expected a ${dims.join('D or ')}D input, got shape [${x.shape.join(', ')}]`);
  }
}

export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const inF = weight.shape[1];
  if (input.shape[input.ndim - 1] !== inF) {
    throw new RangeError(
      `linear: input's last dim is ${input.shape[input.ndim - 1]} but weight [${weight.shape.join(', ')}] expects ${inF} ` +
        `(input shape [${input.shape.join(', ')}])`,
    );
  }
  return aten.linear(input, weight, { bias });
}

export interface Conv2dOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
}

export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  expectDims('conv2d', input, [3, 4]);
  return aten.conv2d(input, weight, {
    bias,
    stride: pair(options.stride, 'stride', 1),
    padding: pair(options.padding, 'padding', 0),
    dilation: pair(options.dilation, 'dilation', 1),
    groups: options.groups ?? 1,
  });
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: number | number[];
}

export function convTranspose2d(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  expectDims('conv_transpose2d', input, [3, 4]);
  return aten.convTranspose2d(input, weight, {
    bias,
    stride: pair(options.stride, 'stride', 1),
    padding: pair(options.padding, 'padding', 0),
    outputPadding: pair(options.outputPadding, 'output_padding', 0),
    groups: options.groups ?? 1,
    dilation: pair(options.dilation, 'dilation', 1),
  });
}

export function layerNorm(
  input: Tensor,
  normalizedShape: number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  return aten.layerNorm(asParams(input, weight), normalizedShape, { weight, bias, eps });
}

/**
 * Normalisations run in their parameters' precision: an autocast region hands them bfloat16 or
 * float16 activations, and CUDA's autocast computes them in float32; the CPU's (libtorch 1.x)
 * has no rule for group_norm and would fail on the mixed dtypes, so this says it for both.
 */
function asParams(input: Tensor, weight: Tensor | null): Tensor {
  return weight !== null && input.dtype !== weight.dtype && (input.dtype === 'bfloat16' || input.dtype === 'float16') ? input.to(weight.dtype) : input;
}

export function groupNorm(input: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  if (input.shape[1] % numGroups !== 0) {
    throw new RangeError(`group_norm: ${input.shape[1]} channels are not divisible into ${numGroups} groups`);
  }
  return aten.groupNorm(asParams(input, weight), numGroups, { weight, bias, eps });
}

export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {},
): Tensor {
  return aten.batchNorm(
    asParams(input, options.weight ?? runningMean),
    options.weight ?? null,
    options.bias ?? null,
    runningMean,
    runningVar,
    options.training ?? false,
    options.momentum ?? 0.1,
    options.eps ?? 1e-5,
    true,
  );
}

export function softmax(input: Tensor, dim: number): Tensor {
  return aten.softmax(input, dim);
}

export function logSoftmax(input: Tensor, dim: number): Tensor {
  return aten.logSoftmax(input, dim);
}

export function relu(input: Tensor): Tensor {
  return aten.relu(input);
}

export function sigmoid(input: Tensor): Tensor {
  return aten.sigmoid(input);
}

export function silu(input: Tensor): Tensor {
  return aten.silu(input);
}

export function tanh(input: Tensor): Tensor {
  return aten.tanh(input);
}

export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return aten.gelu(input, { approximate });
}

/** OpenAI CLIP's activation: x * sigmoid(1.702 x). */
export function quickGelu(input: Tensor): Tensor {
  // Without autograd nothing needs the intermediates: one buffer instead of three (at ViT-L
  // batch 8 each is 75 MB, and fresh large buffers cost page faults on every step).
  if (!isGradEnabled()) return aten.sigmoid_(input.mul(1.702)).mul_(input);
  return tidy(() => input.mul(aten.sigmoid(input.mul(1.702))));
}

/**
 * Inverted dropout. On the CPU the mask comes from native/dropout_mask.cc (a counter-based hash,
 * parallel, the same for any thread count; seeded from libtorch's generator, so manualSeed decides
 * it) instead of libtorch's bernoulli_, which without MKL draws serially (14% of a b16 step);
 * elsewhere, and for p = 0 or 1 or without training, ATen's dropout.
 */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0 || p === 1 || input.device !== 'cpu' || !isFloatingPoint(input.dtype)) return aten.dropout(input, p, training);
  return tidy(() => {
    const [seedA, seedB] = randint(0, 2 ** 31, [2]).toNumbers();
    return input.mul(wrap(native.dropoutMask(input.id, 1 - p, seedA, seedB)));
  });
}

export type InterpolateMode = 'nearest' | 'bilinear' | 'bicubic';

export interface InterpolateOptions {
  size?: number | [number, number];
  scaleFactor?: number | [number, number];
  mode?: InterpolateMode;
  alignCorners?: boolean;
}

/** Resizes a [N, C, H, W] tensor, as F.interpolate. */
export function interpolate(input: Tensor, options: InterpolateOptions): Tensor {
  expectDims('interpolate', input, [4]);
  const mode = options.mode ?? 'nearest';
  if ((options.size === undefined) === (options.scaleFactor === undefined)) {
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  }
  const size = options.size === undefined ? null : typeof options.size === 'number' ? [options.size, options.size] : options.size;
  const scale =
    options.scaleFactor === undefined
      ? null
      : typeof options.scaleFactor === 'number'
        ? [options.scaleFactor, options.scaleFactor]
        : options.scaleFactor;
  switch (mode) {
    case 'nearest':
      if (options.alignCorners !== undefined) throw new TypeError("interpolate: alignCorners only applies to 'bilinear' and 'bicubic'");
      return aten.upsampleNearest2d(input, size, scale);
    case 'bilinear':
      return aten.upsampleBilinear2d(input, size, options.alignCorners ?? false, scale);
    case 'bicubic':
      return aten.upsampleBicubic2d(input, size, options.alignCorners ?? false, scale);
    default:
      throw new TypeError(`interpolate: unknown mode '${String(mode)}' (nearest, bilinear, bicubic)`);
  }
}

const GRID_MODE = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;

/** Samples input [N, C, H, W] at grid [N, Ho, Wo, 2] (x, y in [-1, 1]), as F.grid_sample. */
export function gridSample(
  input: Tensor,
  grid: Tensor,
  options: { mode?: keyof typeof GRID_MODE; paddingMode?: keyof typeof GRID_PADDING; alignCorners?: boolean } = {},
): Tensor {
  expectDims('grid_sample', input, [4]);
  if (grid.ndim !== 4 || grid.shape[3] !== 2 || grid.shape[0] !== input.shape[0]) {
    throw new RangeError(
      `grid_sample: grid must be [N, Ho, Wo, 2] with N = ${input.shape[0]}, got [${grid.shape.join(', ')}]`,
    );
  }
  return aten.gridSampler(
    input,
    grid,
    GRID_MODE[options.mode ?? 'bilinear'],
    GRID_PADDING[options.paddingMode ?? 'zeros'],
    options.alignCorners ?? false,
  );
}

/**
 * Multi-scale deformable attention, fused (Deformable DETR's ms_deform_attn), with autograd
 * for value, locations and weights. value [B, S, heads, D] (levels flattened, S = sum H_l W_l);
 * shapes [[H_l, W_l]]; locations [B, Q, heads, levels, points, 2] as (x, y) in [0, 1] of each
 * level; weights [B, Q, heads, levels, points]. Returns [B, Q, heads * D]. Bilinear, zero
 * outside: the same numbers as grid_sample(align_corners=false). CPU only; on CUDA use the
 * grid_sample path.
 */
export function msDeformAttn(value: Tensor, shapes: readonly (readonly [number, number])[], locations: Tensor, weights: Tensor): Tensor {
  return wrap(native.msDeformAttn(value.id, shapes.flat(), locations.id, weights.id));
}

/** F.pad: `pad` lists (left, right) pairs from the last dim backwards. */
export function pad(input: Tensor, padding: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  return aten.pad(input, padding, { mode, value: mode === 'constant' ? value : null });
}

export function maxPool2d(input: Tensor, kernelSize: number | number[], stride?: number | number[], padding: number | number[] = 0): Tensor {
  const k = pair(kernelSize, 'kernel_size', 1);
  return aten.maxPool2d(input, k, { stride: stride === undefined ? k : pair(stride, 'stride', 1), padding: pair(padding, 'padding', 0) });
}

export function avgPool2d(input: Tensor, kernelSize: number | number[], stride?: number | number[], padding: number | number[] = 0): Tensor {
  const k = pair(kernelSize, 'kernel_size', 1);
  return aten.avgPool2d(input, k, { stride: stride === undefined ? k : pair(stride, 'stride', 1), padding: pair(padding, 'padding', 0) });
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: number | number[]): Tensor {
  return aten.adaptiveAvgPool2d(input, pair(outputSize, 'output_size', 1));
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  return aten.cosineSimilarity(x1, x2, { dim, eps });
}

/** L2-normalises along dim, as F.normalize. */
export function normalize(input: Tensor, dim = 1, eps = 1e-12): Tensor {
  return tidy(() => {
    const n = aten.vectorNorm(input, { ord: 2, dim: [dim], keepdim: true }).clamp(eps);
    return input.div(n);
  });
}

export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  if (input.shape.join() !== target.shape.join()) {
    throw new RangeError(
      `binary_cross_entropy_with_logits: target shape [${target.shape.join(', ')}] must equal input shape [${input.shape.join(', ')}]`,
    );
  }
  return aten.binaryCrossEntropyWithLogits(input, target, {
    weight: options.weight ?? null,
    posWeight: options.posWeight ?? null,
    reduction: reductionCode(options.reduction),
  });
}

export function crossEntropy(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number } = {},
): Tensor {
  return aten.crossEntropyLoss(input, target, {
    weight: options.weight ?? null,
    reduction: reductionCode(options.reduction),
    ignoreIndex: options.ignoreIndex ?? -100,
    labelSmoothing: options.labelSmoothing ?? 0,
  });
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return aten.mseLoss(input, target, { reduction: reductionCode(reduction) });
}

export function embedding(input: Tensor, weight: Tensor, paddingIdx = -1): Tensor {
  return aten.embedding(weight, input, { paddingIdx });
}

export function oneHot(input: Tensor, numClasses = -1): Tensor {
  return aten.oneHot(input, { numClasses });
}

// Tensor-combining functions, re-exported under PyTorch's names.
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return aten.cat(tensors, { dim });
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  return aten.stack(tensors, { dim });
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return aten.matmul(a, b);
}

export function bmm(a: Tensor, b: Tensor): Tensor {
  return aten.bmm(a, b);
}

export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  return aten.einsum(equation, operands);
}

export function where(condition: Tensor, input: Tensor | number, other: Tensor | number): Tensor {
  if (typeof input === 'number' && typeof other === 'number') {
    return tidy(() => aten.whereScalarOther(condition, aten.fullLike(condition, input, { dtype: 'float32' }), other));
  }
  if (typeof input === 'number') return aten.whereScalarSelf(condition, input, other as Tensor);
  if (typeof other === 'number') return aten.whereScalarOther(condition, input, other);
  return aten.where(condition, input, other);
}

export function gather(input: Tensor, dim: number, index: Tensor): Tensor {
  return aten.gather(input, dim, index);
}

export function indexSelect(input: Tensor, dim: number, index: Tensor): Tensor {
  return aten.indexSelect(input, dim, index);
}

export function topk(input: Tensor, k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
  return aten.topk(input, k, { dim, largest, sorted });
}

export function argmax(input: Tensor, dim?: number, keepdim = false): Tensor {
  return aten.argmax(input, { dim: dim ?? null, keepdim });
}

/**
 * softmax(q k^T / sqrt(d) + mask) v over the last two dims, as
 * F.scaled_dot_product_attention (libtorch 1.13 has no fused kernel; this is matmul + softmax).
 * attnMask: boolean (true = may attend) or additive float, broadcastable to [..., L, S].
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: { attnMask?: Tensor | null; dropoutP?: number; isCausal?: boolean; training?: boolean; scale?: number } = {},
): Tensor {
  const d = query.shape[query.ndim - 1];
  if (key.shape[key.ndim - 1] !== d) {
    throw new RangeError(
      `scaled_dot_product_attention: query [${query.shape.join(', ')}] and key [${key.shape.join(', ')}] differ in the last dim`,
    );
  }
  return tidy(() => {
    let scores = query.mul(options.scale ?? 1 / Math.sqrt(d)).matmul(key.transpose(-2, -1));
    const L = query.shape[query.ndim - 2];
    const S = key.shape[key.ndim - 2];
    if (options.isCausal) {
      const causal = aten.triu(aten.ones([L, S], { dtype: 'bool' }), { diagonal: 1 });
      scores = aten.maskedFill(scores, causal, Number.NEGATIVE_INFINITY);
    }
    const mask = options.attnMask;
    if (mask) {
      scores = mask.dtype === 'bool' ? aten.maskedFill(scores, aten.logicalNot(mask), Number.NEGATIVE_INFINITY) : scores.add(mask);
    }
    let attn = aten.softmax(scores, -1);
    if ((options.dropoutP ?? 0) > 0 && (options.training ?? true)) attn = dropout(attn, options.dropoutP!, true);
    return attn.matmul(value);
  });
}
