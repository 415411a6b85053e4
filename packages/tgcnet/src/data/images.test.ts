import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { NIFTI_TYPES, niftiBytes, tempDir, writeGarbage, writeNifti, writePng } from './formats/testing.js';
import { clearVolumeCache, correctedSharpError, decodeBmp, describeError, decodeNifti, getVolume, setVolumeLimits, imageFileSize, loadImage, loadMask, readNiftiHeader, setVolumeCacheSize } from './images.js';

const tmp = tempDir('images');
after(() => tmp.cleanup());
const file = (name: string) => join(tmp.dir, name);

/** A bottom-up 24-bit BMP from RGB rows (top row first). */
function bmp24(width: number, height: number, rgb: number[]): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + stride * height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      buf[row + x * 3] = rgb[i + 2];
      buf[row + x * 3 + 1] = rgb[i + 1];
      buf[row + x * 3 + 2] = rgb[i];
    }
  }
  return buf;
}

/** A top-down 8-bit palette BMP whose palette is a grey ramp (index = grey). */
function bmp8(width: number, height: number, grey: number[]): Buffer {
  const stride = Math.ceil(width / 4) * 4;
  const offset = 54 + 256 * 4;
  const buf = Buffer.alloc(offset + stride * height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(-height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(8, 28);
  for (let i = 0; i < 256; i++) buf.fill(i, 54 + i * 4, 54 + i * 4 + 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) buf[offset + y * stride + x] = grey[y * width + x];
  return buf;
}

describe('loadImage (2-D files)', () => {
  it("a file that is there is never called missing, whatever sharp's shared error buffer says", async () => {
    // sharp reads libvips' process-wide error buffer to tell "missing" from "unknown format"; a
    // missing file read on another thread at the same moment can make a present one "missing".
    writeGarbage(file('not-an-image.png'));
    const present = correctedSharpError(new Error(`Input file is missing: ${file('not-an-image.png')}`), file('not-an-image.png'));
    assert.equal(describeError(present), 'Input file contains unsupported image format');
    const absent = new Error(`Input file is missing: ${file('absent.png')}`);
    assert.equal(correctedSharpError(absent, file('absent.png')), absent);
    assert.equal(describeError(absent), 'file not found');
    const other = new Error('VipsJpeg: premature end of JPEG file');
    assert.equal(correctedSharpError(other, file('not-an-image.png')), other);
    const wrongWay = correctedSharpError(new Error('Input file contains unsupported image format'), file('absent.png'));
    assert.equal(describeError(wrongWay), 'file not found', 'a missing file is missing, whatever the buffer said');
    // Read side by side with missing files, the garbage file is always unreadable, never missing,
    // and the missing ones always missing (CI saw both mix-ups before the correction).
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? imageFileSize(file('not-an-image.png')) : imageFileSize(file(`gone-${i}.png`))).then(
          () => 'read',
          (e: Error) => describeError(e),
        ),
      ),
    );
    assert.deepEqual(new Set(results.filter((_, i) => i % 2 === 0)), new Set(['Input file contains unsupported image format']));
    assert.deepEqual(new Set(results.filter((_, i) => i % 2 === 1)), new Set(['file not found']));
  });

  it('reads greyscale and colour PNGs as 8-bit grey', async () => {
    await writePng(file('grey.png'), 3, 2, [0, 10, 20, 30, 40, 255]);
    const g = await loadImage({ kind: 'file', path: file('grey.png') });
    assert.deepEqual([g.width, g.height, [...g.data]], [3, 2, [0, 10, 20, 30, 40, 255]]);
    await writePng(file('rgb.png'), 2, 1, [200, 200, 200, 0, 0, 0], 3);
    const c = await loadImage({ kind: 'file', path: file('rgb.png') });
    assert.deepEqual([...c.data], [200, 0]);
  });

  it('reads JPEG, TIFF, BMP and 16-bit PNG', async () => {
    const flat = Buffer.alloc(16 * 16, 128);
    await sharp(flat, { raw: { width: 16, height: 16, channels: 1 } }).jpeg({ quality: 95 }).toFile(file('a.jpg'));
    const j = await loadImage({ kind: 'file', path: file('a.jpg') });
    assert.equal(j.data.length, 256);
    assert.ok(Math.abs(j.data[100] - 128) <= 2);
    await sharp(flat, { raw: { width: 16, height: 16, channels: 1 } }).tiff().toFile(file('a.tif'));
    assert.equal((await loadImage({ kind: 'file', path: file('a.tif') })).data[5], 128);
    writeFileSync(file('a.bmp'), bmp24(3, 2, [255, 255, 255, 0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]));
    const b = await loadImage({ kind: 'file', path: file('a.bmp') });
    assert.deepEqual([b.width, b.height, [...b.data]], [3, 2, [255, 0, 10, 20, 30, 40]]);
    assert.deepEqual(await imageFileSize(file('a.bmp')), { width: 3, height: 2 });
    writeFileSync(file('p.bmp'), bmp8(5, 2, [0, 1, 2, 3, 4, 250, 251, 252, 253, 254]));
    assert.deepEqual([...decodeBmp(new Uint8Array(bmp8(5, 2, [0, 1, 2, 3, 4, 250, 251, 252, 253, 254]))).data.filter((_, i) => i % 3 === 0)], [0, 1, 2, 3, 4, 250, 251, 252, 253, 254]);
    assert.deepEqual([...(await loadImage({ kind: 'file', path: file('p.bmp') })).data], [0, 1, 2, 3, 4, 250, 251, 252, 253, 254]);
    await sharp(new Uint16Array([0, 257 * 100, 65535]), { raw: { width: 3, height: 1, channels: 1 } }).toColourspace('grey16').png().toFile(file('deep.png'));
    assert.deepEqual([...(await loadImage({ kind: 'file', path: file('deep.png') })).data], [0, 100, 255]);
  });

  it('refuses damaged BMP headers instead of decoding garbage', () => {
    const good = bmp8(5, 2, [0, 1, 2, 3, 4, 250, 251, 252, 253, 254]);
    const damaged = (edit: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      edit(b);
      return new Uint8Array(b);
    };
    assert.throws(() => decodeBmp(damaged((b) => b.writeUInt16LE(0, 28))), /bad BMP bit depth 0/);
    assert.throws(() => decodeBmp(damaged((b) => b.writeUInt16LE(7, 28))), /bad BMP bit depth 7/);
    assert.throws(() => decodeBmp(damaged((b) => b.writeUInt32LE(4000, 46))), /4000 colours for 8 bits/);
    // A palette that runs past the pixel data (and so past the file's palette bytes).
    assert.throws(() => decodeBmp(damaged((b) => b.writeUInt32LE(54 + 16, 10))), /bad BMP palette: 256 colours run past the pixel data/);
    assert.throws(() => decodeBmp(damaged((b) => b.writeUInt32LE(1 << 30, 10))), /bad BMP (palette|pixel data offset)/);
    assert.throws(() => decodeBmp(damaged((b) => b.writeUInt32LE(3, 30))), /bitfields need 16 or 32 bits/);
  });

  it('names the file in its errors', async () => {
    writeGarbage(file('bad.png'));
    await assert.rejects(loadImage({ kind: 'file', path: file('bad.png') }), (e: Error) => e.message.startsWith(`cannot read image ${file('bad.png')}:`));
    await assert.rejects(loadImage({ kind: 'file', path: file('gone.png') }), (e: Error) => e.message === `cannot read image ${file('gone.png')}: file not found`);
    await assert.rejects(loadMask({ kind: 'file', path: file('gone.png') }), (e: Error) => e.message.includes(`cannot read mask ${file('gone.png')}`));
  });
});

