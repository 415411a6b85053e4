// One image and a prompt in, a mask at the image's own size out: the path predict and
// serve share, and the same computation as evaluation (collate without augmentation,
// logits upsampled to the original size, threshold 0.5).
import { noGrad, type Tensor, tidy } from '@tgcnet/torch';
import { type LoadedCase, resizeGrey } from '../data/loader.js';
import type { GreyImage } from '../data/types.js';
import type { LoadedRun } from '../run/checkpoint.js';
import { collate } from '../model/inputs.js';
import { type MaskOptions, logitsToMask } from '../model/masks.js';
import { underPrecision } from '../model/execution.js';

export interface Segmentation {
  width: number;
  height: number;
  /** 0/1 per pixel, row-major. */
  mask: Uint8Array;
  /** Foreground pixels. */
  area: number;
  /** Mean foreground probability over the image. */
  meanProbability: number;
  /** The probability per pixel, when asked for. */
  probabilities?: Float32Array;
}

export async function prepareCase(run: LoadedRun, image: GreyImage, text: string, aux: string | null): Promise<LoadedCase> {
  const c = run.run.model;
  const [cnn, vit] = await Promise.all([
    resizeGrey(image, c.cnnInput, 'cubic'),
    c.encoder === 'cnn-only' ? Promise.resolve(null) : resizeGrey(image, c.vitInput, 'cubic'),
  ]);
  return {
    record: { id: 'input', split: 'test', image: { kind: 'file', path: '' }, mask: null, text, aux },
    cnn,
    vit,
    mask: null,
    original: { width: image.width, height: image.height, spacing: image.spacing ?? null, image: null, mask: null },
  };
}

/** Runs the model on prepared cases (a batch) and returns one mask per case. */
export function segmentPrepared(run: LoadedRun, cases: LoadedCase[]): Segmentation[] {
  return noGrad(() =>
    tidy(() => {
      const batch = collate(cases, { config: run.run.model, tokenizer: run.tokenizer, augment: null, seed: 0, device: run.execution.device });
      return segmentationsOf(underPrecision(run.execution, () => run.model.forward(batch.inputs)).float(), cases, {});
    }),
  );
}

/** One Segmentation per case from a batch of logits, each at its image's own size. */
function segmentationsOf(logits: Tensor, cases: LoadedCase[], options: MaskOptions): Segmentation[] {
  return cases.map((c, i) => {
    const { width, height } = c.original;
    const { mask, meanProbability, probabilities } = logitsToMask(logits.narrow(0, i, 1), height, width, options);
    let area = 0;
    for (const v of mask) area += v;
    return { width, height, mask, area, meanProbability, ...(probabilities ? { probabilities } : {}) };
  });
}

export async function segment(run: LoadedRun, image: GreyImage, text: string, aux: string | null = null): Promise<Segmentation> {
  if (text.trim().length === 0) throw new Error('the prompt is empty: say what to segment');
  const prepared = await prepareCase(run, image, text, aux);
  return segmentPrepared(run, [prepared])[0];
}

/**
 * One image under several prompts (each with its aux): the image is resized and encoded once
 * (TgcNet.forwardPrompts), then decoded once per prompt. Masks equal segment() per prompt.
 */
export async function segmentPrompts(
  run: LoadedRun,
  image: GreyImage,
  prompts: { text: string; aux: string | null }[],
  options: MaskOptions = {},
): Promise<Segmentation[]> {
  if (prompts.length === 0) return [];
  for (const p of prompts) if (p.text.trim().length === 0) throw new Error('a prompt is empty: say what to segment');
  const prepared = await prepareCase(run, image, prompts[0].text, prompts[0].aux);
  const cases = prompts.map((p) => ({ ...prepared, record: { ...prepared.record, text: p.text, aux: p.aux } }));
  return noGrad(() =>
    tidy(() => {
      const batch = collate(cases, { config: run.run.model, tokenizer: run.tokenizer, augment: null, seed: 0, device: run.execution.device });
      const first = (t: Tensor | null) => (t === null ? null : t.narrow(0, 0, 1));
      const logits = underPrecision(run.execution, () =>
        run.model.forwardPrompts({ ...batch.inputs, vitPixels: first(batch.inputs.vitPixels), cnnPixels: first(batch.inputs.cnnPixels) }),
      );
      return segmentationsOf(logits.float(), cases, options);
    }),
  );
}
