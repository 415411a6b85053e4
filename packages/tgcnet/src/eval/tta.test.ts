// Flip test-time augmentation: the probability is the mean of the image's own and of its
// mirror image's under the prompt with left and right swapped, mirrored back. Checked
// against two plain evaluations, one of them on mirrored files written here.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { openDataset } from '../data/detect.js';
import { tempDir, writePng } from '../data/formats/testing.js';
import { loadImage } from '../data/images.js';
import { swapLeftRight } from '../data/text_flip.js';
import type { CaseRecord } from '../data/types.js';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { writeTinyRun } from '../infer/testing.js';
import { defaultBpePath } from '../paths.js';
import { loadRun } from '../run/checkpoint.js';
import { evaluateCases, meanOfProbabilities } from './evaluate.js';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const { dir, cleanup } = tempDir('tta');
after(cleanup);

function mirror(data: ArrayLike<number>, width: number, height: number): number[] {
  return Array.from({ length: width * height }, (_, i) => data[Math.floor(i / width) * width + (width - 1 - (i % width))]);
}

test("--tta flip averages the image's probabilities with its mirror image's under the swapped prompt", { skip }, async () => {
  writeTinyRun(join(dir, 'run'), bpe!);
  const live = T.liveTensorCount();
  const run = loadRun(join(dir, 'run'));
  // The tiny preset's CNN input (64 px): the logits come out at the files' size, so the mean
  // is compared before any resampling.
  const data = join(dir, 'synth');
  await writeSynthDataset({ out: data, n: 12, seed: 4, size: run.run.model.cnnInput });
  const cases = (await openDataset(data)).cases.filter((c) => c.split === 'test');
  assert.ok(cases.length >= 2 && cases.some((c) => swapLeftRight(c.text) !== c.text), 'test cases whose prompts name a side');
  const mirrored: CaseRecord[] = [];
  for (const c of cases) {
    const image = await loadImage(c.image);
    const path = join(dir, 'mirrored', `${c.id}.png`);
    await writePng(path, image.width, image.height, mirror(image.data, image.width, image.height));
    mirrored.push({ ...c, image: { kind: 'file', path }, mask: null, text: swapLeftRight(c.text), aux: c.aux === null ? null : swapLeftRight(c.aux) });
  }
  const probabilities = async (records: CaseRecord[], tta: 'flip' | null) => {
    const out = new Map<string, { p: Float32Array; width: number; height: number }>();
    await evaluateCases(run.model, records, {
      config: run.run.model,
      tokenizer: run.tokenizer,
      batch: 4,
      atOriginalSize: true,
      probabilities: true,
      tta,
      onPrediction: (c, _mask, width, height, _mean, p) => out.set(c.record.id, { p: p!, width, height }),
    });
    return out;
  };
  try {
    const plain = await probabilities(cases, null);
    const ofMirror = await probabilities(mirrored, null);
    const averaged = await probabilities(cases, 'flip');
    let largest = 0;
    let moved = 0;
    for (const c of cases) {
      const { p, width, height } = plain.get(c.id)!;
      const back = mirror(ofMirror.get(c.id)!.p, width, height);
      const got = averaged.get(c.id)!.p;
      for (let i = 0; i < p.length; i++) {
        largest = Math.max(largest, Math.abs(got[i] - (p[i] + back[i]) / 2));
        moved = Math.max(moved, Math.abs(got[i] - p[i]));
      }
    }
    assert.ok(largest < 1e-5, `largest difference from the mean of the two ${largest}`);
    assert.ok(moved > 0.05, `the mirror changes the probabilities (largest change ${moved}), so the test can tell`);
  } finally {
    run.model.dispose();
  }
  // The model owns what it caches (the frozen text tower's features per prompt) until disposed.
  assert.equal(T.liveTensorCount(), live, 'no tensor outlives the model');
});

test('the mean is of probabilities, not of logits, and stays finite where both agree on 0 or 1', () => {
  T.tidy(() => {
    const got = meanOfProbabilities(T.tensor([4, 0, 200, -200]), T.tensor([0, 0, 200, -200])).toNumbers();
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const p = (sigmoid(4) + sigmoid(0)) / 2;
    assert.ok(Math.abs(got[0] - Math.log(p / (1 - p))) < 1e-5, `${got[0]} (the mean of the logits would be 2)`);
    assert.equal(got[1], 0);
    assert.ok(Number.isFinite(got[2]) && got[2] > 15 && Number.isFinite(got[3]) && got[3] < -15, `${got[2]}, ${got[3]}`);
  });
});
