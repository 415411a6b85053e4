import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const bin = fileURLToPath(new URL('../../bin/tgcnet.js', import.meta.url));

test('tgcnet --help lists the commands', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /demo/);
  assert.match(r.stdout, /train/);
  assert.match(r.stdout, /eval/);
  assert.match(r.stdout, /info/);
});

test('tgcnet engine-demo trains and reports JSON', () => {
  const r = spawnSync(process.execPath, [bin, 'engine-demo', '--steps', '60', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(out.finalLoss < out.firstLoss);
  assert.equal(out.liveTensors, 0);
});

test('bad arguments give a message and a non-zero exit', () => {
  const r = spawnSync(process.execPath, [bin, 'engine-demo', '--steps', 'ten'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /expected a positive integer, got 'ten'/);
});

test('without the libtorch addon, --help still works and commands say how to fix it', () => {
  const env = { ...process.env, TGCNET_TORCH_ADDON: '/nonexistent/torch_native.node' };
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', env });
  assert.equal(help.status, 0);
  const r = spawnSync(process.execPath, [bin, 'info'], { encoding: 'utf8', env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /libtorch addon is not built .*bash scripts\/setup\.sh/);
});
