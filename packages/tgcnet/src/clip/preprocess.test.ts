import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import * as T from '@tgcnet/torch';
import { PreprocessorConfig } from './config.js';
import { decodeForClip, loadImageForClip, resizePolicy } from './preprocess.js';

test('grey images become RGB; the shortest edge is resized and the centre cropped', async () => {
  // 40 x 20 grey image: left half black, right half white.
  const raw = Buffer.alloc(40 * 20);
  for (let y = 0; y < 20; y++) for (let x = 20; x < 40; x++) raw[y * 40 + x] = 255;
  const png = await sharp(raw, { raw: { width: 40, height: 20, channels: 1 } }).png().toBuffer();
  const rgb = await decodeForClip(png, { shortestEdge: 10, crop: 10 });
  assert.equal(rgb.length, 10 * 10 * 3);
  // Resized to 20 x 10, cropped to columns 5..14: left half dark, right half bright.
  assert.ok(rgb[(5 * 10 + 1) * 3] < 30 && rgb[(5 * 10 + 8) * 3] > 225);
  assert.equal(rgb[(5 * 10 + 8) * 3], rgb[(5 * 10 + 8) * 3 + 2]);
});

test('pixels are normalised with CLIP mean/std as [1, 3, S, S]', async () => {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 128 } } }).png().toBuffer();
  const pre = PreprocessorConfig.parse({});
  const x = await loadImageForClip(png, pre, 8);
  assert.deepEqual(x.shape, [1, 3, 8, 8]);
  const [r, g] = [x.select(1, 0).mean().item(), x.select(1, 1).mean().item()];
  assert.ok(Math.abs(r - (1 - 0.48145466) / 0.26862954) < 1e-5);
  assert.ok(Math.abs(g - (0 - 0.4578275) / 0.26130258) < 1e-5);
  x.dispose();
});

test('the resize policy follows preprocessor_config.json', () => {
  assert.deepEqual(resizePolicy(PreprocessorConfig.parse({ size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 } }), 336), {
    shortestEdge: 256,
    crop: 224,
  });
  assert.deepEqual(resizePolicy(PreprocessorConfig.parse({}), 336), { shortestEdge: 336, crop: 336 });
});

test('a corrupt image is an error, not a crash', async () => {
  await assert.rejects(loadImageForClip(Buffer.from('not an image'), PreprocessorConfig.parse({}), 8));
  assert.equal(T.memory().tensors >= 0, true);
});
