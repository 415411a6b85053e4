// A text tower trained from scratch starts knowing no words, so the first epoch's segmentation
// steps teach the decoder against a text vector that does not yet tell "upper left" from
// "lower right". The warm-up trains the text side alone first (CLIP text tower, DATE and the
// text-reconstruction head) on the training prompts, with the reconstruction loss: a few
// hundred steps of text, no pixels, seconds on a CPU. The segmentation run then starts from a
// text vector that already names the zones (issue 11: "a quick self-supervised warm start of
// the text tower on the dataset's own prompts").
import { type Device, nn, optim, type Tensor, tensor, tidy } from '@tgcnet/torch';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import type { CaseRecord } from '../data/types.js';
import { composeTexts, textInputs } from '../model/inputs.js';
import type { TgcNet } from '../model/tgcnet.js';
import { mulberry32 } from '../random.js';
import { trainingOptimizer } from './optimizer.js';

/** Prompts per warm-up step: text steps are cheap, and more prompts per step see more of the vocabulary's combinations. */
export const TEXT_WARMUP_BATCH = 32;

export interface TextWarmupOptions {
  steps: number;
  /** Prompts per step. */
  batch: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** The probability that a prompt is reworded and gets typing slips (as in training). */
  promptAugment?: number;
  device?: Device;
  /** Data-parallel: every rank draws the same prompts, and this averages the gradients over the ranks, so their weights cannot drift apart. */
  averageGradients?: (params: Tensor[]) => void;
  /** The CLIP towers were loaded from a pretrained checkpoint (and are trained): the warm-up is for towers that start from random weights. */
  pretrained?: boolean;
}

export interface TextWarmupResult {
  steps: number;
  /** Mean reconstruction loss over the first and the last tenth of the steps. */
  firstLoss: number;
  lastLoss: number;
  seconds: number;
}

/** Why a model cannot be warmed up, or null when it can. */
export function textWarmupUnusable(model: TgcNet, options: { pretrained?: boolean } = {}): string | null {
  if (model.config.text === 'none') return 'the model reads no text (text=none)';
  if (!model.text_reconstruction) return 'the model has no text-reconstruction head (objective.textReconstruction is 0)';
  if (!model.textTrainable) return 'the CLIP text tower is frozen (a pretrained CLIP already reads words)';
  if (options.pretrained) return 'the CLIP text tower is pretrained (it already reads words; the warm-up is for a tower that starts from random weights)';
  return null;
}

/** The text side of the model on its own, as one module for the optimizer. */
class TextSide extends nn.Module {
  constructor(model: TgcNet) {
    super();
    this.registerModule('clip_text', model.clip_text);
    this.registerModule('date', model.date);
    this.registerModule('text_reconstruction', model.text_reconstruction!);
  }
}

/**
 * Trains the text side on `cases`' prompts (and their auxiliary texts) for `options.steps`
 * steps of AdamW, a state of its own that is dropped afterwards. Deterministic for a seed.
 */
export function warmUpText(model: TgcNet, cases: readonly CaseRecord[], tokenizer: ClipTokenizer, options: TextWarmupOptions, onStep?: (step: number, loss: number) => void): TextWarmupResult {
  const why = textWarmupUnusable(model, options);
  if (why) throw new Error(`text warm-up: ${why}; set objective.textWarmup=0`);
  if (cases.length === 0) throw new Error('text warm-up: no training prompts');
  const started = performance.now();
  const side = new TextSide(model);
  const { optimizer, params } = trainingOptimizer(side, { lr: options.lr, weightDecay: options.weightDecay });
  const wasTraining = model.training;
  model.train(true);
  const losses: number[] = [];
  const draw = mulberry32((options.seed * 2_654_435_761 + 0x7e57) >>> 0);
  const device = options.device ?? 'cpu';
  try {
    for (let step = 0; step < options.steps; step++) {
      const picked = Array.from({ length: options.batch }, () => cases[Math.floor(draw() * cases.length)]);
      const composed = composeTexts(
        model.config,
        picked.map((c, i) => ({
          text: { prompt: c.text, aux: c.aux },
          transform: { flip: false, promptAugment: options.promptAugment, seed: (options.seed * 7919 + step * 104_729 + i * 31 + 5) >>> 0 },
        })),
      );
      const loss = tidy(() => {
        const { text, aux, auxPresent } = textInputs(tokenizer, composed, device);
        const primary = model.textFeatures(text);
        const readsAux = model.date.cross_attn !== null && aux && auxPresent;
        const auxFeatures = readsAux ? model.textFeatures(aux) : null;
        const present = readsAux ? tensor(auxPresent.map((p) => (p ? 1 : 0)), { device }) : null;
        const joint = model.date.forward(primary, auxFeatures, present);
        const l = model.text_reconstruction!.loss(joint.pooled, text.ids, text.eot);
        optimizer.zeroGrad();
        l.backward();
        options.averageGradients?.(params);
        optim.clipGradNorm_(params, 1.0);
        optimizer.step();
        return l.item();
      });
      losses.push(loss);
      onStep?.(step + 1, loss);
    }
  } finally {
    optimizer.zeroGrad();
    optimizer.dispose();
    model.train(wasTraining);
  }
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
  return { steps: options.steps, firstLoss: mean(losses.slice(0, tenth)), lastLoss: mean(losses.slice(-tenth)), seconds: (performance.now() - started) / 1000 };
}
