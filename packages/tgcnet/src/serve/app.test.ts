// The HTTP API through app.inject(): every good and bad input of issue 6, the queue, the API
// key, the info routes, and the invariant that the server keeps serving (and keeps its
// tensor count flat) whatever it is sent.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { memory } from '@tgcnet/torch';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { dicomBytes } from '../data/dicom_testing.js';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { NIFTI_TYPES, niftiBytes } from '../data/formats/testing.js';
import { decodeNiftiBytes, loadImage, setVolumeLimits } from '../data/images.js';
import { segmentVolume } from '../infer/volume.js';
import { segment } from '../infer/segment.js';
import { buildApp } from './app.js';
import { ErrorBody, HealthBody, SegmentJson, SegmentManyJson } from './openapi.js';
import { type Fixture, makeFixture, PROMPT, skipWithoutBpe as skip } from './test_fixture.js';
import { multipartBody, type Part, pngHeaderOnly } from './testing.js';

let fx: Fixture;
before(async () => {
  if (!skip) fx = await makeFixture();
});
after(() => fx?.cleanup());

const imagePart = (data: Buffer, name = 'image', contentType = 'image/png'): Part => ({ name, filename: 'x.png', contentType, data });

async function post(app: FastifyInstance, parts: Part[], headers: Record<string, string> = {}) {
  const body = multipartBody(parts);
  return app.inject({ method: 'POST', url: '/v1/segment', payload: body.payload, headers: { ...body.headers, ...headers } });
}

/** The mask as 0/1 from a 0/255 PNG. */
async function maskOf(png: Buffer): Promise<{ width: number; height: number; mask: number[] }> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, mask: Array.from(data, (v) => (v > 127 ? 1 : 0)) };
}

function assertJsonError(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string, mentions: RegExp) {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.match(body.error.message, mentions);
}

async function assertStillServes(app: FastifyInstance) {
  const res = await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }]);
  assert.equal(res.statusCode, 200, `a good request after bad ones: ${res.body}`);
  assert.equal(res.headers['content-type'], 'image/png');
}

test('a good request answers the mask PNG at the image size, equal to segment() on the same file', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    const res = await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }]);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'image/png');
    const got = await maskOf(res.rawPayload);
    assert.deepEqual([got.width, got.height], [96, 72]);
    const expected = await segment(fx.run, await loadImage({ kind: 'file', path: fx.pngPath }), PROMPT);
    assert.deepEqual(got.mask, Array.from(expected.mask));
    assert.equal(Number(res.headers['x-mask-area']), expected.area);
    assert.ok(expected.area > 0 && expected.area < 96 * 72, 'the fixture gives a mask with both values');
    const raw = await sharp(res.rawPayload).raw().toBuffer();
    assert.ok(raw.every((v) => v === 0 || v === 255), 'the mask PNG holds 0 and 255 only');
  } finally {
    await app.close();
  }
});

test('Accept: application/json answers the mask as base64 with area, mean probability and the aux used', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    const res = await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }], { accept: 'application/json' });
    assert.equal(res.statusCode, 200, res.body);
    const j = res.json() as Record<string, unknown>;
    for (const k of ['mask_png_base64', 'width', 'height', 'area', 'mean_probability', 'prompt', 'aux', 'elapsed_ms']) assert.ok(k in j, k);
    const expected = await segment(fx.run, await loadImage({ kind: 'file', path: fx.pngPath }), PROMPT);
    const got = await maskOf(Buffer.from(j.mask_png_base64 as string, 'base64'));
    assert.deepEqual(got.mask, Array.from(expected.mask));
    assert.equal(j.area, expected.area);
    assert.ok(Math.abs((j.mean_probability as number) - expected.meanProbability) < 1e-6);
    assert.deepEqual([j.width, j.height, j.prompt], [96, 72, PROMPT]);
    // The tiny preset uses aux (DATE) and the random run has no aux prompts file: segmented without, and said so.
    assert.equal(j.aux, null);
    assert.equal(j.aux_source, 'none');
    assert.match(j.note as string, /without aux/);
    const withAux = (await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }, { name: 'aux', value: 'Patchy opacities in both lungs.' }], { accept: 'application/json' })).json();
    assert.equal(withAux.aux, 'Patchy opacities in both lungs.');
    assert.equal(withAux.aux_source, 'request');
  } finally {
    await app.close();
  }
});

