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
  assert.match(m.toCsv(), /^id,dice,iou,intersection,predicted,actual\nbig,1.000000,1.000000,4,4,4\n/);
  assert.throws(() => countCase('x', [1], [1, 0]), /prediction has 1 pixels, ground truth 2/);
});
