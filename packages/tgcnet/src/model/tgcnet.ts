// TGC-Net: frozen CLIP + CNN fused by SSE, DATE text, VLCM calibration, cost decoder.
// The model knows nothing about files: it takes pixels and token ids, returns logits.
import { F, nn, noGrad, tensor, tidy, type Tensor } from '@tgcnet/torch';
import type { ClipConfig } from '../clip/config.js';
import { ClipTextTower, type TextOutput } from '../clip/text.js';
import { ClipVisionTower } from '../clip/vision.js';
import { CnnBranch } from './cnn.js';
import { type TgcConfig, pyramidSides, resolveClipConfig } from './config.js';
import { Date, type TextFeatures } from './date.js';
import { CostDecoder, pixelTextCosine } from './decoder.js';
import { Sse } from './sse.js';
import { type TextBatch, TextFeatureCache } from './text_cache.js';
import { TextReconstructionHead } from './text_reconstruction.js';
import { BidirectionalVlcm, GatedVlcm } from './vlcm.js';

export type { TextBatch };

export interface TgcInputs {
  /** [B, 3, vitInput, vitInput], CLIP-normalised; null for encoder 'cnn-only'. */
  vitPixels: Tensor | null;
  /** [B, 3, cnnInput, cnnInput]; null for encoder 'vit-only'. */
  cnnPixels: Tensor | null;
  /** The clinical prompt (for 'llm-expanded', prompt and auxiliary text joined; see composePrompt). */
  text: TextBatch;
  /** The auxiliary prompt, used by 'aux-injection'. */
  aux?: TextBatch | null;
  /** Per case: whether an auxiliary prompt exists (missing ones get no injection). */
  auxPresent?: boolean[] | null;
  labelSize: [number, number];
  /** The frozen vision tower's output for vitPixels, read from a VisionFeatureCache: the tower does not run. */
  vision?: VisionFeatures | null;
}

/** What the CLIP vision tower hands the rest of the model: the tapped blocks' maps and the projected dense tokens, each [B, C, h, w]. */
export interface VisionFeatures {
  taps: Tensor[];
  dense: Tensor;
}

/** Whether a configuration reads an auxiliary text (DATE's injection, or prompt and aux joined). */
export function usesAux(config: TgcConfig): boolean {
  return config.text === 'llm-expanded' || (config.text === 'aux-injection' && config.modules.date);
}

/** What the text mode asks the data layer to tokenize as primary and auxiliary text. */
export function composePrompt(config: TgcConfig, prompt: string, aux: string | null): { primary: string; aux: string | null } {
  // Text-free ablation: the architecture stays, the information goes (one constant prompt).
  if (config.text === 'none') return { primary: '', aux: null };
  if (config.text === 'llm-expanded' && aux) return { primary: `${prompt} ${aux}`, aux: null };
  if (config.text === 'aux-injection' && config.modules.date) return { primary: prompt, aux };
  return { primary: prompt, aux: null };
}

/** The text-independent part of a forward pass (TgcNet.encodeImage). */
export interface ImageFeatures {
  /** CLIP's dense patch tokens (the CLIP cost's image side), or null without the ViT. */
  dense: Tensor | null;
  /** The CNN stem map at stride 4 (the decoder's skip), or null without the CNN. */
  cnnStem: Tensor | null;
  /** The CNN stem's own map at stride 2, kept only for a decoder with outputStride 2. */
  cnnStride2: Tensor | null;
  /** The SSE pyramid, fine to coarse. */
  pyramid: Tensor[];
}

export interface PretrainedClip {
  vision: ClipVisionTower | null;
  text: ClipTextTower;
}

export class TgcNet extends nn.Module {
  readonly clipConfig: ClipConfig;
  readonly clip_vision: ClipVisionTower | null;
  readonly clip_text: ClipTextTower;
  readonly cnn: CnnBranch | null;
  readonly sse: Sse;
  readonly date: Date;
  readonly vlcm: GatedVlcm | BidirectionalVlcm | null;
  readonly decoder: CostDecoder;
  /** Training-only head (objective.textReconstruction > 0); inference never runs it. */
  readonly text_reconstruction: TextReconstructionHead | null;
  /** Scale and bias turning the text-pixel cosine into logits (objective.textPixel > 0). */
  readonly text_pixel_scale: Tensor | null;
  readonly textCache = new TextFeatureCache();
  readonly visionTrainable: boolean;
  readonly textTrainable: boolean;

