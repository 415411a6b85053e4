// Augmentation on batches in libtorch: one affine warp (scale, rotation, shift, horizontal
// flip) applied identically to the ViT image, the CNN image and the mask (bilinear for
// images, nearest for masks), and intensity jitter (brightness, contrast, gamma).
// Parameters are drawn per sample from a seeded generator, so a step replays exactly.
import { type Device, F, tensor, tidy, type Tensor } from '@tgcnet/torch';
import { mulberry32 } from '../random.js';

export interface AugmentOptions {
  /** Probability of a horizontal flip (the prompt's left/right are swapped with it). */
  flip: number;
  /** Maximum rotation, degrees. */
  rotate: number;
  /** Scale range around 1 (0.1 -> [0.9, 1.1]). */
  scale: number;
  /** Maximum shift as a fraction of the side. */
  shift: number;
  brightness: number;
  contrast: number;
  gamma: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { flip: 0.5, rotate: 10, scale: 0.1, shift: 0.05, brightness: 0.1, contrast: 0.15, gamma: 0.15 };
export const NO_AUGMENT: AugmentOptions = { flip: 0, rotate: 0, scale: 0, shift: 0, brightness: 0, contrast: 0, gamma: 0 };
/** Horizontal flips alone, with the prompt's left and right swapped. */
export const FLIP_ONLY: AugmentOptions = { ...NO_AUGMENT, flip: 0.5 };

export interface SampleAugment {
  flip: boolean;
  angle: number;
  scale: number;
  tx: number;
  ty: number;
  brightness: number;
  contrast: number;
  gamma: number;
}

export function isIdentity(a: AugmentOptions): boolean {
  return Object.values(a).every((v) => v === 0);
}

export function sampleAugment(options: AugmentOptions, seed: number): SampleAugment {
  const r = mulberry32(seed);
  const sym = () => r() * 2 - 1;
  return {
    flip: r() < options.flip,
    angle: (sym() * options.rotate * Math.PI) / 180,
    scale: 1 + sym() * options.scale,
    tx: sym() * options.shift * 2,
    ty: sym() * options.shift * 2,
    brightness: sym() * options.brightness,
    contrast: 1 + sym() * options.contrast,
    gamma: Math.exp(sym() * options.gamma),
  };
}

/** Sampling grid [B, S, S, 2] of the inverse affine map, in grid_sample's [-1, 1] coordinates. */
function affineGrid(params: SampleAugment[], size: number, device: Device): Tensor {
  return tidy(() => {
    const coords = Array.from({ length: size }, (_, j) => (2 * j + 1) / size - 1);
    const base: number[] = [];
    for (const y of coords) for (const x of coords) base.push(x, y, 1);
    const baseT = tensor(base, { shape: [size * size, 3], device });
    const thetas = params.map((p) => {
      // output -> input: undo shift, rotation and scale; a flip mirrors x first.
      const c = Math.cos(p.angle) / p.scale;
      const s = Math.sin(p.angle) / p.scale;
      const f = p.flip ? -1 : 1;
      return [c * f, -s, p.tx, s * f, c, p.ty];
    });
    const theta = tensor(thetas.flat(), { shape: [params.length, 2, 3], device });
    return baseT.matmul(theta.transpose(1, 2)).reshape(params.length, size, size, 2);
  });
}

/** images: [B, 1, S, S] in [0, 1]; returns the warped, intensity-jittered images. */
export function augmentImages(images: Tensor, params: SampleAugment[]): Tensor {
  return tidy(() => {
    const grid = affineGrid(params, images.shape[2], images.device);
    let x = F.gridSample(images, grid, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false }).clamp(0, 1);
    const col = (k: keyof SampleAugment) => tensor(params.map((p) => Number(p[k])), { device: images.device }).reshape(-1, 1, 1, 1);
    x = x.clamp(1e-6, 1).pow(col('gamma')).sub(0.5).mul(col('contrast')).add(0.5).add(col('brightness'));
    return x.clamp(0, 1);
  });
}

/** masks: [B, 1, S, S] of 0/1; nearest-neighbour warp, so labels stay binary. */
export function augmentMasks(masks: Tensor, params: SampleAugment[]): Tensor {
  return tidy(() => F.gridSample(masks, affineGrid(params, masks.shape[2], masks.device), { mode: 'nearest', paddingMode: 'zeros', alignCorners: false }));
}
