import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SegmentationMetric, countCase, diceOf, iouOf } from './metrics.js';

test('Dice and IoU against hand-computed values', () => {
  // pred 1 1 0 0 ; gt 1 0 1 0 -> I=1, P=2, G=2: Dice 0.5, IoU 1/3
  const c = countCase('a', [1, 1, 0, 0], [255, 0, 255, 0]);
  assert.deepEqual(c, { id: 'a', intersection: 1, predicted: 2, actual: 2 });
  assert.equal(diceOf(c), 0.5);
  assert.equal(iouOf(c), 1 / 3);
});

test('empty masks: both empty scores 1, one empty scores 0', () => {
  assert.equal(diceOf(countCase('e', [0, 0], [0, 0])), 1);
  assert.equal(iouOf(countCase('e', [0, 0], [0, 0])), 1);
  assert.equal(diceOf(countCase('f', [1, 0], [0, 0])), 0);
  assert.equal(diceOf(countCase('g', [0, 0], [1, 0])), 0);
});

test('macro averages cases, micro pools pixels', () => {
  const m = new SegmentationMetric();
  m.update(countCase('big', [1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0])); // Dice 1
  m.update(countCase('small', [1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0])); // Dice 0
  m.update(countCase('empty', [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0])); // Dice 1
  const s = m.aggregate();
  assert.equal(s.cases, 3);
  assert.equal(s.dice.macro, 2 / 3);
  // pooled: I = 4, P = 5, G = 5 -> 8/10
  assert.equal(s.dice.micro, 0.8);
  assert.equal(s.iou.micro, 4 / 6);
  assert.match(m.toCsv(), /^id,prompt,dice,iou,hd95,nsd,intersection,predicted,actual\nbig,,1.000000,1.000000,,,4,4,4\n/);
  assert.deepEqual(s.empty, { both: 1, truthOnly: 0, predictionOnly: 0 });
  assert.equal(s.surface, undefined, 'no boundary metrics unless computed');
  assert.throws(() => countCase('x', [1], [1, 0]), /prediction has 1 pixels, ground truth 2/);
});

test('boundary metrics: means over defined cases, undefined ones counted; per-prompt breakdown', () => {
  const m = new SegmentationMetric();
  m.update({ ...countCase('a', [1, 1, 0, 0], [1, 1, 0, 0]), prompt: 'left', hd95: 0, nsd: 1 });
  m.update({ ...countCase('b', [1, 0, 0, 0], [0, 0, 1, 1]), prompt: 'left', hd95: 3, nsd: 0.25 });
  m.update({ ...countCase('c', [0, 0, 0, 0], [0, 1, 0, 0]), prompt: 'right', hd95: Number.NaN, nsd: 0 });
  m.update({ ...countCase('d', [0, 0, 0, 0], [0, 0, 0, 0]), prompt: 'none', hd95: Number.NaN, nsd: Number.NaN });
  const s = m.aggregate();
  assert.deepEqual(s.surface, { hd95: { mean: 1.5, median: 1.5, cases: 2 }, nsd: { mean: 1.25 / 3, cases: 3 } });
  assert.deepEqual(s.empty, { both: 1, truthOnly: 0, predictionOnly: 1 });
  assert.deepEqual(m.byPrompt().map((p) => [p.prompt, p.cases, p.diceMacro]), [['left', 2, 0.5], ['none', 1, 1], ['right', 1, 0]]);
  assert.match(m.toCsv(), /\nc,right,0\.000000,0\.000000,,0\.000000,0,0,1\n/);
});

test('bootstrap intervals hold the point estimate, narrow with more cases, and repeat with the seed', async () => {
  const { bootstrapDice } = await import('./bootstrap.js');
  const make = (n: number) => Array.from({ length: n }, (_, i) => countCase(`c${i}`, [1, 1, i % 3 ? 1 : 0, 0], [1, 1, 1, 0]));
  const few = bootstrapDice(make(12), { seed: 3 })!;
  const many = bootstrapDice(make(600), { seed: 3 })!;
  const m = new SegmentationMetric();
  for (const c of make(600)) m.update(c);
  const point = m.aggregate().dice.micro;
  assert.ok(many.micro[0] <= point && point <= many.micro[1]);
  assert.ok(many.micro[1] - many.micro[0] < few.micro[1] - few.micro[0]);
  assert.deepEqual(bootstrapDice(make(12), { seed: 3 }), few);
  assert.equal(bootstrapDice(make(1)), null);
});
