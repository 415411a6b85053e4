// From decoded cases to model inputs: augmentation, text (with left/right swapped for
// flipped images), tokenization, CLIP normalisation, tensors.
import { F, tensor, tidy, type Tensor } from '@tgcnet/torch';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { type AugmentOptions, type SampleAugment, augmentImages, augmentMasks, isIdentity, sampleAugment } from '../data/augment.js';
import type { LoadedCase } from '../data/loader.js';
import { swapLeftRight } from '../data/text_flip.js';
import type { TgcConfig } from '../model/config.js';
import type { TextBatch } from '../model/text_cache.js';
import { type TgcInputs, composePrompt } from '../model/tgcnet.js';

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export interface ModelBatch {
  inputs: TgcInputs;
  /** [B, 1, S, S] 0/1 float at the CNN size, or null when unlabelled. */
  masks: Tensor | null;
  /** The prompts as the model saw them (after a flip's left/right swap). */
  texts: string[];
}

/**
 * Token ids [B, L] where L is the longest prompt's length (end-of-text included), not the full
 * context: the towers are causal, so the padding after a prompt's end never reaches its
 * features, and a 20-token prompt costs 20 positions instead of 77.
 */
export function tokenizeBatch(tokenizer: ClipTokenizer, texts: string[], contextLength: number): TextBatch {
  const encoded = texts.map((t) => tokenizer.encode(t, { contextLength }));
  const length = Math.max(...encoded.map((e) => e.eotIndex)) + 1;
  return {
    ids: tensor(encoded.map((e) => e.ids.slice(0, length)), { dtype: 'int64' }),
    eot: encoded.map((e) => e.eotIndex),
    keys: texts,
  };
}

function stackGrey(arrays: Uint8Array[], side: number): Tensor {
  const all = new Uint8Array(arrays.length * side * side);
  arrays.forEach((a, i) => all.set(a, i * side * side));
  return tensor(all, { shape: [arrays.length, 1, side, side] });
}

/** Grey [B, 1, S, S] in [0, 1] -> CLIP-normalised RGB [B, 3, S, S]. */
export function clipNormalize(grey: Tensor): Tensor {
  return tidy(() => {
    const mean = tensor(CLIP_MEAN).reshape(1, 3, 1, 1);
    const std = tensor(CLIP_STD).reshape(1, 3, 1, 1);
    return grey.expand(-1, 3, -1, -1).sub(mean).div(std);
  });
}

export interface CollateOptions {
  config: TgcConfig;
  tokenizer: ClipTokenizer;
  /** null: no augmentation (evaluation). */
  augment: AugmentOptions | null;
  /** Seed of this step's augmentation draws. */
  seed: number;
  /** Replace each case's prompt (evaluation with shuffled prompts). */
  promptOverride?: string[];
}

export function collate(cases: LoadedCase[], options: CollateOptions): ModelBatch {
  const { config } = options;
  const B = cases.length;
  const params: SampleAugment[] | null =
    options.augment && !isIdentity(options.augment) ? cases.map((_, i) => sampleAugment(options.augment!, options.seed * 4099 + i)) : null;
  const texts: string[] = [];
  const auxTexts: string[] = [];
  const auxPresent: boolean[] = [];
  cases.forEach((c, i) => {
    const flip = params?.[i].flip ?? false;
    const raw = options.promptOverride?.[i] ?? c.record.text;
    const prompt = flip ? swapLeftRight(raw) : raw;
    const aux = c.record.aux === null ? null : flip ? swapLeftRight(c.record.aux) : c.record.aux;
    const composed = composePrompt(config, prompt, aux);
    texts.push(composed.primary);
    auxTexts.push(composed.aux ?? '');
    auxPresent.push(composed.aux !== null);
  });
  const context = 77;
  return tidy(() => {
    const warp = (x: Tensor) => (params ? augmentImages(x, params) : x);
    const cnn = config.encoder === 'vit-only' ? null : clipNormalize(warp(stackGrey(cases.map((c) => c.cnn), config.cnnInput).float().div(255)));
    const vit =
      config.encoder === 'cnn-only' ? null : clipNormalize(warp(stackGrey(cases.map((c) => c.vit!), config.vitInput).float().div(255)));
    const labelled = cases.every((c) => c.mask !== null);
    let masks: Tensor | null = labelled ? stackGrey(cases.map((c) => c.mask!), config.cnnInput).float() : null;
    if (masks && params) masks = augmentMasks(masks, params);
    const needAux = auxPresent.some(Boolean);
    const inputs: TgcInputs = {
      vitPixels: vit,
      cnnPixels: cnn,
      text: tokenizeBatch(options.tokenizer, texts, context),
      aux: needAux ? tokenizeBatch(options.tokenizer, auxTexts, context) : null,
      auxPresent: needAux ? auxPresent : null,
      labelSize: [config.cnnInput, config.cnnInput],
    };
    return { inputs, masks, texts };
  });
}

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

/** BCE between text-pixel logits [B, 1, h, w] and the mask's coverage of each of those pixels. */
export function pixelTextLoss(logits: Tensor, masks: Tensor): Tensor {
  return tidy(() => F.binaryCrossEntropyWithLogits(logits, F.adaptiveAvgPool2d(masks, [logits.shape[2], logits.shape[3]])));
}