  constructor(
    readonly config: TgcConfig,
    pretrained: PretrainedClip | null = null,
  ) {
    super();
    const clip = resolveClipConfig(config);
    this.clipConfig = clip;
    const useVit = config.encoder !== 'cnn-only';
    const useCnn = config.encoder !== 'vit-only';
    this.visionTrainable = config.encoder === 'vit-finetune' || config.clipTrainable;
    this.textTrainable = config.clipTrainable;
    const vision = useVit ? (pretrained?.vision ?? new ClipVisionTower(clip.vision_config, clip.projection_dim)) : null;
    this.clip_vision = vision ? this.registerModule('clip_vision', vision) : null;
    this.clip_text = this.registerModule('clip_text', pretrained?.text ?? new ClipTextTower(clip.text_config, clip.projection_dim));
    if (this.clip_vision && !this.visionTrainable) this.clip_vision.freeze();
    if (!this.textTrainable) this.clip_text.freeze();
    const widths = config.cnn.widths;
    this.cnn = useCnn
      ? this.registerModule('cnn', new CnnBranch({ inChannels: 3, stem: config.cnn.stem, widths, depths: config.cnn.depths }))
      : null;
    this.sse = this.registerModule(
      'sse',
      new Sse({
        dModel: config.dModel,
        cnnChannels: useCnn ? [widths[1], widths[2], widths[3]] : null,
        vitChannels: useVit ? clip.vision_config.hidden_size : null,
        sides: pyramidSides(config),
        layers: config.modules.sse ? config.sse.layers : 0,
        heads: config.sse.heads,
        points: config.sse.points,
        ffn: config.sse.ffn,
        dropout: config.dropout,
      }),
    );
    this.date = this.registerModule(
      'date',
      new Date({
        clipEmbed: clip.projection_dim,
        clipWidth: clip.text_config.hidden_size,
        dModel: config.dModel,
        heads: config.date.heads,
        withAux: config.modules.date && config.text === 'aux-injection',
        tokensNeeded: (config.modules.vlcm && config.alignment !== 'none') || (config.decoder.textGate && config.decoder.gateUnion),
      }),
    );
    const align = config.modules.vlcm ? config.alignment : 'none';
    this.vlcm =
      align === 'gated'
        ? this.registerModule('vlcm', new GatedVlcm({ dModel: config.dModel, heads: config.vlcm.heads, contextTokens: config.vlcm.contextTokens }))
        : align === 'bidirectional'
          ? this.registerModule('vlcm', new BidirectionalVlcm({ dModel: config.dModel, heads: config.vlcm.heads }))
          : null;
    this.decoder = this.registerModule(
      'decoder',
      new CostDecoder({
        dModel: config.dModel,
        costChannels: config.decoder.costChannels,
        positionCost: config.decoder.positionCost,
        textGate: config.decoder.textGate,
        gateUnion: config.decoder.textGate && config.decoder.gateUnion,
        gateGrid: config.decoder.textGate ? config.decoder.gateGrid : 0,
        gateFineGrid: config.decoder.textGate ? config.decoder.gateFineGrid : 0,
        aggregationBlocks: config.decoder.aggregationBlocks,
        upChannels: config.decoder.upChannels as [number, number, number],
        highResChannels: useCnn ? widths[0] : null,
        outputStride: config.decoder.outputStride,
        stride2Channels: useCnn && config.decoder.outputStride === 2 ? config.cnn.stem : null,
        clipCost: useVit,
      }),
    );
    const objective = config.objective;
    this.text_reconstruction =
      objective.textReconstruction > 0 && config.text !== 'none'
        ? this.registerModule('text_reconstruction', new TextReconstructionHead(config.dModel, objective.reconstructionBuckets))
        : null;
    // [scale, bias] of the cosine logits: a cosine in [-1, 1] needs a scale to reach confident
    // probabilities, and a negative bias because most pixels are background.
    this.text_pixel_scale = objective.textPixel > 0 && config.text !== 'none' ? this.registerParameter('text_pixel_scale', tensor([10, -5])) : null;
  }

