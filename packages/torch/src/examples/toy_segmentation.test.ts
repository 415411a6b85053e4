import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '../index.js';
import { trainToySegmentation, toyModel, toyBatch, diceLoss } from './toy_segmentation.js';

test('a small CNN learns the toy segmentation task: loss < 0.25 within 150 steps', () => {
  const start = T.memory().tensors;
  const { model, losses, dice } = trainToySegmentation({ steps: 150, seed: 0 });
  const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(first > 0.5, `initial loss ${first} should be high`);
  assert.ok(last < 0.25, `final loss ${last} should be below 0.25`);
  assert.ok(dice > 0.8, `final Dice ${dice} should exceed 0.8`);
  model.dispose();
  assert.equal(T.memory().tensors, start);
});

test('training is deterministic for a fixed seed', () => {
  const a = trainToySegmentation({ steps: 5, seed: 3 });
  const b = trainToySegmentation({ steps: 5, seed: 3 });
  assert.deepEqual(a.losses, b.losses);
  a.model.dispose();
  b.model.dispose();
});

test('1000 training steps keep the live-handle count flat and RSS growth under 50 MB', () => {
  T.manualSeed(0);
  const model = toyModel(4);
  const opt = new T.optim.AdamW(model.parameters(), { lr: 1e-3 });
  const step = () =>
    T.tidy(() => {
      const { image, mask } = toyBatch(2, 8);
      const logits = model.forward(image);
      const loss = diceLoss(logits, mask).add(T.F.binaryCrossEntropyWithLogits(logits, mask));
      opt.zeroGrad();
      loss.backward();
      T.optim.clipGradNorm_(model.parameters(), 1);
      opt.step();
    });
  for (let i = 0; i < 50; i++) step();
  global.gc?.();
  const handles = T.memory().tensors;
  const rss = process.memoryUsage().rss;
  for (let i = 0; i < 1000; i++) step();
  global.gc?.();
  assert.equal(T.memory().tensors, handles, 'live tensor handles after 1000 steps');
  const growth = (process.memoryUsage().rss - rss) / 2 ** 20;
  assert.ok(growth < 50, `RSS grew ${growth.toFixed(1)} MB`);
  opt.dispose();
  model.dispose();
});
