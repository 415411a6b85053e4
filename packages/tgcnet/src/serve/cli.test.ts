// The real `tgcnet serve` process: it listens on loopback, answers, and on SIGINT closes
// cleanly (exit 0); a missing API key variable is refused before anything loads.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Fixture, makeFixture, skipWithoutBpe as skip } from './test_fixture.js';

const BIN = fileURLToPath(new URL('../../bin/tgcnet.js', import.meta.url));

let fx: Fixture;
before(async () => {
  if (!skip) fx = await makeFixture();
});
after(() => fx?.cleanup());

test('tgcnet serve listens on 127.0.0.1, answers, and exits 0 on SIGINT', { skip }, async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '--checkpoint', join(fx.dir, 'run'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /at (http:\/\/127\.0\.0\.1:\d+) /.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const health = (await (await fetch(`${url}/v1/health`)).json()) as { ok: boolean };
    assert.equal(health.ok, true);
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGINT: finishing the running request/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('--api-key-env naming an unset variable is refused with the fix', () => {
  const env = { ...process.env };
  delete env.TGCNET_TEST_NO_SUCH_KEY;
  const r = spawnSync(process.execPath, [BIN, 'serve', '--checkpoint', 'nowhere', '--api-key-env', 'TGCNET_TEST_NO_SUCH_KEY'], { env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /TGCNET_TEST_NO_SUCH_KEY is not set or empty: export TGCNET_TEST_NO_SUCH_KEY=<key>/);
});
