import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as nifti from 'nifti-reader-js';
import { type NiftiOptions, NIFTI_TYPES, tempDir, writeNifti } from './formats/testing.js';
import { readNiftiHeaderBlock } from './images.js';
import { niftiMaskBytes } from './nifti_mask.js';

const { dir, cleanup } = tempDir('nifti-mask');
after(cleanup);

/** A geometry where qform and sform disagree, so a writer that recomputes srow from the quaternion would be caught. */
const GEOMETRY: NiftiOptions = {
  pixdim: [-1, 0.8, 0.7, 2.5, 1, 0, 0, 0],
  qform: { code: 2, b: 0, c: 0.2, d: 0.1, x: -10, y: 20.5, z: 3 },
  sform: { code: 1, rows: [[0, -0.8, 0, 12], [0.7, 0, 0.1, -4], [0, 0, 2.5, 7.25]] },
  xyztUnits: 2 + 8,
};

function parse(bytes: Uint8Array): nifti.NIFTI1 {
  const ab = new Uint8Array(bytes).buffer;
  return nifti.readHeader(ab) as nifti.NIFTI1;
}

for (const littleEndian of [true, false]) {
  test(`a mask keeps every geometry field of its ${littleEndian ? 'little' : 'big'}-endian source header`, async () => {
    const path = join(dir, `v${littleEndian}.nii.gz`);
    const dims = [4, 3, 2];
    writeNifti(path, dims, NIFTI_TYPES.int16, Array.from({ length: 24 }, (_, i) => i * 10 - 100), { ...GEOMETRY, littleEndian, slope: 2, inter: -5 });
    const source = await readNiftiHeaderBlock(path);
    const mask = Uint8Array.from({ length: 24 }, (_, i) => i % 3 === 0 ? 1 : 0);
    const out = niftiMaskBytes(source, mask, path);
    assert.equal(out.length, 352 + 24);
    const a = source.header as nifti.NIFTI1;
    const b = parse(out);
    for (const k of ['dims', 'pixDims', 'qform_code', 'sform_code', 'quatern_b', 'quatern_c', 'quatern_d', 'qoffset_x', 'qoffset_y', 'qoffset_z', 'affine', 'xyzt_units', 'littleEndian'] as const) {
      assert.deepEqual(b[k], a[k], k);
    }
    assert.deepEqual(Buffer.from(out.subarray(280, 328)), Buffer.from(source.bytes.subarray(280, 328)), 'srow_x/y/z byte for byte');
    assert.equal(b.datatypeCode, 2);
    assert.equal(b.numBitsPerVoxel, 8);
    assert.equal(b.vox_offset, 352);
    assert.equal(b.scl_slope, 1);
    assert.equal(b.scl_inter, 0);
    assert.deepEqual(Array.from(new Uint8Array(nifti.readImage(b, new Uint8Array(out).buffer))), Array.from(mask));
  });
}

test('a 4-D source gives a 3-D mask; a wrong voxel count is refused', async () => {
  const path = join(dir, 'v4.nii');
  writeNifti(path, [2, 2, 1, 3], NIFTI_TYPES.uint8, new Array(12).fill(1));
  const source = await readNiftiHeaderBlock(path);
  const b = parse(niftiMaskBytes(source, new Uint8Array(4), path));
  assert.deepEqual(b.dims, [3, 2, 2, 1, 1, 1, 1, 1]);
  assert.throws(() => niftiMaskBytes(source, new Uint8Array(5), path), /mask holds 5 voxels, .*v4\.nii is 2x2x1 = 4/);
  // A NIfTI-2 header is written as NIfTI-2 (infer/nifti_inputs.test.ts); its voxel count is checked the same way.
  assert.throws(() => niftiMaskBytes({ bytes: new Uint8Array(540), header: source.header }, new Uint8Array(4), path), /mask holds 4 voxels/);
  assert.throws(() => niftiMaskBytes({ bytes: new Uint8Array(100), header: source.header }, new Uint8Array(4), path), /a NIfTI header of 100 bytes/);
});
