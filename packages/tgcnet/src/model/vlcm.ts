// VLCM, the Vision-Language Calibration Module. A gated network distils a shared
// cross-modal context (K learned queries reading the visual and the text tokens, mixed by
// g = sigmoid(MLP([mean V; pooled T]))); each modality then attends to that context, not
// to the other modality, with residuals. The 'bidirectional' ablation replaces this with
// V attending T and T attending V.
import { F, empty, nn, tidy, zeros, type Tensor } from '@tgcnet/torch';
import { type JointText, maskedMean } from './date.js';
import { sinePositionEmbedding } from './position.js';

export interface CalibratedFeatures {
  levels: Tensor[];
  text: JointText;
}

function requireTokens(text: JointText): Tensor {
  if (text.tokens === null) throw new Error('VLCM: the text encoder produced no token features (build DATE with tokensNeeded)');
  return text.tokens;
}

function flatten(x: Tensor): Tensor {
  return x.flatten(2).transpose(1, 2);
}

/**
 * Sine position embedding of a level, flattened to [1, h*w, d]: pixels query the shared
 * context knowing where they are, which is what lets "upper left lung" select a region.
 */
function positions(x: Tensor): Tensor {
  return tidy(() => flatten(sinePositionEmbedding(x.shape[2], x.shape[3], x.shape[1], x.device)));
}

function unflatten(x: Tensor, like: Tensor): Tensor {
  return x.transpose(1, 2).reshape(...(like.shape as number[]));
}

/** Residual attention with a LayerNorm after (post-norm), batch-first. */
export class ResidualAttention extends nn.Module {
  readonly attn: nn.MultiheadAttention;
  readonly norm: nn.LayerNorm;

  constructor(d: number, heads: number) {
    super();
    this.attn = this.registerModule('attn', new nn.MultiheadAttention(d, heads, { batchFirst: true }));
    this.norm = this.registerModule('norm', new nn.LayerNorm(d));
  }

  /** queryPos (DETR style) is added to the attention query only, not to the residual. */
  forward(query: Tensor, context: Tensor, contextPadding: Tensor | null = null, queryPos: Tensor | null = null): Tensor {
    return tidy(() => {
      const q = queryPos ? query.add(queryPos) : query;
      const [out] = this.attn.forward(q, context, context, { keyPaddingMask: contextPadding, needWeights: false });
      return this.norm.forward(query.add(out));
    });
  }
}

export class GatedVlcm extends nn.Module {
  readonly context_queries: Tensor;
  readonly read_visual: nn.MultiheadAttention;
  readonly read_text: nn.MultiheadAttention;
  readonly gate: nn.Sequential;
  readonly visual_calib: ResidualAttention;
  readonly text_calib: ResidualAttention;
  readonly pooled_calib: ResidualAttention;

  constructor(readonly spec: { dModel: number; heads: number; contextTokens: number }) {
    super();
    const d = spec.dModel;
    this.context_queries = this.registerParameter('context_queries', empty([spec.contextTokens, d]));
    nn.init.normal_(this.context_queries, 0, 0.02);
    this.read_visual = this.registerModule('read_visual', new nn.MultiheadAttention(d, spec.heads, { batchFirst: true }));
    this.read_text = this.registerModule('read_text', new nn.MultiheadAttention(d, spec.heads, { batchFirst: true }));
    this.gate = this.registerModule('gate', new nn.Sequential(new nn.Linear(2 * d, d), new nn.ReLU(), new nn.Linear(d, d)));
    this.visual_calib = this.registerModule('visual_calib', new ResidualAttention(d, spec.heads));
    this.text_calib = this.registerModule('text_calib', new ResidualAttention(d, spec.heads));
    this.pooled_calib = this.registerModule('pooled_calib', new ResidualAttention(d, spec.heads));
  }

  forward(levels: Tensor[], text: JointText): CalibratedFeatures {
    const textTokens = requireTokens(text);
    return tidy(() => {
      const B = levels[0].shape[0];
      // The coarsest level carries the global visual context at the lowest cost.
      const visual = flatten(levels[levels.length - 1]);
      const queries = this.context_queries.unsqueeze(0).expand(B, -1, -1);
      const [fromV] = this.read_visual.forward(queries, visual, visual, { needWeights: false });
      const [fromT] = this.read_text.forward(queries, textTokens, textTokens, { keyPaddingMask: text.mask.logicalNot(), needWeights: false });
      const g = F.sigmoid(this.gate.forward(F.cat([visual.mean(1), text.pooled], 1))).unsqueeze(1);
      const context = fromV.mul(g).add(fromT.mul(g.neg().add(1)));
      const calibrated = levels.map((x) => unflatten(this.visual_calib.forward(flatten(x), context, null, positions(x)), x));
      const tokens = this.text_calib.forward(textTokens, context);
      // The text vector reads the shared context and the calibrated tokens.
      const padding = F.cat([zeros([B, context.shape[1]], { dtype: 'bool', device: context.device }), text.mask.logicalNot()], 1);
      const pooled = this.pooled_calib.forward(text.pooled.unsqueeze(1), F.cat([context, tokens], 1), padding).squeeze(1);
      return { levels: calibrated, text: { pooled, tokens, mask: text.mask } };
    });
  }
}

/** Ablation: direct cross-attention both ways (V attends T, T attends V). */
export class BidirectionalVlcm extends nn.Module {
  readonly visual_calib: ResidualAttention;
  readonly text_calib: ResidualAttention;
  readonly pooled_calib: ResidualAttention;

  constructor(readonly spec: { dModel: number; heads: number }) {
    super();
    this.visual_calib = this.registerModule('visual_calib', new ResidualAttention(spec.dModel, spec.heads));
    this.text_calib = this.registerModule('text_calib', new ResidualAttention(spec.dModel, spec.heads));
    this.pooled_calib = this.registerModule('pooled_calib', new ResidualAttention(spec.dModel, spec.heads));
  }

  forward(levels: Tensor[], text: JointText): CalibratedFeatures {
    const textTokens = requireTokens(text);
    return tidy(() => {
      const padding = text.mask.logicalNot();
      const visual = flatten(levels[levels.length - 1]);
      const calibrated = levels.map((x) => unflatten(this.visual_calib.forward(flatten(x), textTokens, padding, positions(x)), x));
      const tokens = this.text_calib.forward(textTokens, visual);
      const B = visual.shape[0];
      const keyPadding = F.cat([zeros([B, visual.shape[1]], { dtype: 'bool', device: visual.device }), padding], 1);
      const pooled = this.pooled_calib.forward(text.pooled.unsqueeze(1), F.cat([visual, tokens], 1), keyPadding).squeeze(1);
      return { levels: calibrated, text: { pooled, tokens, mask: text.mask } };
    });
  }
}

export { maskedMean };
