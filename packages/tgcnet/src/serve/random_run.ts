// A run folder holding a TGC-Net of a preset with random weights: what the serve tests and
// the load bench segment with when no trained checkpoint is at hand. The masks mean nothing;
// shapes, speed and memory behaviour are those of the real model.
import { join } from 'node:path';
import { manualSeed } from '@tgcnet/torch';
import { buildConfig } from '../model/config.js';
import { TgcNet } from '../model/tgcnet.js';
import { defaultBpePath } from '../paths.js';
import { saveCheckpoint, writeRunRecord } from '../run/checkpoint.js';
import type { RunRecord } from '../run/record.js';
import { TGCNET_VERSION } from '../version.js';

export interface RandomRunOptions {
  preset: string;
  seed?: number;
  /** CLIP BPE vocabulary (default: ../shared/clip). */
  tokenizer?: string;
  /** Written into best/metrics.json, so /v1/model has something to show. */
  metrics?: Record<string, unknown>;
}

/** Writes `<dir>/config.json` and `<dir>/best/` with random weights; returns dir. */
export function writeRandomRun(dir: string, options: RandomRunOptions): string {
  const tokenizer = options.tokenizer ?? defaultBpePath();
  if (!tokenizer) throw new Error('no CLIP tokenizer: set TGCNET_CLIP_BPE or put bpe_simple_vocab_16e6.txt.gz in ../shared/clip');
  // No pretrained CLIP: the towers are part of the checkpoint, as in a run trained without --clip.
  const config = buildConfig(options.preset, ['clipTrainable=true']);
  manualSeed(options.seed ?? 0);
  const model = new TgcNet(config);
  try {
    const run: RunRecord = {
      model: config,
      clipSource: null,
      tokenizer,
      train: { preset: options.preset, note: 'random weights (serve tests / load bench), not trained' },
      data: { root: join(dir, 'no-data'), format: 'none' },
      createdAt: new Date().toISOString(),
      tgcnetVersion: TGCNET_VERSION,
    };
    writeRunRecord(dir, run);
    saveCheckpoint(dir, 'best', { model, run, metrics: options.metrics ?? { note: 'random weights' } });
  } finally {
    model.dispose();
  }
  return dir;
}
