// Evaluation: the model's masks against the ground truth at threshold 0.5, at the label's
// own resolution (or the training resolution, for quick validation during training).
import { F, aten, noGrad, tidy, type Tensor } from '@tgcnet/torch';
import { swapLeftRight } from '../data/text_flip.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { Loader, type LoadedCase } from '../data/loader.js';
import type { CaseRecord } from '../data/types.js';
import type { TgcConfig } from '../model/config.js';
import type { TgcNet } from '../model/tgcnet.js';
import type { DecodedCache } from '../data/decoded_cache.js';
import { collate, composeTexts, textInputs } from '../model/inputs.js';
import { CPU_FP32, type Execution, underPrecision } from '../model/execution.js';
import { logitsToMask } from '../model/masks.js';
import type { VisionFeatureCache } from '../model/vision_cache.js';
import { SegmentationMetric, type Summary, countCase } from './metrics.js';
import { surfaceScores } from './surface.js';

export interface PromptOverride {
  prompt: string;
  aux: string | null;
}

export interface EvaluateOptions {
  config: TgcConfig;
  tokenizer: ClipTokenizer;
  batch: number;
  /** Compare at each mask's original size (true) or at the CNN input size (faster). */
  atOriginalSize: boolean;
  /** Prompts (and their aux) to use instead of each case's own, by case id (e.g. shuffled, to measure text reliance). */
  prompts?: Map<string, PromptOverride>;
  /** Foreground where the probability is > threshold (default 0.5). */
  threshold?: number;
  /** Compute HD95 and NSD (at this tolerance, in spacing units: mm where the file says, else pixels). */
  surface?: { tolerance: number };
  /** Called with every binary prediction (0/1 bytes, row-major) at the compared size, and the probability map when `probabilities`. */
  onPrediction?: (c: LoadedCase, prediction: Uint8Array, width: number, height: number, meanProbability: number, probabilities?: Float32Array) => void;
  /** Hand onPrediction the probability map too. */
  probabilities?: boolean;
  /** Called after each batch with the cases done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Where the model is and the precision of its forward pass (default: CPU, fp32). */
  execution?: Execution;
  /** Frozen CLIP features kept between calls (training's validation each epoch). */
  visionCache?: VisionFeatureCache | null;
  /** Decoded pixels kept between calls (training's validation each epoch). */
  decodedCache?: DecodedCache | null;
  /** Test-time augmentation: 'flip' also segments the mirrored image under the prompt with left and right swapped, and averages the two probabilities. */
  tta?: 'flip' | null;
}

export interface Evaluation extends Summary {
  metric: SegmentationMetric;
}

export async function evaluateCases(model: TgcNet, cases: readonly CaseRecord[], options: EvaluateOptions): Promise<Evaluation> {
  const { config } = options;
  const execution = options.execution ?? CPU_FP32;
  const loader = new Loader(cases, {
    batchSize: options.batch,
    shuffle: false,
    seed: 0,
    cnnSize: config.cnnInput,
    vitSize: config.encoder === 'cnn-only' ? null : config.vitInput,
    prefetch: 2,
    keepOriginal: options.atOriginalSize,
    cache: options.decodedCache ?? null,
  });
  const metric = new SegmentationMetric();
  let done = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    for await (const batch of loader.epoch(0)) {
      noGrad(() =>
        tidy(() => {
          const override = options.prompts ? batch.cases.map((c) => options.prompts!.get(c.record.id) ?? { prompt: c.record.text, aux: c.record.aux }) : undefined;
          const mb = collate(batch.cases, { config, tokenizer: options.tokenizer, augment: null, seed: 0, promptOverride: override, device: execution.device });
          const cache = options.visionCache;
          const run = (inputs: typeof mb.inputs) =>
            underPrecision(execution, () => model.forward(cache && inputs.vitPixels ? { ...inputs, vision: cache.features(model, inputs.vitPixels) } : inputs)).float();
          let logits = run(mb.inputs);
          if (options.tta === 'flip') {
            // The same pixels mirrored (CLIP's normalisation is per pixel, so it commutes with the
            // flip) under the prompts and aux with left and right swapped, as a training flip does.
            const asked = override ?? batch.cases.map((c) => ({ prompt: c.record.text, aux: c.record.aux }));
            const swapped = asked.map((a) => ({ prompt: swapLeftRight(a.prompt), aux: a.aux === null ? null : swapLeftRight(a.aux) }));
            const swappedTexts = textInputs(options.tokenizer, composeTexts(config, swapped.map((text) => ({ text, transform: { flip: false, seed: 0 } }))), execution.device);
            const mirror = (t: Tensor | null) => (t === null ? null : aten.flip(t, [3]));
            const mirrored = { ...mb.inputs, ...swappedTexts, cnnPixels: mirror(mb.inputs.cnnPixels), vitPixels: mirror(mb.inputs.vitPixels) };
            logits = meanOfProbabilities(logits, aten.flip(run(mirrored), [3]));
          }
          batch.cases.forEach((c, i) => {
            const [w, h] = options.atOriginalSize ? [c.original.width, c.original.height] : [config.cnnInput, config.cnnInput];
            const gt = options.atOriginalSize ? c.original.mask : c.mask;
            const { mask, meanProbability, probabilities } = logitsToMask(logits.narrow(0, i, 1), h, w, { threshold: options.threshold, probabilities: options.probabilities });
            if (gt) {
              const prompt = override ? override[i].prompt : c.record.text;
              const counts = { ...countCase(c.record.id, mask, gt), prompt };
              if (options.surface) {
                // Spacing is known only at the file's own size.
                const spacing = options.atOriginalSize ? (c.original.spacing ?? undefined) : undefined;
                Object.assign(counts, surfaceScores(mask, gt, w, h, { spacing, tolerance: options.surface.tolerance }));
              }
              metric.update(counts);
            }
            options.onPrediction?.(c, mask, w, h, meanProbability, probabilities);
          });
        }),
      );
      done += batch.cases.length;
      options.onProgress?.(done, cases.length);
    }
  } finally {
    model.train(wasTraining);
  }
  return { ...metric.aggregate(), metric };
}

/** The logits of the mean of two predictions' probabilities (clamped so that agreement at 0 or 1 stays finite). */
export function meanOfProbabilities(a: Tensor, b: Tensor): Tensor {
  return tidy(() => {
    const p = F.sigmoid(a).add(F.sigmoid(b)).mul(0.5).clamp(1e-7, 1 - 1e-7);
    return p.log().sub(p.neg().add(1).log());
  });
}
