// The project's central claim in small: after a short training on synthetic radiographs, one
// image under prompts naming different zones gives different masks, each on its own zone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as T from '@tgcnet/torch';
import { loadImage } from '../data/images.js';
import { describeZones } from '../data/synth.js';
import { SYNTH_STYLES, synthCaseSeed, writeSynthDataset } from '../data/synth_dataset.js';
import { segment } from '../infer/segment.js';
import { defaultBpePath } from '../paths.js';
import { loadRun } from '../run/checkpoint.js';
import { train } from './train.js';

const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-reading-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    sum += a[i] + b[i];
  }
  return sum === 0 ? 1 : (2 * inter) / sum;
}

test('prompts naming different zones of one image give different masks, each on its zone', { skip }, async (t) => {
  const SEED = 3;
  const SIZE = 64;
  const data = join(dir, 'data');
  await writeSynthDataset({ out: data, n: 800, seed: SEED, size: SIZE });
  await train({ data, preset: 'tiny', out: join(dir, 'run'), epochs: 8, batch: 8, lr: 3e-3, seed: 0, patience: 0, augment: false, quiet: true, threads: 1 });
  const run = loadRun(join(dir, 'run'));
  try {
    let own = 0;
    let other = 0;
    let between = 0;
    let images = 0;
    // Test cases (the last 20%) with lesions in two or more zones: one prompt per lesion zone.
    for (let index = 640; index < 800 && images < 12; index++) {
      const c = SYNTH_STYLES.lvit.draw(synthCaseSeed(SEED, index), SIZE);
      if (c.opacityZones.length < 2) continue;
      const image = await loadImage({ kind: 'file', path: join(data, 'Test_Folder', 'img', `synth_${String(index).padStart(5, '0')}.png`) });
      const truths = c.opacityZones.slice(0, 2).map((_, z) => Uint8Array.from(c.zoneOf, (v) => (v === z ? 1 : 0)));
      const masks = [];
      for (const zone of c.opacityZones.slice(0, 2)) masks.push((await segment(run, image, describeZones([zone]))).mask);
      own += (dice(masks[0], truths[0]) + dice(masks[1], truths[1])) / 2;
      other += (dice(masks[0], truths[1]) + dice(masks[1], truths[0])) / 2;
      between += dice(masks[0], masks[1]);
      images++;
    }
    assert.ok(images >= 8, `${images} probe images`);
    [own, other, between] = [own / images, other / images, between / images];
    t.diagnostic(`${images} images: Dice with the named zone ${own.toFixed(3)}, with the other ${other.toFixed(3)}, between the two masks ${between.toFixed(3)}`);
    // Each prompt's mask lies on the zone it names, not on the other lesion in the same image.
    assert.ok(own > 0.5, `Dice with the named zone ${own.toFixed(3)}`);
    assert.ok(other < 0.15, `Dice with the other zone ${other.toFixed(3)}`);
    assert.ok(between < 0.2, `Dice between the two prompts' masks ${between.toFixed(3)}`);
  } finally {
    run.model.dispose();
  }
  assert.equal(T.memory().tensors, 0);
});
