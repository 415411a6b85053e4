// The training losses: segmentation (LViT's convention) and the text-pixel alignment term.
import { F, tidy, type Tensor } from '@tgcnet/torch';

/** 0.5 soft Dice + 0.5 BCE-with-logits (LViT's convention), both averaged over the batch. */
export function segmentationLoss(logits: Tensor, masks: Tensor, smooth = 1): { loss: Tensor; dice: Tensor; bce: Tensor } {
  return tidy(() => {
    const p = F.sigmoid(logits).flatten(1);
    const t = masks.flatten(1);
    const dice = p.mul(t).sum(1).mul(2).add(smooth).div(p.sum(1).add(t.sum(1)).add(smooth)).neg().add(1).mean();
    const bce = F.binaryCrossEntropyWithLogits(logits, masks);
    return { loss: dice.mul(0.5).add(bce.mul(0.5)), dice, bce };
  });
}

/**
 * A training step's loss from TgcNet.forwardTrain's outputs: segmentation, plus the text
 * reconstruction term and the weighted text-pixel term when the config has them. Read in
 * float32 (under autocast the heads come out in bfloat16/float16).
 */
export function trainingLoss(
  config: { objective: { textPixel: number } },
  outputs: { logits: Tensor; textLoss: Tensor | null; pixelTextLogits: Tensor | null },
  masks: Tensor,
): Tensor {
  return tidy(() => {
    let total = segmentationLoss(outputs.logits.float(), masks).loss;
    if (outputs.textLoss) total = total.add(outputs.textLoss.float());
    if (outputs.pixelTextLogits) total = total.add(pixelTextLoss(outputs.pixelTextLogits.float(), masks).mul(config.objective.textPixel));
    return total;
  });
}

/** BCE between text-pixel logits [B, 1, h, w] and the mask's coverage of each of those pixels. */
export function pixelTextLoss(logits: Tensor, masks: Tensor): Tensor {
  return tidy(() => F.binaryCrossEntropyWithLogits(logits, F.adaptiveAvgPool2d(masks, [logits.shape[2], logits.shape[3]])));
}
