// A toy segmentation task for exercising the engine end to end: bright squares on a
// noisy background, a small CNN, 0.5 Dice + 0.5 BCE, AdamW with warmup + cosine.
import * as F from '../functional.js';
import { manualSeed } from '../runtime.js';
import { rand, randn, zeros } from '../creation.js';
import { noGrad } from '../autograd.js';
import { Conv2d, GroupNorm, ReLU, Sequential } from '../nn/index.js';
import { AdamW, clipGradNorm_, warmupCosine } from '../optim/index.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';

export interface ToyOptions {
  steps: number;
  batch?: number;
  size?: number;
  width?: number;
  lr?: number;
  seed?: number;
  onStep?: (info: { step: number; loss: number; dice: number }) => void;
}

/** Images [B, 1, S, S] with one random bright square each, and its mask. */
export function toyBatch(batch: number, size: number): { image: Tensor; mask: Tensor } {
  return tidy(() => {
    const mask = zeros([batch, 1, size, size]);
    const corners = rand([batch, 3]).toNumbers();
    for (let b = 0; b < batch; b++) {
      const side = 3 + Math.floor(corners[b * 3] * (size / 2));
      const y = Math.floor(corners[b * 3 + 1] * (size - side));
      const x = Math.floor(corners[b * 3 + 2] * (size - side));
      noGrad(() => mask.select(0, b).select(0, 0).narrow(0, y, side).narrow(1, x, side).fill_(1));
    }
    const image = mask.mul(1.5).add(randn([batch, 1, size, size]).mul(0.5));
    return { image, mask };
  });
}

export function toyModel(width = 8): Sequential {
  return new Sequential(
    new Conv2d(1, width, 3, { padding: 1 }),
    new GroupNorm(2, width),
    new ReLU(),
    new Conv2d(width, width, 3, { padding: 1 }),
    new GroupNorm(2, width),
    new ReLU(),
    new Conv2d(width, 1, 1),
  );
}

/** Soft Dice loss (1 - Dice) over [B, 1, H, W] logits, mean over the batch. */
export function diceLoss(logits: Tensor, target: Tensor, smooth = 1): Tensor {
  return tidy(() => {
    const p = F.sigmoid(logits).flatten(1);
    const t = target.flatten(1);
    const inter = p.mul(t).sum(1);
    const denom = p.sum(1).add(t.sum(1));
    return inter.mul(2).add(smooth).div(denom.add(smooth)).neg().add(1).mean();
  });
}

/** Hard Dice at threshold 0.5 over the whole batch (pixels pooled). */
export function hardDice(logits: Tensor, target: Tensor): number {
  return tidy(() => {
    const pred = logits.gt(0).float();
    const inter = pred.mul(target).sum().item();
    const total = pred.sum().item() + target.sum().item();
    return total === 0 ? 1 : (2 * inter) / total;
  });
}

/** Trains the toy model; returns the losses per step and the final model (caller disposes). */
export function trainToySegmentation(options: ToyOptions): { model: Sequential; losses: number[]; dice: number } {
  manualSeed(options.seed ?? 0);
  const batch = options.batch ?? 8;
  const size = options.size ?? 16;
  const model = toyModel(options.width ?? 8);
  const optimizer = new AdamW(model.parameters(), { lr: options.lr ?? 2e-2, weightDecay: 1e-4 });
  const schedule = warmupCosine(optimizer, { warmupSteps: Math.ceil(options.steps / 10), totalSteps: options.steps });
  const losses: number[] = [];
  let dice = 0;
  for (let step = 0; step < options.steps; step++) {
    tidy(() => {
      const { image, mask } = toyBatch(batch, size);
      const logits = model.forward(image);
      const loss = diceLoss(logits, mask).mul(0.5).add(F.binaryCrossEntropyWithLogits(logits, mask).mul(0.5));
      optimizer.zeroGrad();
      loss.backward();
      clipGradNorm_(model.parameters(), 1.0);
      optimizer.step();
      schedule.step();
      losses.push(loss.item());
      dice = hardDice(logits, mask);
      options.onStep?.({ step, loss: losses[losses.length - 1], dice });
    });
  }
  optimizer.dispose();
  return { model, losses, dice };
}
