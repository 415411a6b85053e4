// A uint8 0/1 mask volume as a NIfTI-1 single file with the geometry of the image it was
// computed from.
//
// Why the header is written here: nifti-reader-js reads headers well, and its
// NIFTI1.toArrayBuffer() does write one, but it writes its computed `affine` into srow_x/y/z.
// When qform_code > sform_code that affine comes from the quaternion, so a file whose stored
// sform differs from its qform would lose its sform on the way through. Copying the input's
// own 348 header bytes and changing only the fields that describe the stored values keeps
// every geometry field (dim, pixdim incl. qfac, qform/sform codes, quaternion, offsets, srow,
// xyzt_units, slice timing) bit for bit, whatever the reader would compute from them.
//
// Changed: dim[0] = 3 and dim[4..7] = 1 (predict and serve refuse 4-D inputs), datatype = 2
// (uint8), bitpix = 8, vox_offset = 352 (no extensions: the input's, if any, describe the
// image, not the mask), scl_slope = 1 / scl_inter = 0, cal_min = 0 / cal_max = 1, intent
// cleared, descrip, magic. Written in the input header's byte order (uint8 voxels have none).
// A NIfTI-2 input (540-byte header, 64-bit fields) gets a NIfTI-2 mask, the same way.
import type { NIFTI1, NIFTI2 } from 'nifti-reader-js';

const HEADER = 348;
const VOX_OFFSET = 352;

/** The bytes of a .nii file holding `mask` (x fastest, then y, then z) under `source`'s header. */
export function niftiMaskBytes(source: { bytes: Uint8Array; header: NIFTI1 | NIFTI2 }, mask: Uint8Array, path: string): Buffer {
  if (source.bytes.length === HEADER2) return nifti2MaskBytes(source.bytes, source.header.littleEndian, mask, path);
  if (source.bytes.length !== HEADER) throw new Error(`${path}: a NIfTI header of ${source.bytes.length} bytes (expected 348 or 540)`);
  const little = source.header.littleEndian;
  const out = Buffer.alloc(VOX_OFFSET + mask.length);
  out.set(source.bytes.subarray(0, HEADER), 0);
  const dv = new DataView(out.buffer, out.byteOffset, VOX_OFFSET);
  const ndim = dv.getInt16(40, little);
  const dims = [1, 2, 3].map((i) => (i <= ndim ? dv.getInt16(40 + 2 * i, little) : 1));
  const voxels = dims[0] * dims[1] * dims[2];
  if (voxels !== mask.length) throw new Error(`mask holds ${mask.length} voxels, ${path} is ${dims.join('x')} = ${voxels}`);
  dv.setInt16(40, Math.min(ndim, 3), little);
  for (let i = 4; i <= 7; i++) dv.setInt16(40 + 2 * i, 1, little);
  dv.setFloat32(56, 0, little); // intent_p1..p3 and intent_code: a mask is no statistic
  dv.setFloat32(60, 0, little);
  dv.setFloat32(64, 0, little);
  dv.setInt16(68, 0, little);
  dv.setInt16(70, 2, little); // datatype: uint8
  dv.setInt16(72, 8, little); // bitpix
  dv.setFloat32(108, VOX_OFFSET, little);
  dv.setFloat32(112, 1, little); // scl_slope
  dv.setFloat32(116, 0, little); // scl_inter
  dv.setFloat32(124, 1, little); // cal_max
  dv.setFloat32(128, 0, little); // cal_min
  out.fill(0, 148, 228); // descrip[80]
  out.write('tgcnet mask (0/1)', 148, 'latin1');
  out.fill(0, 328, 344); // intent_name[16]
  out.write('n+1\0', 344, 'latin1');
  out.fill(0, HEADER, VOX_OFFSET); // extension flag: none
  out.set(mask, VOX_OFFSET);
  return out;
}

const HEADER2 = 540;
const VOX_OFFSET2 = 544;

/** NIfTI-2: the same fields as above at their NIfTI-2 offsets (int64 dims and offset, double scalings). */
function nifti2MaskBytes(header: Uint8Array, little: boolean, mask: Uint8Array, path: string): Buffer {
  const out = Buffer.alloc(VOX_OFFSET2 + mask.length);
  out.set(header.subarray(0, HEADER2), 0);
  const dv = new DataView(out.buffer, out.byteOffset, VOX_OFFSET2);
  const dim = (i: number) => Number(dv.getBigInt64(16 + 8 * i, little));
  const ndim = dim(0);
  const dims = [1, 2, 3].map((i) => (i <= ndim ? dim(i) : 1));
  const voxels = dims[0] * dims[1] * dims[2];
  if (voxels !== mask.length) throw new Error(`mask holds ${mask.length} voxels, ${path} is ${dims.join('x')} = ${voxels}`);
  dv.setBigInt64(16, BigInt(Math.min(ndim, 3)), little);
  for (let i = 4; i <= 7; i++) dv.setBigInt64(16 + 8 * i, 1n, little);
  dv.setInt16(12, 2, little); // datatype: uint8
  dv.setInt16(14, 8, little); // bitpix
  for (const at of [80, 88, 96]) dv.setFloat64(at, 0, little); // intent_p1..p3
  dv.setBigInt64(168, BigInt(VOX_OFFSET2), little);
  dv.setFloat64(176, 1, little); // scl_slope
  dv.setFloat64(184, 0, little); // scl_inter
  dv.setFloat64(192, 1, little); // cal_max
  dv.setFloat64(200, 0, little); // cal_min
  out.fill(0, 240, 320); // descrip[80]
  out.write('tgcnet mask (0/1)', 240, 'latin1');
  dv.setInt32(504, 0, little); // intent_code
  out.fill(0, 508, 524); // intent_name[16]
  out.fill(0, HEADER2, VOX_OFFSET2); // extension flag: none
  out.set(mask, VOX_OFFSET2);
  return out;
}
