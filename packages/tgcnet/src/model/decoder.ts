// The cost-aggregating decoder: per pyramid level, a cost map = cosine similarity between
// every calibrated pixel embedding and the text vector (plus, at the coarse level, CLIP's
// own dense image-text cosine when the ViT is present); the cost is embedded together with
// projected visual guidance, aggregated by residual conv blocks, then upsampled with skip
// connections (pyramid levels, the stride-4 CNN map) to 1-channel logits at the label size.
import { type Device, F, aten, nn, noGrad, tidy, type Tensor } from '@tgcnet/torch';
import { ConvNormAct, ResidualBlock } from './blocks.js';
import { sinePositionEmbedding } from './position.js';

export interface DecoderSpec {
  dModel: number;
  costChannels: number;
  aggregationBlocks: number;
  upChannels: [number, number, number];
  /** Channels of the stride-4 CNN map, or null without a CNN branch. */
  highResChannels: number | null;
  /** Stride of the logits before the final upsampling: 4 (default), or 2 with one more stage. */
  outputStride?: 4 | 2;
  /** With outputStride 2: channels of the CNN stem's stride-2 map, or null without a CNN branch. */
  stride2Channels?: number | null;
  /** Whether CLIP's dense cost is an extra channel at the coarse level. */
  clipCost: boolean;
  /** Whether each level gets a position-text cost channel. */
  positionCost?: boolean;
  /** Whether the output is gated by a text-conditioned spatial map (see the constructor). */
  textGate?: boolean;
  /** The gate as the union of one map per text token instead of one map of the pooled text. */
  gateUnion?: boolean;
  /** With textGate: the text predicts a gateGrid x gateGrid map (upsampled) instead of a position bilinear form (0: off). */
  gateGrid?: number;
  /** With gateGrid: a second, finer text-predicted map added to the coarse one's logits (0: off). */
  gateFineGrid?: number;
}

/** Token features and their mask [B, N] (true for real tokens), for the union gate. */
export interface TextTokens {
  tokens: Tensor;
  mask: Tensor;
}

/**
 * log(p / (1 - p)) for p = sigmoid(a) * sigmoid(b): the logit of "a and b", computed in the
 * log domain so large logits stay finite.
 */
export function productLogit(a: Tensor, b: Tensor): Tensor {
  return tidy(() => {
    // log sigmoid(x) = -softplus(-x)
    const logP = aten.softplus(a.neg()).add(aten.softplus(b.neg())).neg().clamp(-80, -1e-7);
    return logP.sub(aten.log1p(logP.exp().neg()));
  });
}

/** x and y in [-1, 1] as two extra input channels (CoordConv): where a pixel is matters for zones. */
const COORD_CHANNELS = 2;

export function coordinateChannels(batch: number, h: number, w: number, device: Device = 'cpu'): Tensor {
  return tidy(() => {
    const ys = aten.linspace(-1, 1, h, { device }).reshape(1, 1, h, 1).expand(batch, 1, h, w);
    const xs = aten.linspace(-1, 1, w, { device }).reshape(1, 1, 1, w).expand(batch, 1, h, w);
    return F.cat([xs, ys], 1);
  });
}

/** Cosine similarity of every pixel [B, C, h, w] with a vector [B, C] -> [B, 1, h, w]. */
export function pixelTextCosine(pixels: Tensor, text: Tensor): Tensor {
  return tidy(() => F.normalize(pixels, 1).mul(F.normalize(text, 1).unsqueeze(-1).unsqueeze(-1)).sum(1, true));
}

export class CostDecoder extends nn.Module {
  readonly guidance: nn.ModuleList<nn.Conv2d>;
  readonly cost_embed: nn.ModuleList<ConvNormAct>;
  readonly text_guidance: nn.ModuleList<nn.Linear>;
  readonly position_key: nn.Linear | null;
  readonly position_query: nn.Linear | null;
  readonly aggregation: nn.ModuleList<ResidualBlock>;
  readonly up16: ConvNormAct;
  readonly up8: ConvNormAct;
  readonly up4: ConvNormAct;
  readonly up2: ConvNormAct | null;
  readonly head: nn.Conv2d;
  readonly gate_key: nn.Linear | null;
  readonly gate_query: nn.Linear | null;
  readonly gate_fine: nn.Linear | null;

