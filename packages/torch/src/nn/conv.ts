import { empty } from '../creation.js';
import * as F from '../functional.js';
import type { Tensor } from '../tensor.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** PyTorch's default conv initialisation: kaiming_uniform(a = sqrt 5), bias U(+-1/sqrt(fan_in)). */
function initConv(weight: Tensor, bias: Tensor | null, fanIn: number): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) uniform_(bias, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
}

function checkGroups(kind: string, inChannels: number, outChannels: number, groups: number): void {
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`${kind}: in_channels ${inChannels} and out_channels ${outChannels} must both divide by groups ${groups}`);
  }
}

/** 2-D convolution, initialised as PyTorch's nn.Conv2d. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    options: Conv2dOptions = {},
  ) {
    super();
    this.groups = options.groups ?? 1;
    checkGroups('Conv2d', inChannels, outChannels, this.groups);
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / this.groups, ...this.kernelSize]));
    this.bias = options.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    initConv(this.weight, this.bias, (inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1]);
  }

  forward(input: Tensor): Tensor {
    if (input.shape[input.ndim - 3] !== this.inChannels) {
      throw new RangeError(`Conv2d: expected ${this.inChannels} input channels, got input of shape [${input.shape.join(', ')}]`);
    }
    return F.conv2d(input, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

/** Transposed 2-D convolution; weight [in, out/groups, kh, kw] as PyTorch. */
export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    options: Conv2dOptions & { outputPadding?: number | [number, number] } = {},
  ) {
    super();
    this.groups = options.groups ?? 1;
    checkGroups('ConvTranspose2d', inChannels, outChannels, this.groups);
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.outputPadding = pair(options.outputPadding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.weight = this.registerParameter('weight', empty([inChannels, outChannels / this.groups, ...this.kernelSize]));
    this.bias = options.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    // PyTorch computes fan_in from dim 1 of the weight, out_channels / groups here.
    initConv(this.weight, this.bias, (outChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1]);
  }

  forward(input: Tensor): Tensor {
    return F.convTranspose2d(input, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      groups: this.groups,
      dilation: this.dilation,
    });
  }
}
