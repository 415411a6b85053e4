// Inputs for model tests and benchmarks: random pixels and token ids of the right shapes.
import * as T from '@tgcnet/torch';
import type { TgcConfig } from './config.js';
import type { TgcInputs } from './tgcnet.js';

/** Token ids [B, 77]: start, `length` random word ids, end, zeros. */
export function randomTextBatch(batch: number, lengths: number[], keyPrefix: string): { ids: T.Tensor; eot: number[]; keys: string[] } {
  const rows: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const n = lengths[b % lengths.length];
    const body = Array.from({ length: n }, (_, i) => 400 + ((b * 97 + i * 31) % 40000));
    rows.push([49406, ...body, 49407, ...new Array(77 - n - 2).fill(0)]);
  }
  return {
    ids: T.tensor(rows, { dtype: 'int64' }),
    eot: rows.map((_, b) => lengths[b % lengths.length] + 1),
    keys: rows.map((r) => `${keyPrefix}:${r.join(',')}`),
  };
}

export function randomInputs(config: TgcConfig, batch: number, labelSize: [number, number] = [config.cnnInput, config.cnnInput]): TgcInputs {
  return {
    vitPixels: config.encoder === 'cnn-only' ? null : T.randn([batch, 3, config.vitInput, config.vitInput]),
    cnnPixels: config.encoder === 'vit-only' ? null : T.randn([batch, 3, config.cnnInput, config.cnnInput]),
    text: randomTextBatch(batch, [4, 9], 'p'),
    aux: randomTextBatch(batch, [12, 6], 'a'),
    auxPresent: Array.from({ length: batch }, (_, b) => b % 2 === 0),
    labelSize,
  };
}
