// From decoded cases to model inputs: the seeded transforms of data/ (image warps, and the
// text changes that go with them), then what the model needs: prompt composition by text
// mode, tokens, CLIP-normalised pixels, tensors. Training, evaluation, prediction and serving
// all build their batches here, so what the model sees never depends on who calls it.
import { type Device, aten, tensor, tidy, type Tensor } from '@tgcnet/torch';
import { PreprocessorConfig } from '../clip/config.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { type AugmentOptions, type SampleAugment, augmentImages, augmentMasks, isIdentity, sampleAugment } from '../data/augment.js';
import type { LoadedCase } from '../data/loader.js';
import { mulberry32 } from '../random.js';
import { type CaseText, type TextTransform, transformText } from '../data/text_transforms.js';
import type { TgcConfig } from './config.js';
import type { TextBatch } from './text_cache.js';
import { type TgcInputs, composePrompt } from './tgcnet.js';

/** OpenAI CLIP's preprocessor (mean and std), what a run without a pretrained CLIP normalises with. */
const DEFAULT_PREPROCESSOR = PreprocessorConfig.parse({});

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
export function tokenizeBatch(tokenizer: ClipTokenizer, texts: string[], contextLength: number, device: Device = 'cpu'): TextBatch {
  const encoded = texts.map((t) => tokenizer.encode(t, { contextLength }));
  const length = Math.max(...encoded.map((e) => e.eotIndex)) + 1;
  return {
    ids: toDevice(tensor(encoded.map((e) => e.ids.slice(0, length)), { dtype: 'int64' }), device),
    eot: encoded.map((e) => e.eotIndex),
    keys: texts,
  };
}

/** A batch's texts as the model's text mode composes them: the primary prompts, the aux texts ('' where absent), and which cases have one. */
export interface ComposedTexts {
  texts: string[];
  auxTexts: string[];
  auxPresent: boolean[];
}

/**
 * Each case's prompt and aux after its text transform (a flip's left/right swap, rewording),
 * composed for the model's text mode. Training, its text warm-up and evaluation all compose
 * here, so a prompt reads the same to the model whoever asks.
 */
export function composeTexts(config: TgcConfig, items: readonly { text: CaseText; transform: TextTransform }[]): ComposedTexts {
  const out: ComposedTexts = { texts: [], auxTexts: [], auxPresent: [] };
  for (const { text, transform } of items) {
    const { prompt, aux } = transformText(text, transform);
    const composed = composePrompt(config, prompt, aux);
    out.texts.push(composed.primary);
    out.auxTexts.push(composed.aux ?? '');
    out.auxPresent.push(composed.aux !== null);
  }
  return out;
}

/** CLIP's context length in tokens: longer prompts are cut there (end-of-text kept). */
const CONTEXT_LENGTH = 77;

/** The text half of the model's inputs: the prompts' tokens, and the aux texts' where any case has one. */
export function textInputs(tokenizer: ClipTokenizer, composed: ComposedTexts, device: Device = 'cpu'): Pick<TgcInputs, 'text' | 'aux' | 'auxPresent'> {
  const needAux = composed.auxPresent.some(Boolean);
  return {
    text: tokenizeBatch(tokenizer, composed.texts, CONTEXT_LENGTH, device),
    aux: needAux ? tokenizeBatch(tokenizer, composed.auxTexts, CONTEXT_LENGTH, device) : null,
    auxPresent: needAux ? composed.auxPresent : null,
  };
}

function stackGrey(arrays: Uint8Array[], side: number, device: Device): Tensor {
  const all = new Uint8Array(arrays.length * side * side);
  arrays.forEach((a, i) => all.set(a, i * side * side));
  return toDevice(tensor(all, { shape: [arrays.length, 1, side, side] }), device);
}

/**
 * A batch tensor built on the CPU, on the device the model runs on. Images cross as uint8
 * (a quarter of float32's bytes) and are normalised there; on CUDA from pinned memory, so the
 * copy runs asynchronously on the stream the next ops use.
 */
function toDevice(t: Tensor, device: Device): Tensor {
  if (device === 'cpu') return t;
  return aten.toDevice(device.startsWith('cuda') ? t.pinMemory() : t, device, t.dtype, { nonBlocking: true });
}

