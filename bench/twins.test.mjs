// The benchmarks' PyTorch twins against the TS side, in seconds (npm test runs this file):
// - `node bench/run-model.mjs --smoke`: the `tiny` preset and variants of it, one step per side,
//   checksums (loss, gradient abs-sums) compared; it exits 1 when they differ or a side fails;
// - `node bench/run-engine.mjs --only smallops --turns 1`: the engine runner end to end, checksums
//   compared (its ratio target is not: one turn on a shared machine says nothing about speed).
// Both need /usr/bin/python3 (or $BENCH_PYTHON) with torch (Debian's python3-torch); without it
// they are skipped, with the reason.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.BENCH_PYTHON || '/usr/bin/python3';

/** Why the twins cannot run here, or null when they can. */
function noTorch() {
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `${PYTHON} cannot be run (${r.error.code ?? r.error.message}); the PyTorch twins need it with torch (Debian: apt-get install python3-torch)`;
  if (r.status !== 0) return `${PYTHON} cannot import torch; the PyTorch twins need it (Debian: apt-get install python3-torch)`;
  return null;
}

const skip = noTorch();

/** Runs node on a bench script; resolves with its exit code and output (killed after timeoutMs). */
function runNode(args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

function summary(out, tag) {
  const line = out.split('\n').find((l) => l.startsWith(`${tag} `));
  assert.ok(line, `no ${tag} line in the output:\n${out}`);
  return JSON.parse(line.slice(tag.length + 1));
}

test('model bench --smoke: the TS model and bench/model_twin.py compute the same training step (tiny and variants)', { skip: skip ?? false, timeout: 300_000 }, async () => {
  const r = await runNode([join(here, 'run-model.mjs'), '--smoke', '--threads', '1', '--python', PYTHON], 280_000);
  assert.equal(r.code, 0, `run-model.mjs --smoke exited ${r.code ?? r.signal}:\n${r.out}`);
  const s = summary(r.out, 'MODEL_BENCH');
  assert.ok(s.results.length >= 5, `expected every smoke workload, got ${s.results.length}`);
  for (const row of s.results) assert.ok(row.check.same, `${row.preset} ${row.set.join(' ')} ${row.workload}: checksums differ: ${JSON.stringify(row.check)}`);
  assert.ok(s.results.some((row) => row.workload === 'step'));
});

test('engine bench: run-engine.mjs runs both sides and their checksums agree (smallops, 1 turn)', { skip: skip ?? false, timeout: 120_000 }, async () => {
  const r = await runNode([join(here, 'run-engine.mjs'), '--only', 'smallops', '--turns', '1', '--threads', '1', '--python', PYTHON], 100_000);
  // Exit 1 is a missed ratio target (timing, not checked here); anything else is a failure.
  assert.ok(r.code === 0 || r.code === 1, `run-engine.mjs exited ${r.code ?? r.signal}:\n${r.out}`);
  const s = summary(r.out, 'ENGINE_BENCH');
  assert.deepEqual(s.results.map((row) => row.workload), ['smallops']);
  for (const row of s.results) assert.ok(row.check.same, `${row.workload}: checksums differ: ${JSON.stringify(row.check)}`);
});