  /** Frozen CLIP towers stay in eval mode whatever mode the rest is put in. */
  override train(mode = true): this {
    super.train(mode);
    if (this.clip_vision && !this.visionTrainable) this.clip_vision.eval();
    if (!this.textTrainable) this.clip_text.eval();
    return this;
  }

  /** CLIP text features: cached per prompt when frozen, differentiable when trained. */
  textFeatures(batch: TextBatch): TextFeatures {
    if (this.textTrainable) {
      const out: TextOutput = this.clip_text.forward(batch.ids, batch.eot);
      return out;
    }
    return this.textCache.features(this.clip_text, batch);
  }

  forward(inputs: TgcInputs): Tensor {
    return this.forwardTrain(inputs).logits;
  }

  /**
   * The logits and the training objectives beside segmentation: `textLoss` is the weighted
   * text-reconstruction loss (a scalar), or null when that objective is off; `pixelTextLogits`
   * [B, 1, h, w] scores each pixel of the finest calibrated level against the text (null when
   * objective.textPixel is 0); the training loop compares them with the mask.
   */
  forwardTrain(inputs: TgcInputs): { logits: Tensor; textLoss: Tensor | null; pixelTextLogits: Tensor | null } {
    return tidy(() => {
      // Text first, then pixels: the order in which dropout draws from the generator, kept so a
      // seed trains the same model as before this was split in two.
      const text = this.#textOf(inputs);
      return this.#decode(this.encodeImage(inputs), text, inputs);
    });
  }

  /**
   * What the model computes from the pixels alone (CLIP vision taps and dense tokens, the CNN
   * maps, the SSE pyramid): nothing in it depends on the text, so several prompts about one
   * image can share it (forwardPrompts).
   */
  encodeImage(inputs: Pick<TgcInputs, 'vitPixels' | 'cnnPixels' | 'vision'>): ImageFeatures {
    const c = this.config;
    if (this.clip_vision && inputs.vitPixels === null && !inputs.vision) throw new Error(`TGC-Net (${c.encoder}): vitPixels are required`);
    if (this.cnn && inputs.cnnPixels === null) throw new Error(`TGC-Net (${c.encoder}): cnnPixels are required`);
    if (inputs.vision && this.visionTrainable) throw new Error(`TGC-Net: precomputed vision features given, but the vision tower trains (its features change every step)`);
    let vision: VisionFeatures | null = null;
    if (this.clip_vision) vision = inputs.vision ?? (inputs.vitPixels ? this.visionFeatures(inputs.vitPixels) : null);
    const cnn = this.cnn && inputs.cnnPixels ? this.cnn.features(inputs.cnnPixels) : null;
    const cnnMaps = cnn ? cnn.maps : null;
    const pyramid = this.sse.forward(cnnMaps ? cnnMaps.slice(1) : null, vision ? vision.taps : null);
    const cnnStride2 = cnn && c.decoder.outputStride === 2 ? cnn.stem : null;
    return { dense: vision ? vision.dense : null, cnnStem: cnnMaps ? cnnMaps[0] : null, cnnStride2, pyramid };
  }

  /** The CLIP vision tower's taps and dense tokens for [B, 3, S, S] pixels (no gradients when it is frozen). */
  visionFeatures(vitPixels: Tensor): VisionFeatures {
    const vision = this.clip_vision;
    if (!vision) throw new Error(`TGC-Net (${this.config.encoder}): no CLIP vision tower`);
    const run = () => vision.forward(vitPixels, { taps: this.config.vitTaps, dense: true });
    const out = this.visionTrainable ? run() : noGrad(run);
    return { taps: out.taps, dense: out.dense! };
  }

