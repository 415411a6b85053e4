import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type DicomFixture, dicomBytes } from './dicom_testing.js';
import { tempDir } from './formats/testing.js';
import { dicomStoredValues } from './dicom.js';
import { imageFileSize, loadImage } from './images.js';

const { dir, cleanup } = tempDir('dicom');
after(cleanup);

let n = 0;
function writeDicom(f: DicomFixture | Buffer): string {
  const path = join(dir, `case${n++}.dcm`);
  writeFileSync(path, Buffer.isBuffer(f) ? f : dicomBytes(f));
  return path;
}

async function grey(f: DicomFixture): Promise<number[]> {
  const img = await loadImage({ kind: 'file', path: writeDicom(f) });
  assert.equal(img.width, f.columns);
  assert.equal(img.height, f.rows);
  return Array.from(img.data);
}

test('8-bit MONOCHROME2 without a window: min..max to 0..255', async () => {
  // (v - 10) / 100 * 255: 0, 25.5 -> 26, 51, 255
  assert.deepEqual(await grey({ rows: 2, columns: 2, bitsAllocated: 8, pixels: [10, 20, 30, 110] }), [0, 26, 51, 255]);
});

test('MONOCHROME1 is inverted (low values are white)', async () => {
  assert.deepEqual(await grey({ rows: 2, columns: 2, bitsAllocated: 8, photometric: 'MONOCHROME1', pixels: [10, 20, 30, 110] }), [255, 229, 204, 0]);
});

test('16-bit unsigned values above 255 are scaled, not clipped', async () => {
  // 1000 * 255 / 65535 = 3.89 -> 4; 32768 * 255 / 65535 = 127.502 -> 128
  assert.deepEqual(await grey({ rows: 1, columns: 4, pixels: [0, 1000, 65535, 32768] }), [0, 4, 255, 128]);
});

test('signed 16-bit, rescale slope/intercept, then the first window center/width', async () => {
  // real = 2 * stored - 1000: -1200, -160, 40, 200, 400, 1000 (HU)
  // window 40/400 (the second, 100/50, is ignored): 0 at <= -160, 255 above 239,
  // else ((x - 39.5) / 399 + 0.5) * 255: 40 -> 127.82 -> 128, 200 -> 230.08 -> 230
  const pixels = [-100, 420, 520, 600, 700, 1000];
  const f: DicomFixture = { rows: 2, columns: 3, pixels, pixelRepresentation: 1, slope: 2, intercept: -1000, center: '40\\100', width: '400\\50' };
  assert.deepEqual(await grey(f), [0, 0, 128, 230, 255, 255]);
});

test('12 bits stored in 16 allocated, sign-extended', async () => {
  // stored 0xFFF with 12 bits signed is -1; 0x7FF is 2047; min..max over [-1, 0, 2047, 1023]
  const values = await grey({ rows: 1, columns: 4, bitsStored: 12, pixelRepresentation: 1, pixels: [0xfff, 0, 0x7ff, 1023] });
  assert.deepEqual(values, [0, 0, 255, Math.round((1024 * 255) / 2048)]);
});

test('imageFileSize reads rows and columns', async () => {
  assert.deepEqual(await imageFileSize(writeDicom({ rows: 3, columns: 5, bitsAllocated: 8, pixels: new Array(15).fill(1) })), { width: 5, height: 3 });
});

test('unsupported and corrupt files are refused with the file and what to do', async () => {
  const jpeg = writeDicom({ rows: 2, columns: 2, bitsAllocated: 8, pixels: [1, 2, 3, 4], transferSyntax: '1.2.840.10008.1.2.4.57' });
  await assert.rejects(loadImage({ kind: 'file', path: jpeg }), (err: Error) => {
    assert.ok(err.message.includes(jpeg), err.message);
    assert.match(err.message, /JPEG lossless-compressed \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.57\).*gdcmconv --raw/);
    return true;
  });
  const multi = writeDicom({ rows: 2, columns: 2, bitsAllocated: 8, frames: 2, pixels: [1, 2, 3, 4, 5, 6, 7, 8] });
  await assert.rejects(loadImage({ kind: 'file', path: multi }), /multi-frame DICOM \(2 frames\) is not supported/);
  const noLut = writeDicom({ rows: 1, columns: 1, bitsAllocated: 8, photometric: 'PALETTE COLOR', pixels: [1] });
  await assert.rejects(loadImage({ kind: 'file', path: noLut }), /palette colour without its lookup tables/);
  const rgb = await loadImage({ kind: 'file', path: writeDicom({ rows: 1, columns: 2, bitsAllocated: 8, photometric: 'RGB', samplesPerPixel: 3, pixels: [255, 0, 0, 0, 0, 255] }) });
  assert.match(rgb.notes!.join(), /luma/, 'colour is read as grey, and said');
  const whole = dicomBytes({ rows: 8, columns: 8, pixels: new Array(64).fill(7) });
  const truncated = writeDicom(whole.subarray(0, whole.length - 40));
  await assert.rejects(loadImage({ kind: 'file', path: truncated }), (err: Error) => {
    assert.ok(err.message.includes(truncated), err.message);
    assert.match(err.message, /truncated|corrupt/i);
    return true;
  });
  const garbage = writeDicom(Buffer.from('this is not a DICOM file at all'));
  await assert.rejects(loadImage({ kind: 'file', path: garbage }), /not a DICOM file/);
  const cut = writeDicom(whole.subarray(0, 150)); // ends inside the file meta group
  await assert.rejects(loadImage({ kind: 'file', path: cut }), (err: Error) => {
    assert.ok(err.message.startsWith(`cannot read image ${cut}: `), err.message);
    assert.match(err.message, /corrupt DICOM/);
    return true;
  });
});

test('Pixel Spacing (row\\column) becomes the image spacing [x, y], in mm; absent, none', async () => {
  const spaced = await loadImage({ kind: 'file', path: writeDicom({ rows: 2, columns: 2, bitsAllocated: 8, pixels: [0, 1, 2, 3], pixelSpacing: '0.5\\0.25' }) });
  assert.deepEqual(spaced.spacing, [0.25, 0.5]);
  const plain = await loadImage({ kind: 'file', path: writeDicom({ rows: 2, columns: 2, bitsAllocated: 8, pixels: [0, 1, 2, 3] }) });
  assert.equal(plain.spacing, undefined);
});

test('PALETTE COLOR: each index through the red, green and blue tables, then luma; below the first mapped value, the first entry', async () => {
  // Indices 10, 11, 12 map to black, pure red, white; index 3 is below the first mapped value (10).
  const palette = { first: 10, red: [0, 65535, 65535], green: [0, 0, 65535], blue: [0, 0, 65535] };
  const values = await dicomStoredValues(dicomBytes({ rows: 1, columns: 4, bitsAllocated: 8, photometric: 'PALETTE COLOR', pixels: [10, 11, 12, 3], palette }));
  assert.deepEqual(Array.from(values.values), [0, 0.299 * 65535, 0.299 * 65535 + 0.587 * 65535 + 0.114 * 65535, 0]);
  assert.match(values.notes.join(), /palette colour image/);
});
