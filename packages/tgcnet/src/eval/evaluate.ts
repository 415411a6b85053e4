// Evaluation: the model's masks against the ground truth at threshold 0.5, at the label's
// own resolution (or the training resolution, for quick validation during training).
import { F, noGrad, tidy } from '@tgcnet/torch';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { Loader, type LoadedCase } from '../data/loader.js';
import type { CaseRecord } from '../data/types.js';
import type { TgcConfig } from '../model/config.js';
import type { TgcNet } from '../model/tgcnet.js';
import { collate } from '../train/batch.js';
import { SegmentationMetric, type Summary, countCase } from './metrics.js';

export interface EvaluateOptions {
  config: TgcConfig;
  tokenizer: ClipTokenizer;
  batch: number;
  /** Compare at each mask's original size (true) or at the CNN input size (faster). */
  atOriginalSize: boolean;
  /** Prompts to use instead of each case's own (e.g. shuffled, to measure text reliance). */
  prompts?: Map<string, string>;
  /** Called with every binary prediction (0/1 bytes, row-major) at the compared size. */
  onPrediction?: (c: LoadedCase, prediction: Uint8Array, width: number, height: number, probability: number) => void;
}

export interface Evaluation extends Summary {
  metric: SegmentationMetric;
}

export async function evaluateCases(model: TgcNet, cases: readonly CaseRecord[], options: EvaluateOptions): Promise<Evaluation> {
  const { config } = options;
  const loader = new Loader(cases, {
    batchSize: options.batch,
    shuffle: false,
    seed: 0,
    cnnSize: config.cnnInput,
    vitSize: config.encoder === 'cnn-only' ? null : config.vitInput,
    prefetch: 2,
    keepOriginal: options.atOriginalSize,
  });
  const metric = new SegmentationMetric();
  const wasTraining = model.training;
  model.eval();
  try {
    for await (const batch of loader.epoch(0)) {
      noGrad(() =>
        tidy(() => {
          const override = options.prompts ? batch.cases.map((c) => options.prompts!.get(c.record.id) ?? c.record.text) : undefined;
          const mb = collate(batch.cases, { config, tokenizer: options.tokenizer, augment: null, seed: 0, promptOverride: override });
          const logits = model.forward(mb.inputs);
          batch.cases.forEach((c, i) => {
            tidy(() => {
              let l = logits.narrow(0, i, 1);
              let gt: Uint8Array | null = c.mask;
              let [w, h] = [config.cnnInput, config.cnnInput];
              if (options.atOriginalSize) {
                [w, h] = [c.original.width, c.original.height];
                gt = c.original.mask;
                if (w !== config.cnnInput || h !== config.cnnInput) l = F.interpolate(l, { size: [h, w], mode: 'bilinear', alignCorners: false });
              }
              const pred = l.gt(0).to('uint8').toArray() as Uint8Array;
              if (gt) metric.update(countCase(c.record.id, pred, gt));
              options.onPrediction?.(c, pred, w, h, F.sigmoid(l).mean().item());
            });
          });
        }),
      );
    }
  } finally {
    model.train(wasTraining);
  }
  return { ...metric.aggregate(), metric };
}
