import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { maskPng, overlayFormat, overlayImage } from './images_io.js';

test('masks are one-channel 8-bit PNGs of 0 and 255', async () => {
  const png = await maskPng(Uint8Array.from([0, 1, 1, 0, 0, 1]), 3, 2);
  const meta = await sharp(png).metadata();
  assert.equal(meta.channels, 1);
  assert.equal(meta.depth, 'uchar');
  const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([...data], [0, 255, 255, 0, 0, 255]);
});

test('the overlay takes its format from its extension, and refuses one it cannot write', async () => {
  const image = { width: 2, height: 2, data: Uint8Array.from([10, 20, 30, 40]) };
  const mask = Uint8Array.from([1, 0, 0, 1]);
  const jpeg = await overlayImage('o.JPG', image, mask);
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  assert.equal((await sharp(await overlayImage('o.png', image, mask)).metadata()).format, 'png');
  assert.throws(() => overlayFormat('o.gif'), /--overlay o\.gif: name it \.png, \.jpg or \.webp/);
});
