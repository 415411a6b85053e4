// A client that hangs up mid-upload: logged once at info level as a closed connection, never
// as a 500 with a stack trace (1000 slow sockets gave 1002 error lines before).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { buildApp } from './app.js';
import { type Fixture, makeFixture, PROMPT, skipWithoutBpe as skip } from './test_fixture.js';
import { multipartBody } from './testing.js';

let fx: Fixture;
before(async () => {
  if (!skip) fx = await makeFixture();
});
after(() => fx?.cleanup());

test('client aborts mid-body are info-level log lines, not errors, and the server keeps serving', { skip }, async () => {
  const lines: { level: number; msg?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const { app } = await buildApp(fx.run, { logger: { level: 'info', stream } });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = new URL(base);
    const body = multipartBody([
      { name: 'text', value: PROMPT },
      { name: 'image', filename: 'x.png', contentType: 'image/png', data: fx.png },
    ]);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((done) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          const head = Object.entries({ ...body.headers, 'content-length': String(body.payload.length) })
            .map(([k, v]) => `${k}: ${v}`)
            .join('\r\n');
          socket.write(`POST /v1/segment HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${head}\r\n\r\n`);
          socket.write(body.payload.subarray(0, Math.floor(body.payload.length / 2)));
          setTimeout(() => {
            socket.destroy();
            done();
          }, 100);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    const form = new FormData();
    form.append('image', new Blob([fx.png], { type: 'image/png' }), 'x.png');
    form.append('text', PROMPT);
    assert.equal((await fetch(`${base}/v1/segment`, { method: 'POST', body: form })).status, 200);
    const errors = lines.filter((l) => l.level >= 50);
    assert.deepEqual(errors, [], 'no error lines');
    assert.equal(lines.filter((l) => l.msg === 'client closed the connection').length, 5, JSON.stringify(lines.map((l) => l.msg)));
  } finally {
    await app.close();
  }
});
