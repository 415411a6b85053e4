// Header checks before decoding, and decoding the way data/images.ts reads files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { loadImage } from '../data/images.js';
import type { ApiError } from './errors.js';
import { decodeGrey, readImageHeader } from './limits.js';
import { testPng } from './test_fixture.js';
import { crc32, pngHeaderOnly } from './testing.js';

test('crc32 matches the PNG specification check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('a 60000x60000 PNG header is refused with 413 from the header alone', async () => {
  const bomb = pngHeaderOnly(60000, 60000);
  assert.ok(bomb.length < 64);
  const t0 = performance.now();
  await assert.rejects(readImageHeader(bomb, 25_000_000), (err: ApiError) => err.status === 413 && err.code === 'image_too_large' && /60000x60000 = 3600\.0 megapixels/.test(err.message));
  assert.ok(performance.now() - t0 < 1000);
  // With the opening of its pixel data too (libvips reads this header itself).
  await assert.rejects(readImageHeader(pngHeaderOnly(60000, 60000, true), 25_000_000), (err: ApiError) => err.status === 413 && err.code === 'image_too_large');
  // Within the limit the header reads, and decoding is what fails (no pixel data).
  const small = pngHeaderOnly(64, 48, true);
  assert.deepEqual(await readImageHeader(small, 25_000_000), { format: 'png', width: 64, height: 48 });
  await assert.rejects(decodeGrey(small, { format: 'png', width: 64, height: 48 }, 25_000_000), (err: ApiError) => err.status === 422);
});

test('non-image bytes are 415, a cut-off header 422', async () => {
  await assert.rejects(readImageHeader(Buffer.from('%PDF-1.4 not an image at all'), 1e6), (err: ApiError) => err.status === 415);
  await assert.rejects(readImageHeader(Buffer.from([0x42, 0x4d, 1, 2]), 1e6), (err: ApiError) => err.status === 422);
});

test('decoded pixels equal loadImage() of the same file, for PNG, JPEG and BMP', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tgcnet-limits-'));
  try {
    const png = await testPng(40, 30);
    const rgb = await sharp(png).toColourspace('srgb').tint({ r: 255, g: 200, b: 150 }).png().toBuffer();
    const jpeg = await sharp(rgb).jpeg({ quality: 80 }).toBuffer();
    // A 24-bit BMP by hand: 14-byte file header, 40-byte info header, bottom-up rows padded to 4 bytes.
    const { data: raw } = await sharp(rgb).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const stride = Math.ceil((40 * 3) / 4) * 4;
    const bmp = Buffer.alloc(54 + stride * 30);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(bmp.length, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(40, 18);
    bmp.writeInt32LE(30, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 40; x++) {
        const s = (y * 40 + x) * 3;
        const d = 54 + (29 - y) * stride + x * 3;
        bmp[d] = raw[s + 2];
        bmp[d + 1] = raw[s + 1];
        bmp[d + 2] = raw[s];
      }
    }
    for (const [name, bytes] of [['a.png', rgb], ['a.jpg', jpeg], ['a.bmp', bmp]] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const header = await readImageHeader(bytes, 1e6);
      assert.deepEqual([header.width, header.height], [40, 30], name);
      const got = await decodeGrey(bytes, header, 1e6);
      const expected = await loadImage({ kind: 'file', path });
      assert.deepEqual([got.width, got.height], [expected.width, expected.height], name);
      assert.ok(Buffer.from(got.data).equals(Buffer.from(expected.data)), `${name}: pixels differ from loadImage()`);
    }
    // A damaged header decodes to an error naming the defect, not to garbage with 200.
    const damaged = Buffer.from(bmp);
    damaged.writeUInt16LE(0, 28);
    await assert.rejects(decodeGrey(damaged, await readImageHeader(damaged, 1e6), 1e6), (e: { status?: number; message: string }) => e.status === 422 && /bit depth 0/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