describe('loadMask (2-D files)', () => {
  it('gives 0/1 for 0/255, 0/1, 3-channel, noisy JPEG-like and 16-bit masks', async () => {
    await writePng(file('m255.png'), 4, 1, [0, 255, 0, 255]);
    assert.deepEqual([...(await loadMask({ kind: 'file', path: file('m255.png') })).data], [0, 1, 0, 1]);
    await writePng(file('m01.png'), 4, 1, [0, 1, 1, 0]);
    assert.deepEqual([...(await loadMask({ kind: 'file', path: file('m01.png') })).data], [0, 1, 1, 0]);
    await writePng(file('mrgb.png'), 3, 1, [255, 0, 0, 0, 0, 0, 0, 0, 255], 3);
    assert.deepEqual([...(await loadMask({ kind: 'file', path: file('mrgb.png') })).data], [1, 0, 1]);
    await writePng(file('noisy.png'), 4, 1, [3, 250, 100, 140]);
    assert.deepEqual([...(await loadMask({ kind: 'file', path: file('noisy.png') })).data], [0, 1, 0, 1]);
    await sharp(new Uint16Array([0, 1, 1, 0]), { raw: { width: 4, height: 1, channels: 1 } }).toColourspace('grey16').png().toFile(file('m16.png'));
    assert.deepEqual([...(await loadMask({ kind: 'file', path: file('m16.png') })).data], [0, 1, 1, 0]);
    const m = await loadMask({ kind: 'file', path: file('m255.png') });
    assert.deepEqual([m.width, m.height], [4, 1]);
  });
});

