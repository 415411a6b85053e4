// Multi-scale deformable attention (Zhu et al., Deformable DETR, ICLR 2021): each query
// attends to `points` sampled locations per level and head, around its reference point, with
// learned offsets and softmax weights. On the CPU the sampling is one fused operator
// (F.msDeformAttn); msDeformAttnCore, on grid_sample, is the reference and the CUDA path.
import { type Device, F, aten, nn, noGrad, tensor, tidy, type Tensor } from '@tgcnet/torch';

export interface MsDeformAttnSpec {
  dModel: number;
  levels: number;
  heads: number;
  points: number;
}

/**
 * The sampling core, shared by the module and its tests.
 * value [B, sum(H_l W_l), heads, D]; shapes [[H_l, W_l]]; locations [B, Lq, heads, levels, points, 2]
 * as (x, y) in [0, 1] over each level's extent (pixel centres at (i + 0.5) / W);
 * weights [B, Lq, heads, levels, points]. Returns [B, Lq, heads * D]. Bilinear sampling,
 * zero outside (grid_sample with align_corners false).
 */
export function msDeformAttnCore(value: Tensor, shapes: readonly [number, number][], locations: Tensor, weights: Tensor): Tensor {
  return tidy(() => {
    const [B, , heads, D] = value.shape;
    const [, Lq, , levels, points] = locations.shape;
    const splits = shapes.map(([h, w]) => h * w);
    const perLevel = value.split(splits, 1);
    const grids = locations.mul(2).sub(1);
    const sampled: Tensor[] = [];
    shapes.forEach(([h, w], l) => {
      // [B, HW, heads, D] -> [B*heads, D, h, w]
      const v = perLevel[l].flatten(2).transpose(1, 2).reshape(B * heads, D, h, w);
      // [B, Lq, heads, points, 2] -> [B*heads, Lq, points, 2]
      const g = grids.select(3, l).transpose(1, 2).flatten(0, 1);
      sampled.push(F.gridSample(v, g, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false }));
    });
    // [B*heads, D, Lq, levels*points] x [B*heads, 1, Lq, levels*points]
    const stacked = F.stack(sampled, -2).flatten(-2);
    const w = weights.transpose(1, 2).reshape(B * heads, 1, Lq, levels * points);
    return stacked.mul(w).sum(-1).reshape(B, heads * D, Lq).transpose(1, 2);
  });
}

export class MsDeformAttn extends nn.Module {
  readonly sampling_offsets: nn.Linear;
  readonly attention_weights: nn.Linear;
  readonly value_proj: nn.Linear;
  readonly output_proj: nn.Linear;

  constructor(readonly spec: MsDeformAttnSpec) {
    super();
    const { dModel, levels, heads, points } = spec;
    if (dModel % heads !== 0) throw new RangeError(`MsDeformAttn: d_model ${dModel} must be divisible by n_heads ${heads}`);
    this.sampling_offsets = this.registerModule('sampling_offsets', new nn.Linear(dModel, heads * levels * points * 2));
    this.attention_weights = this.registerModule('attention_weights', new nn.Linear(dModel, heads * levels * points));
    this.value_proj = this.registerModule('value_proj', new nn.Linear(dModel, dModel));
    this.output_proj = this.registerModule('output_proj', new nn.Linear(dModel, dModel));
    this.resetParameters();
  }

