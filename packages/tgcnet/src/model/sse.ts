// SSE, the Semantic-Structural Synergy Encoder: frozen CLIP ViT taps and the CNN branch
// projected to d and added per scale, then multi-scale deformable attention layers
// (Deformable DETR encoder, post-norm) over the flattened pyramid -> P_hybrid.
import { F, nn, tidy, zeros, type Tensor } from '@tgcnet/torch';
import { MsDeformAttn, encoderReferencePoints } from './msdeform_attn.js';
import { sinePositionEmbedding } from './position.js';

export interface SseSpec {
  dModel: number;
  /** Channels of the CNN maps at strides 8, 16, 32, or null without a CNN branch. */
  cnnChannels: [number, number, number] | null;
  /** Width of the ViT taps, or null without the ViT. */
  vitChannels: number | null;
  /** Pyramid sides at strides 8, 16, 32. */
  sides: [number, number, number];
  layers: number;
  heads: number;
  points: number;
  ffn: number;
  dropout: number;
}

export class SseEncoderLayer extends nn.Module {
  readonly self_attn: MsDeformAttn;
  readonly norm1: nn.LayerNorm;
  readonly linear1: nn.Linear;
  readonly linear2: nn.Linear;
  readonly norm2: nn.LayerNorm;
  readonly dropout: nn.Dropout;

  constructor(dModel: number, heads: number, points: number, ffn: number, dropout: number) {
    super();
    this.self_attn = this.registerModule('self_attn', new MsDeformAttn({ dModel, levels: 3, heads, points }));
    this.norm1 = this.registerModule('norm1', new nn.LayerNorm(dModel));
    this.linear1 = this.registerModule('linear1', new nn.Linear(dModel, ffn));
    this.linear2 = this.registerModule('linear2', new nn.Linear(ffn, dModel));
    this.norm2 = this.registerModule('norm2', new nn.LayerNorm(dModel));
    this.dropout = this.registerModule('dropout', new nn.Dropout(dropout));
  }

  forward(src: Tensor, pos: Tensor, reference: Tensor, shapes: [number, number][]): Tensor {
    return tidy(() => {
      const attended = this.self_attn.forward(src.add(pos), reference, src, shapes);
      const h = this.norm1.forward(src.add(this.dropout.forward(attended)));
      const ff = this.linear2.forward(this.dropout.forward(F.relu(this.linear1.forward(h))));
      return this.norm2.forward(h.add(this.dropout.forward(ff)));
    });
  }
}

export class Sse extends nn.Module {
  readonly cnn_proj: nn.ModuleList<nn.Conv2d> | null;
  readonly vit_proj: nn.ModuleList<nn.Conv2d> | null;
  readonly level_embed: Tensor | null;
  readonly layers: nn.ModuleList<SseEncoderLayer> | null;

  constructor(readonly spec: SseSpec) {
    super();
    const d = spec.dModel;
    if (spec.cnnChannels === null && spec.vitChannels === null) throw new Error('SSE needs the CNN branch, the ViT, or both');
    this.cnn_proj = spec.cnnChannels ? this.registerModule('cnn_proj', new nn.ModuleList(spec.cnnChannels.map((c) => new nn.Conv2d(c, d, 1)))) : null;
    this.vit_proj = spec.vitChannels ? this.registerModule('vit_proj', new nn.ModuleList([0, 1, 2].map(() => new nn.Conv2d(spec.vitChannels!, d, 1)))) : null;
    if (spec.layers > 0) {
      this.level_embed = this.registerParameter('level_embed', zeros([3, d]));
      nn.init.normal_(this.level_embed);
      this.layers = this.registerModule(
        'layers',
        new nn.ModuleList(Array.from({ length: spec.layers }, () => new SseEncoderLayer(d, spec.heads, spec.points, spec.ffn, spec.dropout))),
      );
    } else {
      this.level_embed = null;
      this.layers = null;
    }
  }

  /**
   * cnn: maps at strides 8, 16, 32 (or null); vit: three tapped maps [B, Wv, g, g] (or
   * null). Returns the hybrid pyramid, three [B, d, side, side] maps, fine to coarse.
   */
  forward(cnn: Tensor[] | null, vit: Tensor[] | null): Tensor[] {
    return tidy(() => {
      const levels = this.spec.sides.map((side, l) => {
        let x: Tensor | null = null;
        if (this.cnn_proj && cnn) x = this.cnn_proj.at(l).forward(cnn[l]);
        if (this.vit_proj && vit) {
          let v = this.vit_proj.at(l).forward(vit[l]);
          if (v.shape[2] !== side || v.shape[3] !== side) v = F.interpolate(v, { size: side, mode: 'bilinear', alignCorners: false });
          x = x === null ? v : x.add(v);
        }
        if (x === null) throw new Error('SSE: no input for this configuration (missing CNN or ViT features)');
        return x;
      });
      if (this.layers === null) return levels;
      const shapes = levels.map((x) => [x.shape[2], x.shape[3]] as [number, number]);
      const B = levels[0].shape[0];
      const d = this.spec.dModel;
      const flat = (xs: Tensor[]) => F.cat(xs.map((x) => x.flatten(2).transpose(1, 2)), 1);
      let src = flat(levels);
      const pos = flat(
        shapes.map(([h, w], l) => sinePositionEmbedding(h, w, d, levels[0].device).add(this.level_embed!.select(0, l).reshape(1, d, 1, 1))),
      ).expand(B, -1, d);
      const reference = encoderReferencePoints(shapes, 'float32', levels[0].device).expand(B, -1, 3, 2);
      for (const layer of this.layers) src = layer.forward(src, pos, reference, shapes);
      const splits = src.split(shapes.map(([h, w]) => h * w), 1);
      return splits.map((s, l) => s.transpose(1, 2).reshape(B, d, shapes[l][0], shapes[l][1]));
    });
  }
}
