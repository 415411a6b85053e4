// From logits to a binary mask: bilinear to the wanted size, then threshold 0.5 (logit 0).
// Evaluation, prediction and serving all go through here, so a mask is the same whoever asks.
import { F, tidy, type Tensor } from '@tgcnet/torch';

export interface BinaryMask {
  /** 0/1 per pixel, row-major. */
  mask: Uint8Array;
  /** Mean foreground probability over the image. */
  meanProbability: number;
}

/** One case's logits [1, 1, h, w] as a mask of `height` x `width`. */
export function logitsToMask(logits: Tensor, height: number, width: number): BinaryMask {
  return tidy(() => {
    const l = logits.shape[2] === height && logits.shape[3] === width ? logits : F.interpolate(logits, { size: [height, width], mode: 'bilinear', alignCorners: false });
    return { mask: l.gt(0).to('uint8').toArray() as Uint8Array, meanProbability: F.sigmoid(l).mean().item() };
  });
}
