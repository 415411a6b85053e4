// A tiny run folder for inference tests, without training: the `tiny` preset with seeded
// random weights, saved as train would save it (config.json + best/). Predictions from it
// mean nothing, but they are deterministic, which is all that "the same mask by two paths"
// tests need. Takes well under a second, where training even the tiny preset takes many.
import { resolve } from 'node:path';
import * as T from '@tgcnet/torch';
import { buildConfig } from '../model/config.js';
import { TgcNet } from '../model/tgcnet.js';
import { saveCheckpoint, writeRunRecord } from '../run/checkpoint.js';

export function writeTinyRun(runDir: string, tokenizer: string, seed = 3): void {
  T.manualSeed(seed);
  const config = buildConfig('tiny');
  const model = new TgcNet(config, null);
  try {
    const run = {
      model: config,
      clipSource: null,
      tokenizer: resolve(tokenizer),
      train: { note: 'random weights for tests' },
      data: { root: '', format: 'none' },
      createdAt: new Date(0).toISOString(),
      tgcnetVersion: '0.1.0',
    };
    writeRunRecord(runDir, run);
    saveCheckpoint(runDir, 'best', { model, run, metrics: {} });
  } finally {
    model.dispose();
  }
}
