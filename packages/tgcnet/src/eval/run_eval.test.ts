// eval on volumes: organ-absent slices are left out unless --include-empty-slices, and then
// count (their false positives show as "ground truth only" cases); spacing comes from pixdim.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NIFTI_TYPES, tempDir, writeNifti, writeText } from '../data/formats/testing.js';
import { writeTinyRun } from '../infer/testing.js';
import { defaultBpePath } from '../paths.js';
import { evaluateRun } from './run_eval.js';
import { loadImage } from '../data/images.js';
import { readNegativePrompts } from '../data/negative_prompts.js';
import { writeSynthDataset } from '../data/synth_dataset.js';
import { segment } from '../infer/segment.js';
import { loadRun } from '../run/checkpoint.js';
import * as T from '@tgcnet/torch';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const { dir, cleanup } = tempDir('run-eval');
const [NX, NY, NZ] = [24, 20, 5];

before(() => {
  if (skip) return;
  writeTinyRun(join(dir, 'run'), bpe!);
  const root = join(dir, 'Task09_Spleen');
  writeText(join(root, 'dataset.json'), JSON.stringify({ name: 'Spleen', modality: { '0': 'CT' }, labels: { '0': 'background', '1': 'spleen' } }));
  for (let v = 0; v < 5; v++) {
    const ct = Array.from({ length: NX * NY * NZ }, (_, i) => -300 + ((i * 37) % 600));
    // The organ in slices 1 and 2 only.
    const label = Array.from({ length: NX * NY * NZ }, (_, i) => {
      const z = Math.floor(i / (NX * NY));
      const x = i % NX;
      const y = Math.floor(i / NX) % NY;
      return (z === 1 || z === 2) && (x - 10) ** 2 + (y - 9) ** 2 < 20 ? 1 : 0;
    });
    writeNifti(join(root, 'imagesTr', `spleen_${v}.nii.gz`), [NX, NY, NZ], NIFTI_TYPES.int16, ct, { pixdim: [1, 0.75, 0.75, 2, 1, 1, 1, 1] });
    writeNifti(join(root, 'labelsTr', `spleen_${v}.nii.gz`), [NX, NY, NZ], NIFTI_TYPES.uint8, label, { pixdim: [1, 0.75, 0.75, 2, 1, 1, 1, 1] });
  }
});
after(cleanup);

test('--include-empty-slices scores organ-absent slices too; distances are in mm from pixdim', { skip }, async () => {
  const data = join(dir, 'Task09_Spleen');
  const organOnly = await evaluateRun({ checkpoint: join(dir, 'run'), data, split: 'train' });
  const all = await evaluateRun({ checkpoint: join(dir, 'run'), data, split: 'train', includeEmptySlices: true });
  assert.equal(all.cases, (organOnly.cases / 2) * NZ, 'every slice of each volume, not only the two with the organ');
  assert.equal(organOnly.empty.both + organOnly.empty.truthOnly, 0, 'without the flag, every case has the organ');
  assert.equal(all.empty.both + all.empty.truthOnly, all.cases - organOnly.cases, 'the added slices have an empty ground truth');
  assert.equal(all.surface.spacing, 'mm (from the files)');
});

test('each case is asked its first negative prompt: the areas marked are those segment() gives for it', { skip }, async () => {
  const data = join(dir, 'synth');
  await writeSynthDataset({ out: data, n: 15, seed: 2, size: 32 });
  const result = await evaluateRun({ checkpoint: join(dir, 'run'), data, split: 'test' });
  const negatives = readNegativePrompts(data)!.byId;
  const run = loadRun(join(dir, 'run'));
  let area = 0;
  let empty = 0;
  // The test split is the dataset's last cases.
  const ids = [...negatives.keys()].slice(-result.cases);
  assert.ok(ids.length >= 2);
  try {
    for (const id of ids) {
      const image = await loadImage({ kind: 'file', path: join(data, 'Test_Folder', 'img', `${id}.png`) });
      const marked = (await segment(run, image, negatives.get(id)![0])).mask.reduce((a, v) => a + (v ? 1 : 0), 0);
      area += marked;
      if (marked === 0) empty++;
    }
  } finally {
    run.model.dispose();
  }
  assert.ok(area > 0, 'the random model marks something: the comparison is not 0 = 0');
  assert.equal(result.negativePrompts?.cases, ids.length);
  assert.equal(result.negativePrompts?.meanArea, area / ids.length);
  assert.equal(result.negativePrompts?.emptyFraction, empty / ids.length);
  assert.equal(T.memory().tensors, 0);
  // No file, no figure.
  const plain = await evaluateRun({ checkpoint: join(dir, 'run'), data: join(dir, 'Task09_Spleen'), split: 'train' });
  assert.equal(plain.negativePrompts, undefined);
});
