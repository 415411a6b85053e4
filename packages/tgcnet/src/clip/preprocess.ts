// CLIP image preprocessing: decode (sharp, native threads), grey -> RGB, resize the
// shortest edge (bicubic), centre-crop, scale to [0, 1], normalise by CLIP's mean/std.
import sharp from 'sharp';
import { tensor, tidy, type Tensor } from '@tgcnet/torch';
import type { PreprocessorConfig } from './config.js';

export interface ResizePolicy {
  /** Shortest edge after resizing. */
  shortestEdge: number;
  /** Square centre crop side (the model's input size). */
  crop: number;
}

/** The policy a preprocessor_config.json describes, with `inputSize` as the fallback. */
export function resizePolicy(pre: PreprocessorConfig, inputSize: number): ResizePolicy {
  const size = pre.size;
  const shortestEdge = size === undefined ? inputSize : typeof size === 'number' ? size : 'shortest_edge' in size ? size.shortest_edge : Math.min(size.height, size.width);
  const cropRaw = pre.crop_size;
  const crop = cropRaw === undefined ? inputSize : typeof cropRaw === 'number' ? cropRaw : Math.min(cropRaw.height, cropRaw.width);
  return { shortestEdge, crop };
}

/** Decoded, resized and cropped RGB bytes [S, S, 3]. */
export async function decodeForClip(input: string | Buffer, policy: ResizePolicy): Promise<Uint8Array> {
  const img = sharp(input, { failOn: 'error' }).removeAlpha().toColourspace('srgb');
  const meta = await sharp(input).metadata();
  if (!meta.width || !meta.height) throw new Error(`${typeof input === 'string' ? input : 'image'}: cannot read its size`);
  const scale = policy.shortestEdge / Math.min(meta.width, meta.height);
  const w = Math.max(policy.crop, Math.round(meta.width * scale));
  const h = Math.max(policy.crop, Math.round(meta.height * scale));
  const resized = await img.resize(w, h, { kernel: 'cubic', fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const channels = resized.info.channels;
  const left = Math.floor((w - policy.crop) / 2);
  const top = Math.floor((h - policy.crop) / 2);
  const out = new Uint8Array(policy.crop * policy.crop * 3);
  for (let y = 0; y < policy.crop; y++) {
    for (let x = 0; x < policy.crop; x++) {
      const src = ((top + y) * w + (left + x)) * channels;
      const dst = (y * policy.crop + x) * 3;
      for (let c = 0; c < 3; c++) out[dst + c] = resized.data[src + (channels === 1 ? 0 : c)];
    }
  }
  return out;
}

/** RGB bytes [S, S, 3] -> normalised pixels [1, 3, S, S]. */
export function normalizeForClip(rgb: Uint8Array, side: number, pre: PreprocessorConfig): Tensor {
  return tidy(() => {
    const x = tensor(rgb, { shape: [side, side, 3] }).float().div(255).permute(2, 0, 1).unsqueeze(0);
    if (!pre.do_normalize) return x.contiguous();
    const mean = tensor(pre.image_mean).reshape(1, 3, 1, 1);
    const std = tensor(pre.image_std).reshape(1, 3, 1, 1);
    return x.sub(mean).div(std);
  });
}

export async function loadImageForClip(input: string | Buffer, pre: PreprocessorConfig, inputSize: number): Promise<Tensor> {
  const policy = resizePolicy(pre, inputSize);
  const rgb = await decodeForClip(input, policy);
  return normalizeForClip(rgb, policy.crop, pre);
}
