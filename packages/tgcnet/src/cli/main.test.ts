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

test('usage errors exit 2 with one line and a pointer to --help, not the whole help page', () => {
  const unknown = spawnSync(process.execPath, [bin, 'train', '--data', 'x', '--out', 'y', '--bogus'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr, "tgcnet: unknown option '--bogus'\n(add --help for usage)\n");
  const missing = spawnSync(process.execPath, [bin, 'eval', '-c', 'runs/x'], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^tgcnet: required option '-d, --data <dir>' not specified\n\(add --help for usage\)\n$/);
  const bad = spawnSync(process.execPath, [bin, 'train', '-d', 'x', '-o', 'y', '--mask-threshold', '300'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /expected an integer from 0 to 254/);
  const badLr = spawnSync(process.execPath, [bin, 'demo', '--lr', '0'], { encoding: 'utf8' });
  assert.equal(badLr.status, 2);
  assert.match(badLr.stderr, /--lr/);
  const help = spawnSync(process.execPath, [bin, 'train', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /-d, --data <dir> +dataset folder or manifest \(required\)/);
  assert.match(help.stdout, /--epochs <n> +epochs \(default: 20\)/);
});

test('short flags as nnU-Net and MONAI users type them: -c -i -t -o reach the command', () => {
  const r = spawnSync(process.execPath, [bin, 'predict', '-c', 'no/such/run', '-i', 'x.png', '-t', 'lesion.', '-o', 'm.png', '--aux-prompts', 'offline'], { encoding: 'utf8' });
  assert.equal(r.status, 1, 'a runtime error, not a usage error');
  assert.match(r.stderr, /checkpoint no\/such\/run does not exist/);
});
