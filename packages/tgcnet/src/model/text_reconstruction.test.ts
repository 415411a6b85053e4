import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { TextReconstructionHead, ngramTargets } from './text_reconstruction.js';

const SOT = 49406;
const EOT = 49407;
function row(body: number[]): number[] {
  return [SOT, ...body, EOT, ...new Array(12 - body.length - 2).fill(0)];
}

test('targets hold the unigrams and bigrams of the real tokens only', () => {
  T.tidy(() => {
    // "upper left ... lower right" vs "upper right ... lower left": the same words, other pairs.
    const [upper, left, lower, right, and] = [101, 102, 103, 104, 105];
    const a = row([upper, left, and, lower, right]);
    const b = row([upper, right, and, lower, left]);
    const ids = T.tensor([a, b, a], { dtype: 'int64' });
    const t = ngramTargets(ids, [6, 6, 6], 4096).toNumbers();
    const rowOf = (r: number) => t.slice(r * 4096, (r + 1) * 4096);
    const count = (r: number) => rowOf(r).reduce((s, v) => s + v, 0);
    assert.equal(count(0), 9, '5 unigrams + 4 bigrams (start/end markers and padding excluded)');
    assert.deepEqual(rowOf(0), rowOf(2), 'deterministic');
    const shared = rowOf(0).filter((v, i) => v === 1 && rowOf(1)[i] === 1).length;
    assert.equal(shared, 5 + 1, 'the unigrams agree and so does "and lower"; the three bigrams that pair a level with a side differ');
  });
});

test('the class-balanced loss starts at ln 2 and trains the text vector', () => {
  T.tidy(() => {
    T.manualSeed(0);
    const head = new TextReconstructionHead(8, 64);
    T.noGrad(() => {
      head.proj.weight.zero_();
      head.proj.bias!.zero_();
    });
    const text = T.randn([2, 8]).requiresGrad_(true);
    const ids = T.tensor([row([7, 8, 9]), row([9, 8])], { dtype: 'int64' });
    const loss = head.loss(text, ids, [4, 3]);
    assert.ok(Math.abs(loss.item() - Math.log(2)) < 1e-6, `${loss.item()}`);
    T.nn.init.normal_(head.proj.weight, 0, 0.1);
    head.loss(text, ids, [4, 3]).backward();
    assert.ok(text.grad!.abs().sum().item() > 0, 'gradient reaches the text vector');
    head.dispose();
  });
});