/** Grey [B, 1, S, S] in [0, 1] -> RGB [B, 3, S, S] normalised by the CLIP preprocessor's mean and std. */
export function clipNormalize(grey: Tensor, pre: PreprocessorConfig = DEFAULT_PREPROCESSOR): Tensor {
  return tidy(() => {
    const rgb = grey.expand(-1, 3, -1, -1);
    if (!pre.do_normalize) return rgb.contiguous();
    const mean = tensor(pre.image_mean, { device: grey.device }).reshape(1, 3, 1, 1);
    const std = tensor(pre.image_std, { device: grey.device }).reshape(1, 3, 1, 1);
    return rgb.sub(mean).div(std);
  });
}

export interface CollateOptions {
  config: TgcConfig;
  tokenizer: ClipTokenizer;
  /** null: no augmentation (evaluation). */
  augment: AugmentOptions | null;
  /** Seed of this step's augmentation draws. */
  seed: number;
  /** Replace each case's prompt and aux (evaluation with shuffled prompts). */
  promptOverride?: { prompt: string; aux: string | null }[];
  /** Training: the probability that a case's prompt is reworded and gets typing slips (data/prompt_augment.ts). */
  promptAugment?: number;
  /** Training: the probability that a case with negative prompts gets one of them and an empty target (data/negative_prompts.ts). */
  negativeRate?: number;
  /** The index of the first case in its global batch (data-parallel ranks hold slices): per-case draws follow the global index. */
  caseOffset?: number;
  /** Where the model runs (default cpu): the batch's tensors are made there. */
  device?: Device;
}

/** Which cases of a batch ask a negative prompt (index into the case's negatives), seeded per case and step. */
function drawNegatives(cases: LoadedCase[], rate: number | undefined, seed: number, offset: number): (number | null)[] {
  return cases.map((c, local) => {
    const i = local + offset;
    const n = c.record.negatives?.length ?? 0;
    if (!rate || n === 0 || c.mask === null) return null;
    const rand = mulberry32((seed * 6151 + i * 92_821 + 29) >>> 0);
    return rand() < rate ? Math.floor(rand() * n) : null;
  });
}

export function collate(cases: LoadedCase[], options: CollateOptions): ModelBatch {
  const { config } = options;
  const B = cases.length;
  const offset = options.caseOffset ?? 0;
  const params: SampleAugment[] | null =
    options.augment && !isIdentity(options.augment) ? cases.map((_, i) => sampleAugment(options.augment!, options.seed * 4099 + offset + i)) : null;
  const negative = drawNegatives(cases, options.negativeRate, options.seed, offset);
  const composed = composeTexts(
    config,
    cases.map((c, i) => {
      const asked = negative[i];
      return {
        text: options.promptOverride?.[i] ?? (asked === null ? { prompt: c.record.text, aux: c.record.aux } : c.record.negatives![asked]),
        transform: { flip: params?.[i].flip ?? false, promptAugment: options.promptAugment, seed: options.seed * 7919 + (offset + i) * 104_729 + 17 },
      };
    }),
  );
  const device = options.device ?? 'cpu';
  return tidy(() => {
    const warp = (x: Tensor) => (params ? augmentImages(x, params) : x);
    const cnn = config.encoder === 'vit-only' ? null : clipNormalize(warp(stackGrey(cases.map((c) => c.cnn), config.cnnInput, device).float().div(255)));
    const vit =
      config.encoder === 'cnn-only' ? null : clipNormalize(warp(stackGrey(cases.map((c) => c.vit!), config.vitInput, device).float().div(255)));
    const labelled = cases.every((c) => c.mask !== null);
    // A negative prompt's answer is no lesion at all.
    const targets = cases.map((c, i) => (negative[i] === null ? c.mask! : new Uint8Array(c.mask!.length)));
    let masks: Tensor | null = labelled ? stackGrey(targets, config.cnnInput, device).float() : null;
    if (masks && params) masks = augmentMasks(masks, params);
    const inputs: TgcInputs = {
      vitPixels: vit,
      cnnPixels: cnn,
      ...textInputs(options.tokenizer, composed, device),
      labelSize: [config.cnnInput, config.cnnInput],
    };
    return { inputs, masks, texts: composed.texts };
  });
}
