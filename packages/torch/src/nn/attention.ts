import { empty, zeros } from '../creation.js';
import * as F from '../functional.js';
import * as aten from '../generated/aten.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { xavierUniform_, zeros_ } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

export interface MultiheadAttentionOptions {
  dropout?: number;
  bias?: boolean;
  /** Inputs are [N, L, E] when true, [L, N, E] (PyTorch's default) when false. */
  batchFirst?: boolean;
}

export interface AttentionCallOptions {
  /** [N, S], true marks keys to ignore (padding), as PyTorch. */
  keyPaddingMask?: Tensor | null;
  /** [L, S] or [N*H, L, S]: boolean (true = not allowed) or additive float, as PyTorch. */
  attnMask?: Tensor | null;
  needWeights?: boolean;
}

/**
 * nn.MultiheadAttention with PyTorch's parameter names (in_proj_weight, in_proj_bias,
 * out_proj), so its checkpoints load as they are. Written as matmul + softmax.
 */
export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  readonly dropout: number;
  readonly batchFirst: boolean;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    options: MultiheadAttentionOptions = {},
  ) {
    super();
    if (embedDim % numHeads !== 0) {
      throw new RangeError(`MultiheadAttention: embed_dim ${embedDim} must be divisible by num_heads ${numHeads}`);
    }
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    this.batchFirst = options.batchFirst ?? false;
    const bias = options.bias ?? true;
    this.inProjWeight = this.registerParameter('in_proj_weight', empty([3 * embedDim, embedDim]));
    xavierUniform_(this.inProjWeight);
    this.inProjBias = bias ? this.registerParameter('in_proj_bias', zeros([3 * embedDim])) : null;
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias }));
    if (this.outProj.bias) zeros_(this.outProj.bias);
  }

  /** Returns [output, attention weights averaged over heads or null]. */
  forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionCallOptions = {}): [Tensor, Tensor | null] {
    return tidy(() => {
      const [q0, k0, v0] = this.batchFirst ? [query, key, value] : [query, key, value].map((t) => t.transpose(0, 1));
      const [N, L, E] = q0.shape;
      const S = k0.shape[1];
      if (E !== this.embedDim || k0.shape[2] !== E || v0.shape[2] !== E) {
        throw new RangeError(
          `MultiheadAttention(${this.embedDim}): got query [${query.shape.join(', ')}], key [${key.shape.join(', ')}], value [${value.shape.join(', ')}]`,
        );
      }
      const H = this.numHeads;
      const D = this.headDim;
      let q: Tensor;
      let k: Tensor;
      let v: Tensor;
      if (query === key && key === value) {
        // Self-attention: one packed projection, as PyTorch does (one matmul in the
        // backward instead of three plus a concatenation of their gradients).
        const qkv = F.linear(q0, this.inProjWeight, this.inProjBias).reshape(N, L, 3, H, D).permute(2, 0, 3, 1, 4);
        [q, k, v] = [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)];
      } else {
        const [wq, wk, wv] = this.inProjWeight.chunk(3, 0);
        const [bq, bk, bv] = this.inProjBias ? this.inProjBias.chunk(3, 0) : [null, null, null];
        const heads = (x: Tensor, w: Tensor, b: Tensor | null, len: number) => F.linear(x, w, b).reshape(N, len, H, D).transpose(1, 2);
        q = heads(q0, wq, bq, L);
        k = heads(k0, wk, bk, S);
        v = heads(v0, wv, bv, S);
      }
      let scores = q.mul(1 / Math.sqrt(D)).matmul(k.transpose(-2, -1));
      if (options.attnMask) {
        const m = options.attnMask.ndim === 3 ? options.attnMask.reshape(N, H, L, S) : options.attnMask;
        scores = m.dtype === 'bool' ? aten.maskedFill(scores, m, Number.NEGATIVE_INFINITY) : scores.add(m);
      }
      if (options.keyPaddingMask) {
        scores = aten.maskedFill(scores, options.keyPaddingMask.reshape(N, 1, 1, S), Number.NEGATIVE_INFINITY);
      }
      let attn = aten.softmax(scores, -1);
      const weights = options.needWeights === false ? null : attn.mean(1);
      if (this.dropout > 0 && this.training) attn = F.dropout(attn, this.dropout, true);
      let out = this.outProj.forward(attn.matmul(v).transpose(1, 2).reshape(N, L, E));
      if (!this.batchFirst) out = out.transpose(0, 1);
      return [out, weights] as [Tensor, Tensor | null];
    });
  }
}
