import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { defaultBpePath } from '../paths.js';

const bin = fileURLToPath(new URL('../../bin/tgcnet.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-cli-clip-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;

function tgcnet(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

test('clip init writes a folder that clip embed reads, in both namings', { skip }, async () => {
  const ckpt = join(dir, 'tiny');
  const init = tgcnet('clip', 'init', '--preset', 'tiny', '--out', ckpt, '--seed', '3', '--openai');
  assert.equal(init.status, 0, init.stderr);
  const image = join(dir, 'x.png');
  await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toFile(image);
  const a = tgcnet('clip', 'embed', '--clip', ckpt, '--image', image, '--text', 'upper left lung', '--json');
  assert.equal(a.status, 0, a.stderr);
  const out = JSON.parse(a.stdout);
  assert.equal(out.image_embedding.length, 16);
  assert.equal(out.text_embedding.length, 16);
  const norm = Math.hypot(...(out.image_embedding as number[]));
  assert.ok(Math.abs(norm - 1) < 1e-5);
  const dot = (out.image_embedding as number[]).reduce((s: number, v: number, i: number) => s + v * out.text_embedding[i], 0);
  assert.ok(Math.abs(dot - out.cosine) < 1e-5);
  const b = tgcnet('clip', 'embed', '--clip', join(ckpt, 'openai_clip.safetensors'), '--image', image, '--text', 'upper left lung', '--json');
  assert.equal(b.status, 0, b.stderr);
  assert.deepEqual(JSON.parse(b.stdout), out);
});

test('clip embed on a missing checkpoint says so', () => {
  const r = tgcnet('clip', 'embed', '--clip', join(dir, 'missing'), '--text', 'x');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /CLIP checkpoint .*missing does not exist/);
});
