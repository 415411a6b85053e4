// DATE, the Domain-Augmented Text Encoder. The frozen CLIP text tower encodes the
// clinical prompt (T_p) and the LLM's auxiliary description (T_a); the auxiliary tokens
// query the primary tokens (cross-attention), and the result is added back to the
// primary embedding through W_o (a residual), then normalised in the joint space.
//
// Pooling (our choice, the paper's is not available): the joint text vector is
// proj(CLIP pooled primary) + proj(mean over the prompt's real tokens)
// + W_o(mean over real aux tokens of the attended features). The token mean matters: with a
// causal text tower, the feature at "lung" in "upper left lung" carries the whole phrase, so
// the mean is a bag of phrases, which tells which regions are named from the first steps,
// while the end-of-text feature alone starts out nearly the same for every prompt.
// Without an auxiliary prompt for a case (auxPresent false), the residual is zero for that
// case: its text vector is the projected primary embedding alone.
import { F, nn, ones, tidy, type Tensor } from '@tgcnet/torch';

export interface TextFeatures {
  /** [B, E] CLIP pooled, projected embedding. */
  pooled: Tensor;
  /** [B, L, W] token features after ln_final. */
  tokens: Tensor;
  /** [B, L] bool, true for real tokens. */
  mask: Tensor;
}

export interface JointText {
  /** [B, d] the text vector in the joint space. */
  pooled: Tensor;
  /** [B, N, d] token features for calibration (null when nothing downstream reads them). */
  tokens: Tensor | null;
  /** [B, N] bool. */
  mask: Tensor;
}

/** Mean over the true entries of mask [B, N] of x [B, N, d]; 0 where none is true. */
export function maskedMean(x: Tensor, mask: Tensor): Tensor {
  return tidy(() => {
    const m = mask.float().unsqueeze(-1);
    return x.mul(m).sum(1).div(m.sum(1).clamp(1));
  });
}

export class Date extends nn.Module {
  readonly pooled_proj: nn.Linear;
  readonly mean_proj: nn.Linear;
  readonly token_proj: nn.Linear | null;
  readonly aux_proj: nn.Linear | null;
  readonly cross_attn: nn.MultiheadAttention | null;
  readonly out_proj: nn.Linear | null;
  readonly norm: nn.LayerNorm;

  /** withAux false builds the main-text-only encoder (the ablations, or DATE removed). */
  constructor(
    readonly spec: { clipEmbed: number; clipWidth: number; dModel: number; heads: number; withAux: boolean; tokensNeeded: boolean },
  ) {
    super();
    const d = spec.dModel;
    this.pooled_proj = this.registerModule('pooled_proj', new nn.Linear(spec.clipEmbed, d));
    this.mean_proj = this.registerModule('mean_proj', new nn.Linear(spec.clipWidth, d));
    // Token features exist only for consumers (the aux cross-attention, the VLCM): an unused
    // projection would be a parameter without gradient.
    this.token_proj = spec.withAux || spec.tokensNeeded ? this.registerModule('token_proj', new nn.Linear(spec.clipWidth, d)) : null;
    if (spec.withAux) {
      this.aux_proj = this.registerModule('aux_proj', new nn.Linear(spec.clipWidth, d));
      this.cross_attn = this.registerModule('cross_attn', new nn.MultiheadAttention(d, spec.heads, { batchFirst: true }));
      this.out_proj = this.registerModule('out_proj', new nn.Linear(d, d));
    } else {
      this.aux_proj = null;
      this.cross_attn = null;
      this.out_proj = null;
    }
    this.norm = this.registerModule('norm', new nn.LayerNorm(d));
  }

  /** auxPresent [B] float (1 where the case has an auxiliary prompt; null means all have one). */
  forward(primary: TextFeatures, aux: TextFeatures | null, auxPresent: Tensor | null): JointText {
    return tidy(() => {
      const tp = this.token_proj ? this.token_proj.forward(primary.tokens) : null;
      let pooled = this.pooled_proj.forward(primary.pooled).add(this.mean_proj.forward(maskedMean(primary.tokens, primary.mask)));
      if (this.cross_attn === null || aux === null) {
        return { pooled: this.norm.forward(pooled), tokens: tp, mask: primary.mask };
      }
      const ta = this.aux_proj!.forward(aux.tokens);
      const [attended] = this.cross_attn.forward(ta, tp!, tp!, { keyPaddingMask: primary.mask.logicalNot(), needWeights: false });
      const present = auxPresent ?? ones([aux.mask.shape[0]], { device: aux.mask.device });
      const injected = this.out_proj!.forward(maskedMean(attended, aux.mask)).mul(present.reshape(-1, 1));
      pooled = pooled.add(injected);
      const auxMask = aux.mask.logicalAnd(present.reshape(-1, 1).gt(0));
      return {
        pooled: this.norm.forward(pooled),
        tokens: F.cat([tp!, attended], 1),
        mask: F.cat([primary.mask, auxMask], 1),
      };
    });
  }
}
