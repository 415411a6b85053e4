// The API over a real loopback socket: fetch + FormData, as a client script would call it.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type Fixture, listeningFixture, PROMPT, skipWithoutBpe as skip } from './test_fixture.js';
import { pngHeaderOnly } from './testing.js';

let fx: Fixture;
let base: string;
let close: (() => Promise<void>) | undefined;
before(async () => {
  if (skip) return;
  ({ fx, base, close } = await listeningFixture());
});
after(async () => {
  await close?.();
});

function form(image: Buffer, fields: Record<string, string>): FormData {
  const f = new FormData();
  f.append('image', new Blob([image], { type: 'image/png' }), 'x.png');
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

test('on loopback: PNG and JSON answers agree; bad requests get JSON errors and the server keeps serving', { skip }, async () => {
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  const png = await fetch(`${base}/v1/segment`, { method: 'POST', body: form(fx.png, { text: PROMPT }) });
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  const mask = Buffer.from(await png.arrayBuffer());
  const meta = await sharp(mask).metadata();
  assert.deepEqual([meta.width, meta.height], [96, 72]);

  const json = await fetch(`${base}/v1/segment`, { method: 'POST', body: form(fx.png, { text: PROMPT }), headers: { accept: 'application/json' } });
  const j = (await json.json()) as { mask_png_base64: string; area: number };
  assert.ok(Buffer.from(j.mask_png_base64, 'base64').equals(mask), 'the JSON mask is the PNG answer');
  assert.equal(Number(png.headers.get('x-mask-area')), j.area);

  const bomb = await fetch(`${base}/v1/segment`, { method: 'POST', body: form(pngHeaderOnly(60000, 60000), { text: PROMPT }) });
  assert.equal(bomb.status, 413);
  assert.equal(((await bomb.json()) as { error: { code: string } }).error.code, 'image_too_large');
  const longPrompt = await fetch(`${base}/v1/segment`, { method: 'POST', body: form(fx.png, { text: 'x'.repeat(10 * 1024 * 1024) }) });
  assert.equal(longPrompt.status, 413);
  const wrong = await fetch(`${base}/v1/segment`, { method: 'POST', body: form(fx.png, { prompt: PROMPT }) });
  assert.equal(wrong.status, 400);
  assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /'prompt'/);

  const again = await fetch(`${base}/v1/segment`, { method: 'POST', body: form(fx.png, { text: PROMPT }) });
  assert.equal(again.status, 200);
  assert.ok(Buffer.from(await again.arrayBuffer()).equals(mask), 'same input, same mask');
  const health = (await (await fetch(`${base}/v1/health`)).json()) as { ok: boolean; served: number };
  assert.equal(health.ok, true);
  assert.equal(health.served, 3);
});

test('bytes that are not HTTP get a 400 JSON error, and the server keeps serving', { skip }, async () => {
  const { hostname, port } = new URL(base);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write('THIS IS NOT HTTP\r\n\r\n'));
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400/);
  assert.match(answer, /"code":"bad_http"/);
  assert.equal((await fetch(`${base}/v1/health`)).status, 200);
});
