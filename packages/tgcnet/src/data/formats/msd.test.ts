import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadImage, loadMask } from '../images.js';
import type { Split } from '../types.js';
import { validateDataset } from '../validate.js';
import { splitByCount } from './common.js';
import { MSD_CT_WINDOW, msd, msdPrompt } from './msd.js';
import { NIFTI_TYPES, tempDir, writeGarbage, writeNifti, writeText } from './testing.js';

const NX = 6;
const NY = 5;
const NZ = 4;

/** Label volume: spleen (1) in slices 1 and 2, left kidney (2) in slice 2 only; `extra` puts a value 3 in slice 3. */
function labels(extra = false): number[] {
  const v = new Array<number>(NX * NY * NZ).fill(0);
  const at = (x: number, y: number, z: number) => z * NX * NY + y * NX + x;
  v[at(1, 1, 1)] = 1;
  v[at(2, 1, 2)] = 1;
  v[at(4, 3, 2)] = 2;
  if (extra) v[at(0, 0, 3)] = 3;
  return v;
}

/** CT in HU: a ramp over x from -360 to 440, the same on every row and slice. */
function ct(): number[] {
  return Array.from({ length: NX * NY * NZ }, (_, i) => -360 + 160 * (i % NX));
}

describe('msd format', () => {
  const tmp = tempDir('msd');
  const root = join(tmp.dir, 'Task09_Spleen');
  const names = Array.from({ length: 10 }, (_, i) => `spleen_${i + 1}`);
  const good = names.slice(0, 6);

  before(() => {
    for (const n of good) {
      writeNifti(join(root, 'imagesTr', `${n}.nii.gz`), [NX, NY, NZ], NIFTI_TYPES.int16, ct());
      writeNifti(join(root, 'labelsTr', `${n}.nii.gz`), [NX, NY, NZ], NIFTI_TYPES.uint8, labels());
    }
    // Bad volumes: label missing, unreadable image, size mismatch, a label value with no name.
    writeNifti(join(root, 'imagesTr', 'spleen_7.nii.gz'), [NX, NY, NZ], NIFTI_TYPES.int16, ct());
    writeGarbage(join(root, 'imagesTr', 'spleen_8.nii.gz'));
    writeNifti(join(root, 'labelsTr', 'spleen_8.nii.gz'), [NX, NY, NZ], NIFTI_TYPES.uint8, labels());
    writeNifti(join(root, 'imagesTr', 'spleen_9.nii.gz'), [NX, NY, NZ], NIFTI_TYPES.int16, ct());
    writeNifti(join(root, 'labelsTr', 'spleen_9.nii.gz'), [NX, NY, NZ - 1], NIFTI_TYPES.uint8, labels().slice(0, NX * NY * (NZ - 1)));
    writeNifti(join(root, 'imagesTr', 'spleen_10.nii.gz'), [NX, NY, NZ], NIFTI_TYPES.int16, ct());
    writeNifti(join(root, 'labelsTr', 'spleen_10.nii.gz'), [NX, NY, NZ], NIFTI_TYPES.uint8, labels(true));
    writeText(
      join(root, 'dataset.json'),
      JSON.stringify({
        name: 'Spleen',
        description: 'Spleen Segmentation',
        modality: { '0': 'CT' },
        labels: { '0': 'background', '1': 'spleen', '2': 'left_kidney' },
        numTraining: names.length,
        training: names.map((n) => ({ image: `./imagesTr/${n}.nii.gz`, label: `./labelsTr/${n}.nii.gz` })),
        test: [],
      }),
    );
  });
  after(() => tmp.cleanup());

  it('is detected', () => {
    assert.equal(msd.detect(root), true);
    assert.equal(msd.detect(tmp.dir), false);
  });

  it('makes one case per (volume, slice, organ) where the organ is present, with the default prompt and window', async () => {
    const ds = await msd.read(root);
    assert.equal(ds.format, 'msd');
    const one = ds.cases.filter((c) => c.id.startsWith('spleen_1:'));
    assert.deepEqual(
      one.map((c) => c.id),
      ['spleen_1:1:1', 'spleen_1:2:1', 'spleen_1:2:2'],
    );
    const c = one[2];
    assert.equal(c.text, 'left kidney in an abdominal CT slice.');
    assert.equal(one[0].text, 'spleen in an abdominal CT slice.');
    assert.deepEqual(c.image, { kind: 'nifti-slice', path: join(root, 'imagesTr', 'spleen_1.nii.gz'), slice: 2, window: MSD_CT_WINDOW });
    assert.deepEqual(c.mask, { kind: 'nifti-slice', path: join(root, 'labelsTr', 'spleen_1.nii.gz'), slice: 2, label: 2 });
    const image = await loadImage(c.image);
    assert.equal(image.width, NX);
    assert.equal(image.height, NY);
    // -360, -200 -> 0; -40 -> 76.5 -> 77; 120 -> 178.5 -> 179; 280, 440 -> 255
    assert.deepEqual([...image.data.subarray(0, NX)], [0, 0, 77, 179, 255, 255]);
    const mask = await loadMask(c.mask!);
    assert.deepEqual([...mask.data].map((v, i) => (v ? i : -1)).filter((i) => i >= 0), [3 * NX + 4]);
    // spleen_10 holds a value 3 that dataset.json does not name: reported, and its named labels still read.
    assert.ok(ds.cases.some((x) => x.id === 'spleen_10:1:1'));
  });

  it('splits by volume, 70/10/20 by hash order, the same every time', async () => {
    const expected = splitByCount(names);
    assert.deepEqual(
      [...expected.values()].reduce((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {} as Record<string, number>),
      { train: 7, val: 1, test: 2 },
    );
    const all = await msd.read(root);
    for (const c of all.cases) assert.equal(c.split, expected.get(c.id.split(':')[0]), c.id);
    for (const s of ['train', 'val', 'test'] as Split[]) {
      const part = await msd.read(root, { splits: [s] });
      assert.ok(part.cases.every((c) => c.split === s));
      assert.deepEqual(
        part.cases.map((c) => c.id),
        all.cases.filter((c) => c.split === s).map((c) => c.id),
      );
    }
  });

  it('keeps a configurable fraction of organ-absent slices', async () => {
    const none = await msd.read(root, { emptyFraction: 0 });
    const every = await msd.read(root, { emptyFraction: 1 });
    const perVolume = (ds: typeof none) => ds.cases.filter((c) => c.id.startsWith('spleen_1:')).length;
    assert.equal(perVolume(none), 3);
    assert.equal(perVolume(every), NZ * 2);
    const absent = await loadMask(every.cases.find((c) => c.id === 'spleen_1:0:1')!.mask!);
    assert.equal(absent.data.reduce((a, b) => a + b, 0), 0);
    const half = await msd.read(root, { emptyFraction: 0.5 });
    const again = await msd.read(root, { emptyFraction: 0.5 });
    assert.deepEqual(half.cases.map((c) => c.id), again.cases.map((c) => c.id));
    assert.ok(half.cases.length >= none.cases.length && half.cases.length <= every.cases.length);
  });

  it('reports every bad volume together', async () => {
    const ds = await msd.read(root);
    const problems = await validateDataset(ds);
    const about = (id: string) => problems.filter((p) => p.where === id).map((p) => p.message).join(' | ');
    assert.match(about('spleen_7'), /label volume missing: .*spleen_7\.nii\.gz/);
    assert.match(about('spleen_8'), /cannot read image volume .*spleen_8\.nii\.gz/);
    assert.match(about('spleen_9'), /size mismatch: image .* is 6x5x4, label .* is 6x5x3/);
    assert.match(about('spleen_10'), /no text for label value 3/);
    assert.equal(problems.length, 4);
  });

  it('words prompts by region and modality', () => {
    assert.equal(msdPrompt('spleen', 'abdominal', 'CT'), 'spleen in an abdominal CT slice.');
    assert.equal(msdPrompt('left atrium', 'cardiac', 'MRI'), 'left atrium in a cardiac MRI slice.');
    assert.equal(msdPrompt('tumour', null, null), 'tumour in an axial slice.');
  });

  it('reads an nnU-Net style folder (no training list) and windows MRI by percentiles', async () => {
    const mr = join(tmp.dir, 'Dataset002_Heart');
    const values = Array.from({ length: NX * NY * NZ }, (_, i) => (i % NX) * 100);
    writeNifti(join(mr, 'imagesTr', 'la_003_0000.nii'), [NX, NY, NZ], NIFTI_TYPES.float32, values);
    writeNifti(join(mr, 'labelsTr', 'la_003.nii'), [NX, NY, NZ], NIFTI_TYPES.uint8, labels().map((v) => (v === 1 ? 1 : 0)));
    writeText(join(mr, 'dataset.json'), JSON.stringify({ name: 'Heart', channel_names: { '0': 'MRI' }, labels: { background: 0, left_atrium: 1 }, file_ending: '.nii' }));
    const ds = await msd.read(mr, { ratios: { train: 1, val: 0, test: 0 } });
    assert.deepEqual(ds.problems, []);
    assert.deepEqual(ds.cases.map((c) => c.id), ['la_003:1:1', 'la_003:2:1']);
    assert.equal(ds.cases[0].text, 'left atrium in a cardiac MRI slice.');
    const image = ds.cases[0].image;
    assert.equal(image.kind, 'nifti-slice');
    if (image.kind === 'nifti-slice') assert.deepEqual(image.window, [0, 500]);
  });
});
