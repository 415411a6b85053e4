// NIfTI as nibabel writes it (test/fixtures/nifti, scripts/make-nifti-fixtures.py): a NIfTI-2
// volume gets a NIfTI-2 mask with its geometry; a 4-D series is refused with its shape named.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import * as nifti from 'nifti-reader-js';
import { predict } from '../cli/predict.js';
import { tempDir } from '../data/formats/testing.js';
import { decodeNifti } from '../data/images.js';
import { defaultBpePath } from '../paths.js';
import { loadRun } from '../run/checkpoint.js';
import { writeTinyRun } from './testing.js';
import { segmentVolume } from './volume.js';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;
const { dir, cleanup } = tempDir('nifti-inputs');
const fixtures = new URL('../../test/fixtures/nifti/', import.meta.url);
const fixture = (name: string) => new URL(name, fixtures).pathname;
const reference = JSON.parse(readFileSync(fixture('reference.json'), 'utf8')) as {
  ct_nifti2: { shape: number[]; sform: number[][]; qform: number[][]; sform_code: number; qform_code: number };
  series_4d: { shape: number[] };
};
const TEXT = 'liver in an abdominal CT slice.';

before(() => {
  if (!skip) writeTinyRun(join(dir, 'run'), bpe!);
});
after(cleanup);

test('a NIfTI-2 volume gives a NIfTI-2 mask with the geometry nibabel wrote, voxel for voxel segmentVolume', { skip }, async () => {
  const out = join(dir, 'mask.nii.gz');
  await predict({ checkpoint: join(dir, 'run'), image: fixture('ct_nifti2.nii.gz'), text: TEXT, out });
  const bytes = gunzipSync(readFileSync(out));
  assert.equal(bytes.readInt32LE(0), 540, 'NIfTI-2 in, NIfTI-2 out');
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  const h = nifti.readHeader(ab) as nifti.NIFTI2;
  assert.deepEqual(h.dims.slice(0, 4), [3, ...reference.ct_nifti2.shape]);
  assert.equal(h.datatypeCode, 2);
  assert.equal(h.sform_code, reference.ct_nifti2.sform_code);
  assert.equal(h.qform_code, reference.ct_nifti2.qform_code);
  assert.deepEqual(h.affine.slice(0, 3), reference.ct_nifti2.sform.slice(0, 3), 'the sform nibabel wrote');
  const run = loadRun(join(dir, 'run'));
  try {
    const expected = await segmentVolume(run, await decodeNifti(fixture('ct_nifti2.nii.gz')), [-160, 240], TEXT, null);
    assert.deepEqual(Array.from(bytes.subarray(544)), Array.from(expected.mask));
  } finally {
    run.model.dispose();
  }
});

test('a 4-D series is refused with its shape named, not cut to its first volume', { skip }, async () => {
  const summary = await predict({ checkpoint: join(dir, 'run'), image: fixture('series_4d.nii.gz'), text: TEXT, out: join(dir, 'm4.nii.gz') }).catch((e: Error) => e);
  const message = summary instanceof Error ? summary.message : JSON.stringify(summary);
  assert.match(message, new RegExp(`4-D volume \\(${reference.series_4d.shape.join('x')}\\): pass one 3-D volume`));
});
