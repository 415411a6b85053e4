// The whole CLIP: both towers and the logit scale, with Hugging Face CLIPModel's keys.
import { F, nn, noGrad, tensor, tidy, type Tensor } from '@tgcnet/torch';
import type { ClipConfig } from './config.js';
import { ClipTextTower, type TextOutput } from './text.js';
import { ClipVisionTower, type VisionOptions, type VisionOutput } from './vision.js';

export class ClipModel extends nn.Module {
  readonly vision: ClipVisionTower;
  readonly text: ClipTextTower;
  readonly logit_scale: Tensor;

  constructor(readonly config: ClipConfig) {
    super();
    this.vision = new ClipVisionTower(config.vision_config, config.projection_dim);
    this.text = new ClipTextTower(config.text_config, config.projection_dim);
    // The towers' children are registered here directly, so keys are CLIPModel's
    // (vision_model.*, visual_projection.*, text_model.*, text_projection.*).
    for (const tower of [this.vision, this.text]) {
      for (const [name, child] of tower.namedChildren()) this.registerModule(name, child);
    }
    this.logit_scale = this.registerParameter('logit_scale', tensor(config.logit_scale_init_value));
  }

  encodeImage(pixels: Tensor, options: VisionOptions = {}): VisionOutput {
    return this.vision.forward(pixels, options);
  }

  encodeText(ids: Tensor, eotIndex: readonly number[]): TextOutput {
    return this.text.forward(ids, eotIndex);
  }

  /** L2-normalised embeddings and their cosine similarity matrix [images, texts]. */
  similarity(pixels: Tensor, ids: Tensor, eotIndex: readonly number[]): { image: Tensor; text: Tensor; cosine: Tensor } {
    return noGrad(() =>
      tidy(() => {
        const image = F.normalize(this.encodeImage(pixels).pooled, -1);
        const text = F.normalize(this.encodeText(ids, eotIndex).pooled, -1);
        return { image, text, cosine: image.matmul(text.t()) };
      }),
    );
  }
}