  /**
   * Deformable DETR's initialisation: zero offset weights with biases on a circle (one
   * direction per head, point k at radius k + 1), uniform attention (zero weights).
   */
  resetParameters(): void {
    const { heads, levels, points } = this.spec;
    nn.init.zeros_(this.sampling_offsets.weight);
    const bias: number[] = [];
    for (let h = 0; h < heads; h++) {
      const theta = (2 * Math.PI * h) / heads;
      let [x, y] = [Math.cos(theta), Math.sin(theta)];
      const m = Math.max(Math.abs(x), Math.abs(y));
      [x, y] = [x / m, y / m];
      for (let l = 0; l < levels; l++) for (let p = 0; p < points; p++) bias.push(x * (p + 1), y * (p + 1));
    }
    noGrad(() => tidy(() => this.sampling_offsets.bias!.copy_(tensor(bias))));
    nn.init.zeros_(this.attention_weights.weight);
    nn.init.zeros_(this.attention_weights.bias!);
    nn.init.xavierUniform_(this.value_proj.weight);
    nn.init.zeros_(this.value_proj.bias!);
    nn.init.xavierUniform_(this.output_proj.weight);
    nn.init.zeros_(this.output_proj.bias!);
  }

  /**
   * query [B, Lq, d]; reference [B, Lq, levels, 2] as (x, y) in [0, 1]; input [B, Lin, d]
   * (the flattened pyramid); shapes [[H_l, W_l]] with sum(H_l W_l) = Lin. Returns [B, Lq, d].
   */
  forward(query: Tensor, reference: Tensor, input: Tensor, shapes: readonly [number, number][]): Tensor {
    const { heads, levels, points, dModel } = this.spec;
    const total = shapes.reduce((s, [h, w]) => s + h * w, 0);
    if (shapes.length !== levels || input.shape[1] !== total || reference.shape[2] !== levels) {
      throw new RangeError(
        `MsDeformAttn: ${levels} levels expected; got ${shapes.length} shapes summing to ${total} for input [${input.shape.join(', ')}] ` +
          `and reference [${reference.shape.join(', ')}]`,
      );
    }
    return tidy(() => {
      const [B, Lq] = query.shape;
      const value = this.value_proj.forward(input).reshape(B, total, heads, dModel / heads);
      const offsets = this.sampling_offsets.forward(query).reshape(B, Lq, heads, levels, points, 2);
      const weights = F.softmax(this.attention_weights.forward(query).reshape(B, Lq, heads, levels * points), -1).reshape(
        B,
        Lq,
        heads,
        levels,
        points,
      );
      // Offsets are in pixels of each level: divide by (W_l, H_l).
      const normalizer = tensor(shapes.flatMap(([h, w]) => [w, h]), { dtype: query.dtype, device: query.device }).reshape(1, 1, 1, levels, 1, 2);
      const locations = reference.reshape(B, Lq, 1, levels, 1, 2).add(offsets.div(normalizer));
      // The fused CPU operator (native/ms_deform_attn.cc); grid_sample elsewhere (and as its reference).
      // Under autocast the projections come out in bfloat16/float16: the sampling runs in float32, as
      // PyTorch's autocast keeps grid_sample.
      const full = (t: Tensor) => (t.dtype === 'float32' || t.dtype === 'float64' ? t : t.float());
      const sampled =
        value.device === 'cpu'
          ? F.msDeformAttn(full(value), shapes, full(locations), full(weights))
          : msDeformAttnCore(full(value), shapes, full(locations), full(weights));
      return this.output_proj.forward(sampled);
    });
  }
}

/** Reference points at pixel centres of every level: [1, sum(H W), levels, 2]. */
export function encoderReferencePoints(shapes: readonly [number, number][], dtype: 'float32' | 'float64' = 'float32', device: Device = 'cpu'): Tensor {
  return tidy(() => {
    const pts: Tensor[] = shapes.map(([h, w]) => {
      const ys = aten.linspace(0.5, h - 0.5, h, { dtype, device }).div(h);
      const xs = aten.linspace(0.5, w - 0.5, w, { dtype, device }).div(w);
      const gy = ys.reshape(h, 1).expand(h, w);
      const gx = xs.reshape(1, w).expand(h, w);
      return F.stack([gx, gy], -1).reshape(h * w, 2);
    });
    return F.cat(pts, 0).reshape(1, -1, 1, 2).expand(1, -1, shapes.length, 2).contiguous();
  });
}

