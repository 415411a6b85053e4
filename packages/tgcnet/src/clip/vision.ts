// CLIP's vision tower (OpenAI architecture, Hugging Face names): patch conv, class token,
// learned positions (bicubically resized for other input sizes), pre-LN blocks, ln_post,
// projection. Returns the pooled embedding and, on request, dense maps for segmentation.
import { F, empty, nn, noGrad, tidy, type Tensor } from '@tgcnet/torch';
import type { ClipVisionConfig } from './config.js';
import { ClipEncoder, encoderSpec } from './encoder.js';

export class ClipVisionEmbeddings extends nn.Module {
  readonly class_embedding: Tensor;
  readonly patch_embedding: nn.Conv2d;
  readonly position_embedding: nn.Embedding;
  readonly grid: number;

  constructor(readonly config: ClipVisionConfig) {
    super();
    const w = config.hidden_size;
    this.grid = config.image_size / config.patch_size;
    this.class_embedding = this.registerParameter('class_embedding', empty([w]));
    nn.init.normal_(this.class_embedding, 0, w ** -0.5);
    this.patch_embedding = this.registerModule(
      'patch_embedding',
      new nn.Conv2d(config.num_channels, w, config.patch_size, { stride: config.patch_size, bias: false }),
    );
    this.position_embedding = this.registerModule('position_embedding', new nn.Embedding(this.grid * this.grid + 1, w));
    nn.init.normal_(this.position_embedding.weight, 0, 0.01);
  }

  /**
   * Position embeddings for an h x w token grid: the class position, then the native grid
   * resized by bicubic interpolation (align_corners false, as Hugging Face's
   * interpolate_pos_encoding). At the native size the resize is the identity.
   */
  positions(h: number, w: number): Tensor {
    return tidy(() => {
      const pos = this.position_embedding.weight;
      const width = pos.shape[1];
      const cls = pos.narrow(0, 0, 1);
      const grid = pos.narrow(0, 1, this.grid * this.grid).reshape(1, this.grid, this.grid, width).permute(0, 3, 1, 2);
      const resized = F.interpolate(grid, { size: [h, w], mode: 'bicubic', alignCorners: false });
      return F.cat([cls, resized.permute(0, 2, 3, 1).reshape(h * w, width)], 0);
    });
  }

  /** pixels [B, C, H, W] (H, W multiples of the patch) -> tokens [B, 1 + h*w, W], grid [h, w]. */
  forward(pixels: Tensor): { tokens: Tensor; grid: [number, number] } {
    const p = this.config.patch_size;
    if (pixels.ndim !== 4 || pixels.shape[1] !== this.config.num_channels || pixels.shape[2] % p !== 0 || pixels.shape[3] % p !== 0) {
      throw new RangeError(
        `CLIP vision: expected pixels [B, ${this.config.num_channels}, H, W] with H and W multiples of the patch ${p}, ` +
          `got [${pixels.shape.join(', ')}]`,
      );
    }
    return tidy(() => {
      const B = pixels.shape[0];
      const patches = this.patch_embedding.forward(pixels);
      const [h, w] = [patches.shape[2], patches.shape[3]];
      const seq = patches.flatten(2).transpose(1, 2);
      const cls = this.class_embedding.reshape(1, 1, -1).expand(B, 1, -1);
      const tokens = F.cat([cls, seq], 1).add(this.positions(h, w));
      return { tokens, grid: [h, w] as [number, number] };
    });
  }
}

export class ClipVisionTransformer extends nn.Module {
  readonly embeddings: ClipVisionEmbeddings;
  readonly pre_layrnorm: nn.LayerNorm;
  readonly encoder: ClipEncoder;
  readonly post_layernorm: nn.LayerNorm;

  constructor(readonly config: ClipVisionConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new ClipVisionEmbeddings(config));
    // 'pre_layrnorm' is Hugging Face's spelling; kept verbatim so checkpoints load as they are.
    this.pre_layrnorm = this.registerModule('pre_layrnorm', new nn.LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.encoder = this.registerModule(
      'encoder',
      new ClipEncoder(encoderSpec(config)),
    );
    this.post_layernorm = this.registerModule('post_layernorm', new nn.LayerNorm(config.hidden_size, config.layer_norm_eps));
  }
}

export interface VisionOptions {
  /** 1-based block numbers whose token maps to return as [B, W, h, w]. */
  taps?: readonly number[];
  /** Also return ln_post + projection on every patch token, as [B, E, h, w]. */
  dense?: boolean;
}

export interface VisionOutput {
  /** [B, E]: ln_post(class token) projected (not normalised). */
  pooled: Tensor;
  /** One [B, W, h, w] map per requested tap. */
  taps: Tensor[];
  /** [B, E, h, w] when requested. */
  dense: Tensor | null;
  grid: [number, number];
}

/** The vision tower with its projection: keys as Hugging Face's CLIPVisionModelWithProjection. */
export class ClipVisionTower extends nn.Module {
  readonly vision_model: ClipVisionTransformer;
  readonly visual_projection: nn.Linear;

  constructor(
    readonly config: ClipVisionConfig,
    readonly projectionDim: number,
  ) {
    super();
    this.vision_model = this.registerModule('vision_model', new ClipVisionTransformer(config));
    this.visual_projection = this.registerModule('visual_projection', new nn.Linear(config.hidden_size, projectionDim, { bias: false }));
  }

  forward(pixels: Tensor, options: VisionOptions = {}): VisionOutput {
    return tidy(() => {
      const vm = this.vision_model;
      const { tokens, grid } = vm.embeddings.forward(pixels);
      const { last, taps } = vm.encoder.forward(vm.pre_layrnorm.forward(tokens), null, options.taps ?? []);
      const [h, w] = grid;
      const B = pixels.shape[0];
      const toMap = (t: Tensor) => t.narrow(1, 1, h * w).transpose(1, 2).reshape(B, t.shape[2], h, w);
      const normed = vm.post_layernorm.forward(last);
      const projected = this.visual_projection.forward(options.dense ? normed : normed.select(1, 0));
      const pooled = options.dense ? projected.select(1, 0) : projected;
      return {
        pooled,
        taps: taps.map(toMap),
        dense: options.dense ? toMap(projected) : null,
        grid,
      };
    });
  }

  /** Frozen use: eval mode, no gradients recorded. */
  encodeFrozen(pixels: Tensor, options: VisionOptions = {}): VisionOutput {
    return noGrad(() => this.forward(pixels, options));
  }
}