test('bad inputs get a 4xx JSON error naming the problem, and the server keeps serving', { skip }, async () => {
  const { app } = await buildApp(fx.run, { limits: { maxBodyBytes: 12 * 1024 * 1024 } });
  try {
    const text = { name: 'text', value: PROMPT };
    // A PNG cut off in the middle of its pixel data: the header is fine, decoding is not.
    const corrupt = fx.png.subarray(0, Math.floor(fx.png.length * 0.6));
    assertJsonError(await post(app, [imagePart(corrupt), text]), 422, 'corrupt_image', /damaged or truncated/);
    await assertStillServes(app);
    assertJsonError(await post(app, [imagePart(fx.png)]), 400, 'missing_text', /add a text field/);
    assertJsonError(await post(app, [imagePart(fx.png), { name: 'text', value: '   ' }]), 400, 'missing_text', /what to segment/);
    const bomb = pngHeaderOnly(60000, 60000);
    const t0 = performance.now();
    assertJsonError(await post(app, [imagePart(bomb), text]), 413, 'image_too_large', /60000x60000.*--max-pixels/);
    assert.ok(performance.now() - t0 < 2000, 'the bomb is refused from its header, without decoding');
    await assertStillServes(app);
    assertJsonError(await post(app, [imagePart(Buffer.from('this is not an image, just some text bytes\n'.repeat(20))), text]), 415, 'unsupported_image', /PNG, JPEG/);
    assertJsonError(await post(app, [imagePart(Buffer.alloc(0)), text]), 400, 'empty_image', /empty/);
    const tenMb = 'lung '.repeat(2 * 1024 * 1024);
    assertJsonError(await post(app, [imagePart(fx.png), { name: 'text', value: tenMb }]), 413, 'prompt_too_long', /2000-character limit.*shorten/);
    assertJsonError(await post(app, [imagePart(fx.png), text, { name: 'aux', value: 'x'.repeat(2001) }]), 413, 'prompt_too_long', /aux field holds 2001 characters/);
    await assertStillServes(app);
    assertJsonError(await post(app, [imagePart(fx.png, 'file'), { name: 'prompt', value: PROMPT }]), 400, 'unexpected_field', /'file', 'prompt'.*image \(file\), text/);
    assertJsonError(await post(app, [{ name: 'image', value: 'x.png' }, text]), 400, 'wrong_field_kind', /attach the image file/);
    assertJsonError(await post(app, [text]), 400, 'missing_image', /image \(file\), text/);
    assertJsonError(await post(app, [imagePart(fx.png), imagePart(fx.png), text]), 400, 'duplicate_field', /'image' sent more than once/);
    assertJsonError(await post(app, [imagePart(fx.png), text, text, { name: 'aux', value: 'left' }]), 400, 'aux_count', /2 text field\(s\) and 1 aux field/);
    assertJsonError(await post(app, [imagePart(fx.png), ...Array.from({ length: 17 }, () => text)]), 400, 'too_many_prompts', /at most 16 prompts/);
    const json = await app.inject({ method: 'POST', url: '/v1/segment', payload: { image: 'x', text: PROMPT } });
    assertJsonError(json, 415, 'not_multipart', /multipart\/form-data/);
    const big = multipartBody([imagePart(Buffer.alloc(13 * 1024 * 1024, 1)), text]);
    assertJsonError(await app.inject({ method: 'POST', url: '/v1/segment', payload: big.payload, headers: big.headers }), 413, 'payload_too_large', /--max-body-mb/);
    const garbled = await app.inject({ method: 'POST', url: '/v1/segment', payload: 'no boundary here', headers: { 'content-type': 'multipart/form-data; boundary=abc' } });
    assert.ok(garbled.statusCode >= 400 && garbled.statusCode < 500, `malformed multipart: ${garbled.statusCode} ${garbled.body}`);
    assert.ok(garbled.json().error.code);
    assertJsonError(await app.inject({ method: 'GET', url: '/v1/nothing' }), 404, 'not_found', /POST \/v1\/segment/);
    assertJsonError(await app.inject({ method: 'GET', url: '/v1/segment' }), 404, 'not_found', /routes are/);
    await assertStillServes(app);
  } finally {
    await app.close();
  }
});

