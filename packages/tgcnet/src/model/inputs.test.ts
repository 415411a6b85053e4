import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { ClipTokenizer } from '../clip/tokenizer.js';
import type { LoadedCase } from '../data/loader.js';
import { defaultBpePath } from '../paths.js';
import { buildConfig } from './config.js';
import { collate, composeTexts, textInputs } from './inputs.js';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;

function loaded(id: string, side: number, vitSide: number, negatives?: string[]): LoadedCase {
  const pixels = new Uint8Array(side * side).fill(100);
  const mask = new Uint8Array(side * side).fill(1);
  return {
    record: { id, split: 'train', image: { kind: 'file', path: `${id}.png` }, mask: null, text: `own prompt of ${id}.`, aux: null, negatives: negatives?.map((prompt) => ({ prompt, aux: null })) },
    cnn: pixels,
    vit: new Uint8Array(vitSide * vitSide).fill(100),
    mask,
    original: { width: side, height: side, spacing: null, image: null, mask: null },
  };
}

test('a case asking a negative prompt gets that prompt and an empty target; others keep theirs; seeded', { skip }, () => {
  const config = buildConfig('tiny');
  const tokenizer = ClipTokenizer.fromPath(bpe!);
  const side = config.cnnInput;
  const cases = [loaded('a', side, config.vitInput, ['upper left lung.', 'lower right lung.']), loaded('b', side, config.vitInput)];
  const batch = (rate: number, seed: number) =>
    T.tidy(() => {
      const mb = collate(cases, { config, tokenizer, augment: null, seed, negativeRate: rate });
      const sums = Array.from(mb.masks!.sum([1, 2, 3]).toArray() as Float32Array);
      return { texts: mb.texts, sums };
    });
  const never = batch(0, 1);
  assert.deepEqual(never.texts, ['own prompt of a.', 'own prompt of b.']);
  assert.deepEqual(never.sums, [side * side, side * side]);
  const always = batch(1, 1);
  assert.ok(['upper left lung.', 'lower right lung.'].includes(always.texts[0]), always.texts[0]);
  assert.deepEqual(always.sums, [0, side * side], 'the negative prompt\'s target is empty; a case without negatives keeps its own');
  assert.equal(always.texts[1], 'own prompt of b.');
  // Half the steps, roughly, at rate 0.5; the same step draws the same way again.
  const drawn = Array.from({ length: 200 }, (_, s) => batch(0.5, s).sums[0] === 0);
  const share = drawn.filter(Boolean).length / drawn.length;
  assert.ok(share > 0.35 && share < 0.65, `share ${share}`);
  assert.deepEqual(batch(0.5, 17), batch(0.5, 17));
  assert.equal(T.memory().tensors, 0);
});

test('composeTexts: a flip swaps sides in prompt and aux, the text mode composes, and textInputs tokenizes aux only where a case has one', { skip }, () => {
  const tokenizer = ClipTokenizer.fromPath(bpe!);
  const items = [
    { text: { prompt: 'upper left lung.', aux: 'left upper zone.' }, transform: { flip: true, seed: 1 } },
    { text: { prompt: 'lower right lung.', aux: null }, transform: { flip: false, seed: 2 } },
  ];
  const injected = composeTexts({ ...buildConfig('tiny'), text: 'aux-injection' }, items);
  assert.deepEqual(injected, { texts: ['upper right lung.', 'lower right lung.'], auxTexts: ['right upper zone.', ''], auxPresent: [true, false] });
  const joined = composeTexts({ ...buildConfig('tiny'), text: 'llm-expanded' }, items);
  assert.deepEqual(joined, { texts: ['upper right lung. right upper zone.', 'lower right lung.'], auxTexts: ['', ''], auxPresent: [false, false] });
  assert.deepEqual(composeTexts({ ...buildConfig('tiny'), text: 'none' }, items).texts, ['', '']);
  T.tidy(() => {
    const withAux = textInputs(tokenizer, injected);
    assert.deepEqual(withAux.auxPresent, [true, false]);
    assert.equal(withAux.aux!.ids.shape[0], 2);
    assert.deepEqual(withAux.text.keys, injected.texts);
    const without = textInputs(tokenizer, joined);
    assert.equal(without.aux, null);
    assert.equal(without.auxPresent, null);
  });
  // collate composes through the same function: its texts are composeTexts' for the same draws.
  const config = { ...buildConfig('tiny'), text: 'aux-injection' as const };
  const cases = [loaded('a', config.cnnInput, config.vitInput), loaded('b', config.cnnInput, config.vitInput)];
  const viaCollate = T.tidy(() => collate(cases, { config, tokenizer, augment: null, seed: 3, promptAugment: 1 }).texts);
  const direct = composeTexts(config, cases.map((c, i) => ({ text: { prompt: c.record.text, aux: c.record.aux }, transform: { flip: false, promptAugment: 1, seed: 3 * 7919 + i * 104_729 + 17 } })));
  assert.deepEqual(viaCollate, direct.texts);
});