  constructor(readonly spec: DecoderSpec) {
    super();
    const C = spec.costChannels;
    // Levels are indexed fine to coarse (stride 8, 16, 32) like the pyramid.
    this.guidance = this.registerModule('guidance', new nn.ModuleList([0, 1, 2].map(() => new nn.Conv2d(spec.dModel, C, 1))));
    this.cost_embed = this.registerModule(
      'cost_embed',
      new nn.ModuleList([0, 1, 2].map((l) => new ConvNormAct(C + 1 + (spec.positionCost ? 1 : 0) + COORD_CHANNELS + (l === 2 && spec.clipCost ? 1 : 0), C))),
    );
    // The position-text cost: where the text points, as a bilinear match between each pixel's
    // sine position code and the text vector. Clinical prompts name places ("upper left
    // lung"); this gives the text a direct path to a region before the visual features have
    // learnt to encode regions themselves (measured on the synthetic demo: see README).
    this.position_key = spec.positionCost ? this.registerModule('position_key', new nn.Linear(spec.dModel, C)) : null;
    this.position_query = spec.positionCost ? this.registerModule('position_query', new nn.Linear(spec.dModel, C)) : null;
    // Text guidance in the aggregation (as CAT-Seg guides its cost aggregation with both
    // modalities): per-channel scale and shift from the text vector, zero at init.
    this.text_guidance = this.registerModule('text_guidance', new nn.ModuleList([0, 1, 2].map(() => new nn.Linear(spec.dModel, 2 * C))));
    for (const lin of this.text_guidance) {
      nn.init.zeros_(lin.weight);
      nn.init.zeros_(lin.bias!);
    }
    this.aggregation = this.registerModule('aggregation', new nn.ModuleList(Array.from({ length: spec.aggregationBlocks }, () => new ResidualBlock(C))));
    const [u16, u8, u4] = spec.upChannels;
    this.up16 = this.registerModule('up16', new ConvNormAct(C + C, u16));
    this.up8 = this.registerModule('up8', new ConvNormAct(u16 + C, u8));
    this.up4 = this.registerModule('up4', new ConvNormAct(u8 + (spec.highResChannels ?? 0), u4));
    // Stride 4 of a 160-px input is a 40x40 output for 256-px films of small nodules; one more
    // stage with the stem's stride-2 map draws their borders at 80x80 (inconclusive at three seeds: README).
    this.up2 = spec.outputStride === 2 ? this.registerModule('up2', new ConvNormAct(u4 + (spec.stride2Channels ?? 0), u4)) : null;
    this.head = this.registerModule('head', new nn.Conv2d(u4, 1, 1));
    // The text gate: p = sigmoid(visual logit) x sigmoid(text map), where the text map is a
    // bilinear match of each pixel's position code with the text vector. What is there comes
    // from the image, where the prompt points comes from the text, and the product is "both":
    // the decoder no longer has to learn that conjunction before the words can matter.
    // With a grid, the text writes a coarse map directly: any union of zones, which a form
    // additive in x and y (the sine codes) cannot draw ("upper left and lower right" without
    // "upper right").
    const grid = spec.gateGrid ?? 0;
    this.gate_key = spec.textGate && grid === 0 ? this.registerModule('gate_key', new nn.Linear(spec.dModel, C)) : null;
    this.gate_query = spec.textGate ? this.registerModule('gate_query', new nn.Linear(spec.dModel, grid > 0 ? grid * grid : C + 1)) : null;
    if (this.gate_query) {
      // The gate starts open (sigmoid(1) = 0.73 everywhere): early training is the ungated model's.
      nn.init.zeros_(this.gate_query.weight);
      nn.init.zeros_(this.gate_query.bias!);
      noGrad(() =>
        tidy(() => {
          (grid > 0 ? this.gate_query!.bias! : this.gate_query!.bias!.narrow(0, C, 1)).fill_(1);
        }),
      );
    }
    // The fine grid refines the coarse one (their logits add), and starts at zero: early training
    // is the coarse gate's, which learns zones fast because each of its cells sees many pixels;
    // the fine cells then sharpen the borders between zones a coarse cell straddles.
    const fine = grid > 0 ? (spec.gateFineGrid ?? 0) : 0;
    this.gate_fine = fine > 0 ? this.registerModule('gate_fine', new nn.Linear(spec.dModel, fine * fine)) : null;
    if (this.gate_fine) {
      nn.init.zeros_(this.gate_fine.weight);
      nn.init.zeros_(this.gate_fine.bias!);
    }
  }