describe('NIfTI slices', () => {
  const NX = 3;
  const NY = 2;
  const NZ = 2;
  // Real value at (x, y, z) = 100 z + 10 y + x.
  const real = Array.from({ length: NX * NY * NZ }, (_, i) => 100 * Math.floor(i / (NX * NY)) + 10 * Math.floor((i % (NX * NY)) / NX) + (i % NX));

  it('carries the voxel spacing of pixdim[1], pixdim[2] to the slice (mm, for HD95 and NSD)', async () => {
    writeNifti(file('spaced.nii.gz'), [3, 2, 2], NIFTI_TYPES.uint8, new Uint8Array(12), { pixdim: [1, 0.8, 0.6, 2.5, 1, 1, 1, 1] });
    clearVolumeCache();
    const slice = await loadImage({ kind: 'nifti-slice', path: file('spaced.nii.gz'), slice: 1, window: [0, 255] });
    assert.deepEqual(slice.spacing!.map((v) => Math.round(v * 1e6) / 1e6), [0.8, 0.6]);
  });

  it('refuses a volume past the size or slice limit from its header, and a file that inflates past what its header says', async () => {
    try {
      setVolumeLimits({ maxBytes: 1024 * 1024, maxSlices: 100 });
      writeNifti(file('big.nii.gz'), [256, 256, 20], NIFTI_TYPES.uint8, new Uint8Array(256 * 256 * 20));
      await assert.rejects(decodeNifti(file('big.nii.gz')), /256x256x20 \(1.3 MB decompressed\), more than the limit of 1.0 MB \(--max-volume-mb\)/);
      writeNifti(file('deep.nii.gz'), [2, 2, 101], NIFTI_TYPES.uint8, new Uint8Array(404));
      await assert.rejects(decodeNifti(file('deep.nii.gz')), /101 slices, more than the limit of 100 \(--max-slices\)/);
      // A header announcing 8x8x2 over 10 MB of zeros (a 10 kB file).
      writeFileSync(file('bomb.nii.gz'), gzipSync(Buffer.concat([niftiBytes([8, 8, 2], NIFTI_TYPES.uint8, new Uint8Array(128)), Buffer.alloc(10 * 1024 * 1024)])));
      await assert.rejects(decodeNifti(file('bomb.nii.gz')), /decompresses to more than its header announces \(0\.1 MB\): it is damaged/);
    } finally {
      setVolumeLimits({});
    }
  });

  it('reads every supported datatype, gzip or not, big-endian too, with scl_slope/inter', async () => {
    const cases: [string, number, number[], { slope?: number; inter?: number; littleEndian?: boolean }][] = [
      ['u8.nii', NIFTI_TYPES.uint8, real, {}],
      ['i16s.nii', NIFTI_TYPES.int16, real.map((v) => v * 2 - 500), { slope: 0.5, inter: 250 }],
      ['i16.nii.gz', NIFTI_TYPES.int16, real.map((v) => v - 1000), { inter: 1000 }],
      ['i32.nii.gz', NIFTI_TYPES.int32, real, {}],
      ['f32.nii', NIFTI_TYPES.float32, real.map((v) => v * 4), { slope: 0.25 }],
      ['f64.nii.gz', NIFTI_TYPES.float64, real, {}],
      ['u16.nii', NIFTI_TYPES.uint16, real, {}],
      ['be16.nii.gz', NIFTI_TYPES.int16, real.map((v) => v - 1000), { inter: 1000, littleEndian: false }],
    ];
    for (const [name, type, stored, opts] of cases) {
      writeNifti(file(name), [NX, NY, NZ], type, stored, opts);
      // Window [100, 355] maps real v to v - 100 (clamped): slice 1 gives 0..21.
      const img = await loadImage({ kind: 'nifti-slice', path: file(name), slice: 1, window: [100, 355] });
      assert.deepEqual([img.width, img.height, [...img.data]], [NX, NY, [0, 1, 2, 10, 11, 12]], name);
      assert.deepEqual(await readNiftiHeader(file(name)), { nx: NX, ny: NY, nz: NZ, datatype: type }, name);
    }
  });

  it('windows HU to 0..255 and cuts label slices to 0/1', async () => {
    writeNifti(file('ct.nii.gz'), [4, 1, 1], NIFTI_TYPES.int16, [-1000, -160, 40, 1000]);
    const ct = await loadImage({ kind: 'nifti-slice', path: file('ct.nii.gz'), slice: 0, window: [-160, 240] });
    assert.deepEqual([...ct.data], [0, 0, 128, 255]);
    writeNifti(file('lab.nii.gz'), [4, 1, 2], NIFTI_TYPES.uint8, [0, 1, 2, 1, 2, 2, 0, 0]);
    assert.deepEqual([...(await loadMask({ kind: 'nifti-slice', path: file('lab.nii.gz'), slice: 0, label: 1 })).data], [0, 1, 0, 1]);
    assert.deepEqual([...(await loadMask({ kind: 'nifti-slice', path: file('lab.nii.gz'), slice: 1, label: 2 })).data], [1, 1, 0, 0]);
  });

  it('takes the first volume of a 4-D file', async () => {
    writeNifti(file('4d.nii'), [2, 1, 1, 2], NIFTI_TYPES.uint8, [7, 8, 90, 91]);
    const img = await loadImage({ kind: 'nifti-slice', path: file('4d.nii'), slice: 0, window: [0, 255] });
    assert.deepEqual([...img.data], [7, 8]);
  });

  it('names the file and slice in its errors', async () => {
    writeNifti(file('small.nii.gz'), [2, 2, 1], NIFTI_TYPES.uint8, [0, 1, 2, 3]);
    await assert.rejects(loadImage({ kind: 'nifti-slice', path: file('small.nii.gz'), slice: 5, window: [0, 1] }), (e: Error) => e.message.includes(file('small.nii.gz')) && /slice 5 out of range/.test(e.message));
    writeGarbage(file('junk.nii.gz'));
    await assert.rejects(loadMask({ kind: 'nifti-slice', path: file('junk.nii.gz'), slice: 0, label: 1 }), (e: Error) => e.message.includes(`cannot read mask ${file('junk.nii.gz')}`));
    writeFileSync(file('cut.nii'), niftiBytes([4, 4, 4], NIFTI_TYPES.int16, new Array(64).fill(0)).subarray(0, 400));
    await assert.rejects(loadImage({ kind: 'nifti-slice', path: file('cut.nii'), slice: 0, window: [0, 1] }), /truncated/);
    await assert.rejects(loadImage({ kind: 'file', path: file('small.nii.gz') }), /needs a slice/);
  });

  it('keeps a small LRU of decoded volumes', async () => {
    clearVolumeCache();
    setVolumeCacheSize(2);
    for (const n of ['v1', 'v2', 'v3']) writeNifti(file(`${n}.nii.gz`), [2, 2, 2], NIFTI_TYPES.uint8, new Array(8).fill(1));
    const a = getVolume(file('v1.nii.gz'));
    assert.equal(getVolume(file('v1.nii.gz')), a, 'concurrent loads share one decode');
    await a;
    getVolume(file('v2.nii.gz'));
    assert.equal(getVolume(file('v1.nii.gz')), a, 'still cached');
    await getVolume(file('v3.nii.gz')); // evicts v2, the least recently used
    assert.equal(getVolume(file('v1.nii.gz')), a);
    setVolumeCacheSize(3);
    clearVolumeCache();
  });
});