test('a full queue answers 503 with Retry-After and a JSON error; the next request after it is served', { skip }, async () => {
  const { app, queue } = await buildApp(fx.run, { queue: 1 });
  try {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const running = queue.run(() => gate); // occupies the model
    const waiting = queue.run(async () => {}); // fills the one waiting slot
    assert.equal(queue.depth, 1);
    const res = await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }]);
    assertJsonError(res, 503, 'queue_full', /retry after \d+ s/);
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
    const health = (await app.inject({ method: 'GET', url: '/v1/health' })).json();
    assert.deepEqual(health.queue, { waiting: 1, running: true, capacity: 1 });
    release();
    await Promise.all([running, waiting]);
    await assertStillServes(app);
  } finally {
    await app.close();
  }
});

test('with an API key, /v1/segment and /v1/model need it (Bearer or x-api-key); /v1/health and the viewer stay open', { skip }, async () => {
  const { app } = await buildApp(fx.run, { apiKey: 's3cret-key' });
  try {
    const parts = [imagePart(fx.png), { name: 'text', value: PROMPT }];
    assertJsonError(await post(app, parts), 401, 'unauthorized', /Authorization: Bearer/);
    assertJsonError(await post(app, parts, { authorization: 'Bearer wrong' }), 401, 'unauthorized', /key is wrong/);
    assertJsonError(await app.inject({ method: 'GET', url: '/v1/model' }), 401, 'unauthorized', /API key/);
    assert.equal((await post(app, parts, { authorization: 'Bearer s3cret-key' })).statusCode, 200);
    assert.equal((await post(app, parts, { 'x-api-key': 's3cret-key' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/model', headers: { 'x-api-key': 's3cret-key' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/health' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('/v1/model reports the preset, parameter counts, input sizes and the checkpoint metrics', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    const m = (await app.inject({ method: 'GET', url: '/v1/model' })).json();
    assert.equal(m.preset, 'tiny');
    assert.ok(m.parameters.total > 0 && m.parameters.trainable > 0);
    assert.ok(m.parameters.modules.decoder.total > 0);
    assert.deepEqual(m.input.cnn, 64);
    assert.deepEqual(m.input.vit, 32);
    assert.equal(m.checkpoint.best_dice, 0.5);
    assert.equal(m.checkpoint.metrics.val.diceMacro, 0.4);
    assert.equal(m.limits.max_prompt_chars, 2000);
    assert.doesNotMatch(JSON.stringify(m), new RegExp(fx.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no server path leaves the server');
    assert.equal(m.checkpoint.dir, 'best');
  } finally {
    await app.close();
  }
});

test('without an API key, a POST from another site\'s page or a rebound host name is refused; own page, curl and --allowed-origins pass', { skip }, async () => {
  const { app } = await buildApp(fx.run, { allowedOrigins: ['https://viewer.example.org'] });
  try {
    const parts = [imagePart(fx.png), { name: 'text', value: PROMPT }];
    assertJsonError(await post(app, parts, { origin: 'https://evil.example', host: '127.0.0.1:8080' }), 403, 'origin_not_allowed', /https:\/\/evil\.example may not use this server.*--allowed-origins/);
    assertJsonError(await post(app, parts, { host: 'rebound.evil.example:8080' }), 403, 'host_not_allowed', /answers only requests addressed to localhost/);
    assert.equal((await post(app, parts, { origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080' })).statusCode, 200, 'the viewer on its own origin');
    assert.equal((await post(app, parts, { origin: 'https://viewer.example.org/', host: 'localhost:8080' })).statusCode, 200, 'an allowed origin');
    assert.equal((await post(app, parts, { host: '[::1]:8080' })).statusCode, 200, 'curl sends no Origin');
    assertJsonError(await app.inject({ method: 'GET', url: '/v1/model', headers: { host: 'rebound.evil.example' } }), 403, 'host_not_allowed', /loopback/);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/model', headers: { origin: 'https://evil.example' } })).statusCode, 200, 'reads are not Origin-checked (a browser sends Origin on its own page too)');
    const body = multipartBody(parts);
    assertJsonError(await app.inject({ method: 'POST', url: '/v1/segment?probabilities=maybe', payload: body.payload, headers: body.headers }), 400, 'bad_query', /expected true or false/);
  } finally {
    await app.close();
  }
  const keyed = await buildApp(fx.run, { apiKey: 'k' });
  try {
    const res = await post(keyed.app, [imagePart(fx.png), { name: 'text', value: PROMPT }], { origin: 'https://elsewhere.example', authorization: 'Bearer k' });
    assert.equal(res.statusCode, 200, 'with a key, the key is the check');
  } finally {
    await keyed.app.close();
  }
});

test('/openapi.json describes what the routes answer (checked with the same schemas), /docs renders it, /favicon.ico exists', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/metrics', '/openapi.json', '/v1/health', '/v1/model', '/v1/segment']);
    assert.deepEqual(doc.paths['/v1/segment'].post.security, [], 'no key configured');
    HealthBody.parse((await app.inject({ method: 'GET', url: '/v1/health' })).json());
    SegmentJson.parse((await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }], { accept: 'application/json' })).json());
    SegmentManyJson.parse((await post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }, { name: 'text', value: 'no infection' }])).json());
    ErrorBody.strict().parse((await post(app, [imagePart(fx.png)])).json());
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    assert.match(docs.body, /<code>POST \/v1\/segment<\/code>/);
    assert.match(docs.body, /href="\/openapi.json"/);
    const icon = await app.inject({ method: 'GET', url: '/favicon.ico' });
    assert.equal(icon.statusCode, 200);
  } finally {
    await app.close();
  }
  const keyed = await buildApp(fx.run, { apiKey: 'k' });
  try {
    const doc = (await keyed.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.deepEqual(doc.paths['/v1/segment'].post.security, [{ bearer: [] }, { apiKey: [] }]);
  } finally {
    await keyed.app.close();
  }
});

test('a DICOM upload gives the mask its PNG twin gives', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    // 0 and 255 present, so DICOM's min..max mapping is the identity.
    const grey = Array.from({ length: 48 * 40 }, (_, i) => (i === 0 ? 0 : i === 1 ? 255 : Math.min(255, 20 + (i % 48) * 3 + ((i / 48) | 0))));
    const png = await sharp(Buffer.from(grey), { raw: { width: 48, height: 40, channels: 1 } }).png().toBuffer();
    const dcm = dicomBytes({ rows: 40, columns: 48, bitsAllocated: 8, pixels: grey });
    const a = await post(app, [imagePart(png), { name: 'text', value: PROMPT }]);
    const b = await post(app, [{ name: 'image', filename: 'x.dcm', contentType: 'application/dicom', data: dcm }, { name: 'text', value: PROMPT }]);
    assert.equal(b.statusCode, 200, b.body);
    assert.deepEqual(await maskOf(b.rawPayload), await maskOf(a.rawPayload));
  } finally {
    await app.close();
  }
});

test('a NIfTI upload answers a gzipped NIfTI mask, slice for slice what predict computes; past the limits, 413', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    const voxels = Array.from({ length: 40 * 32 * 3 }, (_, i) => ((i % 40) - 20) ** 2 + ((Math.floor(i / 40) % 32) - 16) ** 2 < 60 + (i % 7) ? 200 : -300 + (i % 50));
    const raw = niftiBytes([40, 32, 3], NIFTI_TYPES.int16, voxels);
    const upload = gzipSync(raw);
    const res = await post(app, [{ name: 'image', filename: 'ct.nii.gz', contentType: 'application/gzip', data: upload }, { name: 'text', value: PROMPT }]);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.equal(res.headers['x-mask-slices'], '3');
    const mask = gunzipSync(res.rawPayload);
    const parsed = nifti.readHeader(mask.buffer.slice(mask.byteOffset, mask.byteOffset + mask.length) as ArrayBuffer);
    assert.deepEqual(parsed.dims.slice(0, 4), [3, 40, 32, 3]);
    const expected = await segmentVolume(fx.run, await decodeNiftiBytes(raw, 'x'), [-160, 240], PROMPT, null);
    assert.deepEqual(Array.from(mask.subarray(352)), Array.from(expected.mask));
    setVolumeLimits({ maxSlices: 2 });
    try {
      assertJsonError(await post(app, [{ name: 'image', filename: 'ct.nii.gz', contentType: 'application/gzip', data: upload }, { name: 'text', value: PROMPT }]), 413, 'volume_too_large', /3 slices, more than the limit of 2/);
    } finally {
      setVolumeLimits({});
    }
    assertJsonError(await post(app, [{ name: 'image', filename: 'x.gz', contentType: 'application/gzip', data: gzipSync(Buffer.from('not a volume at all')) }, { name: 'text', value: PROMPT }]), 415, 'unsupported_image', /not a NIfTI volume/);
  } finally {
    await app.close();
  }
});

