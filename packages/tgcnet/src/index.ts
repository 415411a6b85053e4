// tgcnet as a library: what a TypeScript user scripts with. The `tgcnet` command is a thin
// adapter over these same functions. The engine is @tgcnet/torch.
//
//   import { loadRun, readImage, segment } from 'tgcnet';
//   const run = loadRun('runs/small');
//   const { mask, area } = await segment(run, await readImage('cxr.png'), 'lower left lung');
//   run.model.dispose();
import { loadImage } from './data/images.js';
import type { GreyImage } from './data/types.js';

// Training, evaluation, prediction.
export { train, type TrainOptions, type TrainResult } from './train/train.js';
export { evaluateRun as evaluate, type EvalOptions, type EvalResult } from './eval/run_eval.js';
export { segment, type Segmentation } from './infer/segment.js';
export { loadRun, type LoadedRun, type RunOverrides } from './run/checkpoint.js';
export { type RunRecord, readRunRecord } from './run/record.js';

// Data: datasets in the formats tgcnet reads, images, synthetic data, prompt tools.
export { openDataset, detectFormat, FORMAT_NAMES, type OpenOptions } from './data/detect.js';
export type { CaseRecord, Dataset, FormatName, GreyImage, Split } from './data/types.js';
export { loadImage, loadMask } from './data/images.js';
export { writeSynthDataset, SYNTH_STYLE_NAMES, type SynthOptions, type SynthStyle } from './data/synth_dataset.js';
export { readLungZones, restatePrompt, restateZones, type Zone } from './prompts/zones.js';
export { expandPrompt } from './prompts/expander.js';

// The model.
export { TgcNet, composePrompt, parameterReport, usesAux, type TgcInputs, type VisionFeatures } from './model/tgcnet.js';
export { VisionFeatureCache, featureCacheUnusable, type FeatureCacheStats } from './model/vision_cache.js';
export { PRESETS, PRESET_NAMES, buildConfig, type PresetName, TgcConfig } from './model/config.js';

// The command line.
export { buildProgram, run } from './cli/main.js';

/** A greyscale image from a file (PNG, JPEG, BMP, TIFF, WebP or single-frame DICOM). */
export function readImage(path: string): Promise<GreyImage> {
  return loadImage({ kind: 'file', path });
}
