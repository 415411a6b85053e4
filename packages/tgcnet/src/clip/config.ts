// CLIP configuration, read from a Hugging Face config.json (snake_case, as written there)
// or named after a real checkpoint. Validated with zod; every size comes from here.
import { z } from 'zod';

export const Activation = z.enum(['quick_gelu', 'gelu']);
export type Activation = z.infer<typeof Activation>;

export const ClipVisionConfig = z.object({
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  image_size: z.number().int().positive(),
  patch_size: z.number().int().positive(),
  num_channels: z.number().int().positive().default(3),
  hidden_act: Activation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
});
export type ClipVisionConfig = z.infer<typeof ClipVisionConfig>;

export const ClipTextConfig = z.object({
  vocab_size: z.number().int().positive().default(49408),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive().default(77),
  hidden_act: Activation.default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
});
export type ClipTextConfig = z.infer<typeof ClipTextConfig>;

export const ClipConfig = z
  .object({
    vision_config: ClipVisionConfig,
    text_config: ClipTextConfig,
    projection_dim: z.number().int().positive(),
    logit_scale_init_value: z.number().default(2.6592),
  })
  .superRefine((c, ctx) => {
    for (const [name, t] of [['vision_config', c.vision_config], ['text_config', c.text_config]] as const) {
      if (t.hidden_size % t.num_attention_heads !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'hidden_size'],
          message: `hidden_size ${t.hidden_size} is not divisible by num_attention_heads ${t.num_attention_heads}`,
        });
      }
    }
    if (c.vision_config.image_size % c.vision_config.patch_size !== 0) {
      ctx.addIssue({ code: 'custom', path: ['vision_config', 'image_size'], message: 'image_size must be a multiple of patch_size' });
    }
  });
export type ClipConfig = z.infer<typeof ClipConfig>;

function vision(width: number, layers: number, heads: number, image: number, patch: number): ClipVisionConfig {
  return {
    hidden_size: width,
    intermediate_size: width * 4,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    image_size: image,
    patch_size: patch,
    num_channels: 3,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
  };
}

function text(width: number, layers: number, heads: number): ClipTextConfig {
  return {
    vocab_size: 49408,
    hidden_size: width,
    intermediate_size: width * 4,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    max_position_embeddings: 77,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
  };
}

/** Presets named after the checkpoints they describe, plus small ones for tests and CPU work. */
export const CLIP_PRESETS = {
  'openai/clip-vit-base-patch32': { vision_config: vision(768, 12, 12, 224, 32), text_config: text(512, 12, 8), projection_dim: 512, logit_scale_init_value: 2.6592 },
  'openai/clip-vit-base-patch16': { vision_config: vision(768, 12, 12, 224, 16), text_config: text(512, 12, 8), projection_dim: 512, logit_scale_init_value: 2.6592 },
  'openai/clip-vit-large-patch14': { vision_config: vision(1024, 24, 16, 224, 14), text_config: text(768, 12, 12), projection_dim: 768, logit_scale_init_value: 2.6592 },
  'openai/clip-vit-large-patch14-336': { vision_config: vision(1024, 24, 16, 336, 14), text_config: text(768, 12, 12), projection_dim: 768, logit_scale_init_value: 2.6592 },
  /** CPU training: every part of CLIP, small enough to train in minutes on 2 cores. */
  small: { vision_config: vision(128, 4, 4, 224, 16), text_config: text(128, 4, 4), projection_dim: 128, logit_scale_init_value: 2.6592 },
  /** Tests: the smallest CLIP that still has every part (two blocks per tower). */
  tiny: { vision_config: vision(32, 2, 2, 32, 8), text_config: text(32, 2, 2), projection_dim: 16, logit_scale_init_value: 2.6592 },
} satisfies Record<string, ClipConfig>;

export type ClipPresetName = keyof typeof CLIP_PRESETS;

export function clipPreset(name: string): ClipConfig {
  const preset = (CLIP_PRESETS as Record<string, ClipConfig>)[name];
  if (preset === undefined) {
    throw new Error(`unknown CLIP preset '${name}': use one of ${Object.keys(CLIP_PRESETS).join(', ')}`);
  }
  return structuredClone(preset);
}

/** Parses a config.json object; errors name the file and each bad field. */
export function parseClipConfig(raw: unknown, source: string): ClipConfig {
  const r = ClipConfig.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source}: not a usable CLIP config: ${issues}`);
  }
  return r.data;
}

/** Image preprocessing as a checkpoint's preprocessor_config.json describes it. */
export const PreprocessorConfig = z.object({
  image_mean: z.array(z.number()).length(3).default([0.48145466, 0.4578275, 0.40821073]),
  image_std: z.array(z.number()).length(3).default([0.26862954, 0.26130258, 0.27577711]),
  do_resize: z.boolean().default(true),
  do_center_crop: z.boolean().default(true),
  do_normalize: z.boolean().default(true),
  size: z.union([z.number(), z.object({ shortest_edge: z.number() }), z.object({ height: z.number(), width: z.number() })]).optional(),
  crop_size: z.union([z.number(), z.object({ height: z.number(), width: z.number() })]).optional(),
});
export type PreprocessorConfig = z.infer<typeof PreprocessorConfig>;
