// From logits to a binary mask: bilinear to the wanted size, then threshold 0.5 (logit 0)
// unless another probability threshold is asked for.
// Evaluation, prediction and serving all go through here, so a mask is the same whoever asks.
import { F, tidy, type Tensor } from '@tgcnet/torch';

export interface BinaryMask {
  /** 0/1 per pixel, row-major. */
  mask: Uint8Array;
  /** Mean foreground probability over the image. */
  meanProbability: number;
  /** The probability per pixel, when asked for. */
  probabilities?: Float32Array;
}

export interface MaskOptions {
  /** Foreground where the probability is > threshold (default 0.5). */
  threshold?: number;
  /** Also return the probability map. */
  probabilities?: boolean;
}

/** The logit a probability threshold corresponds to (0.5 -> exactly 0). */
export function logitOf(probability: number): number {
  if (!(probability > 0 && probability < 1)) throw new RangeError(`threshold ${probability}: expected a probability between 0 and 1 (exclusive)`);
  return Math.log(probability / (1 - probability));
}

/** One case's logits [1, 1, h, w] as a mask of `height` x `width`. */
export function logitsToMask(logits: Tensor, height: number, width: number, options: MaskOptions = {}): BinaryMask {
  return tidy(() => {
    const l = logits.shape[2] === height && logits.shape[3] === width ? logits : F.interpolate(logits, { size: [height, width], mode: 'bilinear', alignCorners: false });
    const p = F.sigmoid(l);
    const cut = options.threshold === undefined ? 0 : logitOf(options.threshold);
    return {
      mask: l.gt(cut).to('uint8').toArray() as Uint8Array,
      meanProbability: p.mean().item(),
      ...(options.probabilities ? { probabilities: p.contiguous().toArray() as Float32Array } : {}),
    };
  });
}