  /**
   * Logits [N, 1, H, W] for one image ([1, ...] pixels) under N prompts (`text` with N rows):
   * the image is encoded once and its features shared, so N prompts cost one image encoding
   * plus N text-conditioned decodings. Equal to forward() on the image repeated N times.
   */
  forwardPrompts(inputs: TgcInputs): Tensor {
    return tidy(() => {
      const n = inputs.text.ids.shape[0];
      const text = this.#textOf(inputs);
      const image = this.encodeImage(inputs);
      const widen = (t: Tensor) => (t.shape[0] === n ? t : t.expand(n, ...t.shape.slice(1)));
      const shared: ImageFeatures = {
        dense: image.dense ? widen(image.dense) : null,
        cnnStem: image.cnnStem ? widen(image.cnnStem) : null,
        cnnStride2: image.cnnStride2 ? widen(image.cnnStride2) : null,
        pyramid: image.pyramid.map(widen),
      };
      return this.#decode(shared, text, inputs).logits;
    });
  }

  #textOf(inputs: TgcInputs): { primary: TextFeatures; aux: TextFeatures | null } {
    const primary = this.textFeatures(inputs.text);
    const aux = this.date.cross_attn && inputs.aux ? this.textFeatures(inputs.aux) : null;
    return { primary, aux };
  }

  #decode(image: ImageFeatures, text: { primary: TextFeatures; aux: TextFeatures | null }, inputs: TgcInputs): { logits: Tensor; textLoss: Tensor | null; pixelTextLogits: Tensor | null } {
    const c = this.config;
    const { primary, aux } = text;
    const clipCost = image.dense ? pixelTextCosine(image.dense, primary.pooled) : null;
    const present = inputs.auxPresent ? tensor(inputs.auxPresent.map((p) => (p ? 1 : 0)), { device: primary.pooled.device }) : null;
    const joint = this.date.forward(primary, aux, present);
    const calibrated = this.vlcm ? this.vlcm.forward(image.pyramid, joint) : { levels: image.pyramid, text: joint };
    const tokens = calibrated.text.tokens ? { tokens: calibrated.text.tokens, mask: calibrated.text.mask } : null;
    const logits = this.decoder.forward(calibrated.levels, calibrated.text.pooled, clipCost, image.cnnStem, inputs.labelSize, tokens, image.cnnStride2);
    const textLoss =
      this.text_reconstruction && this.training
        ? this.text_reconstruction.loss(joint.pooled, inputs.text.ids, inputs.text.eot).mul(c.objective.textReconstruction)
        : null;
    const pixelTextLogits =
      this.text_pixel_scale && this.training
        ? pixelTextCosine(calibrated.levels[0], calibrated.text.pooled).mul(this.text_pixel_scale.select(0, 0)).add(this.text_pixel_scale.select(0, 1))
        : null;
    return { logits, textLoss, pixelTextLogits };
  }

  /** Probabilities [B, 1, H, W] without recording gradients. */
  predict(inputs: TgcInputs): Tensor {
    return noGrad(() => tidy(() => F.sigmoid(this.forward(inputs))));
  }

  override dispose(): void {
    this.textCache.clear();
    super.dispose();
  }
}

export interface ParameterReport {
  total: number;
  trainable: number;
  /** CLIP and training-only heads excluded: the figure the paper reports (10.3M). */
  trainableExcludingClip: number;
  modules: Record<string, { total: number; trainable: number }>;
}

export function parameterReport(model: TgcNet): ParameterReport {
  const modules: Record<string, { total: number; trainable: number }> = {};
  for (const [name, child] of model.namedChildren()) {
    modules[name] = { total: child.numParameters(), trainable: child.numParameters({ trainableOnly: true }) };
  }
  const trainable = model.numParameters({ trainableOnly: true });
  const notInference = (modules.clip_vision?.trainable ?? 0) + (modules.clip_text?.trainable ?? 0) + (modules.text_reconstruction?.trainable ?? 0);
  return { total: model.numParameters(), trainable, trainableExcludingClip: trainable - notInference, modules };
}
