import { empty } from '../creation.js';
import * as F from '../functional.js';
import type { Tensor } from '../tensor.js';
import { normal_ } from './init.js';
import { Module } from './module.js';
import { noGrad } from '../autograd.js';

/** A lookup table of `numEmbeddings` vectors of size `embeddingDim`, initialised N(0, 1). */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    readonly paddingIdx: number | null = null,
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([numEmbeddings, embeddingDim]));
    normal_(this.weight);
    if (paddingIdx !== null) noGrad(() => this.weight.select(0, paddingIdx).zero_().dispose());
  }

  forward(indices: Tensor): Tensor {
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32') {
      throw new TypeError(`Embedding: indices must be int64 or int32, got ${indices.dtype}`);
    }
    return F.embedding(indices, this.weight, this.paddingIdx ?? -1);
  }
}