  /**
   * levels: calibrated pyramid [B, d, s, s] at strides 8, 16, 32; text [B, d];
   * clipCost [B, 1, g, g] or null; highRes: the stride-4 CNN map or null.
   */
  forward(
    levels: Tensor[],
    text: Tensor,
    clipCost: Tensor | null,
    highRes: Tensor | null,
    labelSize: [number, number],
    tokens: TextTokens | null = null,
    stride2: Tensor | null = null,
  ): Tensor {
    return tidy(() => {
      const embedded = levels.map((x, l) => {
        const [B, , hl, wl] = x.shape;
        const parts = [pixelTextCosine(x, text), this.guidance.at(l).forward(x), coordinateChannels(B, hl, wl, x.device)];
        if (this.position_key && this.position_query) {
          const keys = this.position_key.forward(sinePositionEmbedding(hl, wl, this.spec.dModel, x.device).flatten(2).transpose(1, 2));
          const query = this.position_query.forward(text).unsqueeze(-1);
          parts.push(keys.matmul(query).div(Math.sqrt(this.spec.costChannels)).transpose(1, 2).reshape(B, 1, hl, wl));
        }
        if (l === 2 && this.spec.clipCost) {
          if (clipCost === null) throw new Error('decoder: this configuration expects CLIP dense cost');
          const [h, w] = [x.shape[2], x.shape[3]];
          parts.push(clipCost.shape[2] === h && clipCost.shape[3] === w ? clipCost : F.interpolate(clipCost, { size: [h, w], mode: 'bilinear', alignCorners: false }));
        }
        const h = this.cost_embed.at(l).forward(F.cat(parts, 1));
        const [scale, shift] = this.text_guidance.at(l).forward(text).unsqueeze(-1).unsqueeze(-1).chunk(2, 1);
        return h.mul(scale.add(1)).add(shift);
      });
      let h = embedded[2];
      for (const block of this.aggregation) h = block.forward(h);
      const up = (x: Tensor, like: Tensor) => F.interpolate(x, { size: [like.shape[2], like.shape[3]], mode: 'bilinear', alignCorners: false });
      h = this.up16.forward(F.cat([up(h, embedded[1]), embedded[1]], 1));
      h = this.up8.forward(F.cat([up(h, embedded[0]), embedded[0]], 1));
      if (highRes !== null) {
        h = this.up4.forward(F.cat([up(h, highRes), highRes], 1));
      } else {
        h = this.up4.forward(F.interpolate(h, { scaleFactor: 2, mode: 'bilinear', alignCorners: false }));
      }
      if (this.up2) {
        if (this.spec.stride2Channels && stride2 === null) throw new Error('decoder: outputStride 2 needs the CNN stem map at stride 2');
        h = this.up2.forward(stride2 !== null ? F.cat([up(h, stride2), stride2], 1) : F.interpolate(h, { scaleFactor: 2, mode: 'bilinear', alignCorners: false }));
      }
      let logits = this.head.forward(h);
      const grid = this.spec.gateGrid ?? 0;
      if (this.gate_query && grid > 0) {
        const [B, , hh, ww] = logits.shape;
        const coarse = this.gate_query.forward(text).reshape(B, 1, grid, grid);
        let map = F.interpolate(coarse, { size: [hh, ww], mode: 'bilinear', alignCorners: false });
        if (this.gate_fine) {
          const fine = this.spec.gateFineGrid!;
          map = map.add(F.interpolate(this.gate_fine.forward(text).reshape(B, 1, fine, fine), { size: [hh, ww], mode: 'bilinear', alignCorners: false }));
        }
        logits = productLogit(logits, map);
      } else if (this.gate_key && this.gate_query) {
        const [B, , hh, ww] = logits.shape;
        const keys = this.gate_key.forward(sinePositionEmbedding(hh, ww, this.spec.dModel, logits.device).flatten(2).transpose(1, 2));
        const C = this.spec.costChannels;
        let map: Tensor;
        if (this.spec.gateUnion) {
          // A prompt names several places ("upper left lung and lower right lung"); with a causal
          // text tower each phrase's last token carries its place. One map per token [B, N, HW],
          // joined by a log-mean-exp: a soft union that starts where the pooled gate starts.
          if (tokens === null) throw new Error('decoder: the union gate needs the text tokens');
          const q = this.gate_query.forward(tokens.tokens);
          const maps = q.narrow(2, 0, C).matmul(keys.transpose(1, 2)).div(Math.sqrt(C)).add(q.narrow(2, C, 1));
          const real = tokens.mask.unsqueeze(-1);
          const lse = aten.logsumexp(aten.maskedFill(maps, real.logicalNot(), -1e4), 1);
          map = lse.sub(real.float().sum(1).clamp(1).log()).reshape(B, 1, hh, ww);
        } else {
          const q = this.gate_query.forward(text);
          // The query's last entry is the gate's bias, per prompt.
          map = keys.matmul(q.narrow(1, 0, C).unsqueeze(-1)).div(Math.sqrt(C)).add(q.narrow(1, C, 1).unsqueeze(-1)).transpose(1, 2).reshape(B, 1, hh, ww);
        }
        logits = productLogit(logits, map);
      }
      return F.interpolate(logits, { size: labelSize, mode: 'bilinear', alignCorners: false });
    });
  }
}
