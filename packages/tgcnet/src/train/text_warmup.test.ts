import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '@tgcnet/torch';
import { ClipTokenizer } from '../clip/tokenizer.js';
import type { CaseRecord } from '../data/types.js';
import { buildConfig } from '../model/config.js';
import { tokenizeBatch } from '../model/inputs.js';
import { TgcNet } from '../model/tgcnet.js';
import { defaultBpePath } from '../paths.js';
import { textWarmupUnusable, warmUpText } from './text_warmup.js';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;

const ZONES = ['upper left lung', 'lower left lung', 'upper right lung', 'lower right lung', 'middle left lung', 'middle right lung'];
/** Every pair of zones but two, which are held out. */
const HELD_OUT = ['Two infected areas, upper left lung and lower right lung.', 'Two infected areas, lower left lung and upper right lung.'];
const cases: CaseRecord[] = ZONES.flatMap((a, i) =>
  ZONES.slice(i + 1).map((b, j) => ({ id: `c${i}-${j}`, split: 'train', image: 'x.png', mask: 'x.png', text: `Two infected areas, ${a} and ${b}.`, aux: null }) as unknown as CaseRecord),
).filter((c) => !HELD_OUT.includes(c.text));

function snapshot(model: TgcNet): Map<string, number[]> {
  return new Map([...model.namedParameters()].map(([name, p]) => [name, p.toNumbers()]));
}

/** The reconstruction loss on prompts the warm-up never saw: how well the joint vector says which words it came from. */
function heldOutLoss(model: TgcNet, tokenizer: ClipTokenizer, prompts: string[]): number {
  return T.noGrad(() =>
    T.tidy(() => {
      const text = tokenizeBatch(tokenizer, prompts, 77);
      const pooled = model.date.forward(model.textFeatures(text), null, null).pooled;
      return model.text_reconstruction!.loss(pooled, text.ids, text.eot).item();
    }),
  );
}

test('the text warm-up trains the text side alone, apart from the image side, the same for a seed', { skip }, () => {
  const tokenizer = ClipTokenizer.fromPath(bpe!);
  const config = buildConfig('tiny', ['clipTrainable=true', 'objective.textWarmup=40']);
  const live = T.liveTensorCount();
  const runs = [0, 0, 1].map((seed) => {
    T.manualSeed(0);
    const model = new TgcNet(config).train();
    const before = snapshot(model);
    const unseen = HELD_OUT;
    assert.equal(cases.length, 13);
    const lossBefore = heldOutLoss(model, tokenizer, unseen);
    const result = warmUpText(model, cases, tokenizer, { steps: 40, batch: 8, lr: 3e-3, weightDecay: 0.01, seed });
    const after = snapshot(model);
    const lossAfter = heldOutLoss(model, tokenizer, unseen);
    const moved = [...after].filter(([name, v]) => v.some((x, i) => x !== before.get(name)![i])).map(([name]) => name);
    assert.ok(model.training, 'left in training mode');
    model.dispose();
    return { result, after, moved, lossBefore, lossAfter };
  });
  const [first, again, other] = runs;
  assert.ok(first.result.lastLoss < first.result.firstLoss * 0.7, `reconstruction loss ${first.result.firstLoss} -> ${first.result.lastLoss}`);
  const textSide = /^(clip_text|date|text_reconstruction)\./;
  assert.ok(first.moved.length > 0);
  assert.deepEqual(first.moved.filter((n) => !textSide.test(n)), [], 'nothing outside the text side moves');
  assert.ok(first.moved.some((n) => n.startsWith('clip_text.')) && first.moved.some((n) => n.startsWith('text_reconstruction.')));
  assert.ok(first.lossAfter < first.lossBefore * 0.7, `prompts it never saw are read too: loss ${first.lossBefore} -> ${first.lossAfter}`);
  assert.deepEqual([...again.after], [...first.after], 'the same seed gives the same weights');
  assert.notDeepEqual([...other.after], [...first.after], 'another seed draws other prompts');
  assert.equal(T.liveTensorCount(), live, 'no tensor outlives the warm-up');
});

test('the warm-up refuses a model it cannot help, naming why', () => {
  T.manualSeed(0);
  const frozen = new TgcNet(buildConfig('tiny'));
  assert.match(textWarmupUnusable(frozen) ?? '', /frozen/);
  assert.throws(() => warmUpText(frozen, cases, null as unknown as ClipTokenizer, { steps: 1, batch: 1, lr: 1e-3, weightDecay: 0, seed: 0 }), /text warm-up: the CLIP text tower is frozen.*objective.textWarmup=0/);
  frozen.dispose();
  const headless = new TgcNet(buildConfig('tiny', ['clipTrainable=true', 'objective.textReconstruction=0']));
  assert.match(textWarmupUnusable(headless) ?? '', /no text-reconstruction head/);
  headless.dispose();
  const textless = new TgcNet(buildConfig('tiny', ['clipTrainable=true', 'text=none']));
  assert.match(textWarmupUnusable(textless) ?? '', /reads no text \(text=none\)/);
  assert.match(textWarmupUnusable(textless, { pretrained: true }) ?? '', /text=none/);
  textless.dispose();
  const trainable = new TgcNet(buildConfig('tiny', ['clipTrainable=true']));
  assert.equal(textWarmupUnusable(trainable), null);
  assert.match(textWarmupUnusable(trainable, { pretrained: true }) ?? '', /pretrained/);
  trainable.dispose();
});