test('several text fields: one JSON answer with a mask per prompt, each equal to its own request', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    const prompts = [PROMPT, 'a lesion in the upper left lung', 'no infection'];
    const res = await post(app, [imagePart(fx.png), ...prompts.map((value) => ({ name: 'text', value }))]);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { width: number; height: number; results: { prompt: string; mask_png_base64: string; area: number }[] };
    assert.deepEqual([body.width, body.height], [96, 72]);
    assert.deepEqual(body.results.map((r) => r.prompt), prompts);
    for (const r of body.results) {
      const alone = await post(app, [imagePart(fx.png), { name: 'text', value: r.prompt }]);
      assert.deepEqual((await maskOf(Buffer.from(r.mask_png_base64, 'base64'))).mask, (await maskOf(alone.rawPayload)).mask, r.prompt);
    }
  } finally {
    await app.close();
  }
});

test('GET /metrics: Prometheus text with requests by route and status, latency, queue and model load time; one access-log line per request', { skip }, async () => {
  const lines: { msg?: string; method?: string; url?: string; status?: number }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const { app } = await buildApp(fx.run, { modelLoadSeconds: 1.25, logger: { level: 'info', stream } });
  try {
    await assertStillServes(app);
    await app.inject({ method: 'GET', url: '/v1/nothing' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.body, /tgcnet_http_requests_total\{method="POST",route="\/v1\/segment",status="200"\} 1/);
    assert.match(res.body, /tgcnet_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    assert.match(res.body, /tgcnet_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/v1\/segment"\} 1/);
    assert.match(res.body, /tgcnet_queue_waiting 0/);
    assert.match(res.body, /tgcnet_model_load_seconds 1\.25/);
    const access = lines.filter((l) => l.msg === 'request');
    assert.deepEqual(access.map((l) => [l.method, l.url, l.status]), [['POST', '/v1/segment', 200], ['GET', '/v1/nothing', 404], ['GET', '/metrics', 200]]);
    assert.equal(lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed').length, 0, "Fastify's own two lines are off");
  } finally {
    await app.close();
  }
});

test('the live tensor count stays flat across good and bad requests', { skip }, async () => {
  const { app } = await buildApp(fx.run);
  try {
    await assertStillServes(app); // first request: lazily created state, if any, exists from here on
    const before = (await app.inject({ method: 'GET', url: '/v1/health' })).json();
    for (let i = 0; i < 4; i++) {
      await assertStillServes(app);
      await post(app, [imagePart(fx.png.subarray(0, 100)), { name: 'text', value: `${PROMPT} ${i}` }]);
      await post(app, [imagePart(fx.png), { name: 'text', value: `variant ${i}` }], { accept: 'application/json' });
    }
    const afterHealth = (await app.inject({ method: 'GET', url: '/v1/health' })).json();
    assert.equal(afterHealth.tensors, before.tensors);
    assert.equal(afterHealth.tensors, memory().tensors);
    assert.ok(afterHealth.ok);
    assert.ok(afterHealth.served >= 9);
    assert.ok(afterHealth.rss_bytes > 0);
  } finally {
    await app.close();
  }
});

test('closing the app refuses queued requests with 503 shutting_down and lets the running one finish', { skip }, async () => {
  const { app, queue } = await buildApp(fx.run, { queue: 4 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let finished = false;
  const running = queue.run(() => gate.then(() => (finished = true)));
  const queued = post(app, [imagePart(fx.png), { name: 'text', value: PROMPT }]);
  while (queue.depth === 0) await new Promise((r) => setTimeout(r, 5));
  const closing = app.close();
  await new Promise((r) => setTimeout(r, 20));
  release();
  await closing;
  await running;
  assert.ok(finished, 'the running job finished');
  assertJsonError(await queued, 503, 'shutting_down', /retry/);
});
