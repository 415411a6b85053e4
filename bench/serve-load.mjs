#!/usr/bin/env node
// Load and reliability of `tgcnet serve` (issue 6), then single-request latency per preset.
//
//   node bench/serve-load.mjs [--checkpoint <run>] [--requests 200] [--clients 16] [--queue 8]
//        [--presets small,b16] [--latency-runs 10] [--rss-bound-mb 100]
//
// 1. Starts the real CLI (`tgcnet serve --port 0`) on --checkpoint, or on a `small` preset run
//    with random weights written to a temporary folder.
// 2. Warms it up (5 requests), reads /v1/health (live tensors, RSS), then fires --requests
//    POST /v1/segment from --clients concurrent clients on loopback. A 503 is the documented
//    answer of a full queue: the client waits Retry-After seconds and sends it again. Any other
//    failure, or a request that never gets its mask, counts as lost.
// 3. Reads /v1/health again, stops the server with SIGTERM, checks it exits 0.
// 4. In this process: segment() latency at batch 1 for each preset, random weights.
// Fails (exit 1) on a lost request, live tensor growth > 0, RSS growth > --rss-bound-mb, or
// an unclean shutdown. Prints a table and one line starting with SERVE_BENCH (JSON).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = (p) => new URL(`../packages/tgcnet/dist/${p}`, import.meta.url).href;
const { writeRandomRun } = await import(dist('serve/random_run.js'));
const { testPng, PROMPT } = await import(dist('serve/test_fixture.js'));
const { EXAMPLE_PROMPTS } = await import(dist('serve/viewer/examples.js'));

function parseArgs(argv) {
  const o = { checkpoint: null, requests: 200, clients: 16, queue: 8, presets: 'small,b16', latencyRuns: 10, rssBoundMb: 100 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in o)) throw new Error(`unknown option ${argv[i]}`);
    o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const tmp = mkdtempSync(join(tmpdir(), 'tgcnet-serve-bench-'));
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const mb = (b) => b / (1024 * 1024);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `tgcnet serve` and resolves with its base URL and the child process. */
function startServer(checkpoint, queue) {
  const bin = fileURLToPath(new URL('../packages/tgcnet/bin/tgcnet.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'serve', '--checkpoint', checkpoint, '--port', '0', '--queue', String(queue), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/[^ ]+) \(viewer/.exec(out);
      if (m) resolve({ url: m[1], child, stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}) before listening:\n${stderr}`)));
  });
}

async function health(url) {
  return (await fetch(`${url}/v1/health`)).json();
}

async function loadTest(url, image) {
  let next = 0;
  const latencies = [];
  let retries503 = 0;
  const failures = [];
  const prompts = [PROMPT, ...EXAMPLE_PROMPTS];
  async function client() {
    for (;;) {
      const i = next++;
      if (i >= opts.requests) return;
      const started = performance.now();
      for (let attempt = 0; ; attempt++) {
        const form = new FormData();
        form.append('image', new Blob([image], { type: 'image/png' }), 'x.png');
        form.append('text', prompts[i % prompts.length]);
        let res;
        try {
          res = await fetch(`${url}/v1/segment`, { method: 'POST', body: form });
        } catch (err) {
          failures.push(`request ${i}: ${err.message}`);
          break;
        }
        if (res.status === 503 && attempt < 50) {
          retries503++;
          const after = Number(res.headers.get('retry-after'));
          await res.arrayBuffer();
          await sleep((Number.isFinite(after) && after > 0 ? after : 1) * 1000);
          continue;
        }
        const body = Buffer.from(await res.arrayBuffer());
        const pngSignature = body.length > 8 && body[0] === 0x89 && body[1] === 0x50;
        if (res.status !== 200 || !pngSignature) failures.push(`request ${i}: ${res.status} ${body.toString('utf8', 0, 200)}`);
        else latencies.push(performance.now() - started);
        break;
      }
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.clients }, client));
  return { latencies, retries503, failures, seconds: (performance.now() - t0) / 1000 };
}

async function presetLatency(preset) {
  const { loadRun } = await import(dist('run/checkpoint.js'));
  const { segment } = await import(dist('infer/segment.js'));
  const { memory } = await import(new URL('../packages/torch/dist/index.js', import.meta.url).href);
  const dir = writeRandomRun(join(tmp, `latency-${preset}`), { preset });
  const run = loadRun(dir);
  try {
    const side = 512;
    const data = new Uint8Array(side * side);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    const image = { width: side, height: side, data };
    await segment(run, image, PROMPT); // warm-up: first-touch allocations, OpenMP thread start
    const runs = preset === 'b16' ? Math.min(opts.latencyRuns, 5) : opts.latencyRuns;
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await segment(run, image, PROMPT);
      ms.push(performance.now() - t0);
    }
    return { preset, runs, p50_ms: quantile(ms, 0.5), min_ms: Math.min(...ms), max_ms: Math.max(...ms), cnn_input: run.run.model.cnnInput, vit_input: run.run.model.vitInput, live_tensors_with_model: memory().tensors };
  } finally {
    run.model.dispose();
  }
}

const result = { ok: true, problems: [] };
try {
  const checkpoint = opts.checkpoint ?? writeRandomRun(join(tmp, 'small'), { preset: 'small' });
  result.checkpoint = opts.checkpoint ?? 'small preset, random weights (temporary)';
  const image = await testPng(224, 224);
  const server = await startServer(checkpoint, opts.queue);
  const cold = await health(server.url);
  for (let i = 0; i < 5; i++) {
    const f = new FormData();
    f.append('image', new Blob([image], { type: 'image/png' }), 'x.png');
    f.append('text', PROMPT);
    await (await fetch(`${server.url}/v1/segment`, { method: 'POST', body: f })).arrayBuffer();
  }
  const before = await health(server.url);
  const load = await loadTest(server.url, image);
  const afterLoad = await health(server.url);
  const t0 = performance.now();
  server.child.kill('SIGTERM');
  const exitCode = await new Promise((r) => server.child.on('exit', (code) => r(code)));
  const shutdownMs = performance.now() - t0;

  result.load = {
    requests: opts.requests,
    clients: opts.clients,
    queue: opts.queue,
    served: load.latencies.length,
    lost: opts.requests - load.latencies.length,
    failures: load.failures.slice(0, 5),
    retries_after_503: load.retries503,
    seconds: load.seconds,
    throughput_rps: load.latencies.length / load.seconds,
    p50_ms: quantile(load.latencies, 0.5),
    p95_ms: quantile(load.latencies, 0.95),
    tensors: { cold: cold.tensors, before: before.tensors, after: afterLoad.tensors },
    rss_mb: { cold: mb(cold.rss_bytes), before: mb(before.rss_bytes), after: mb(afterLoad.rss_bytes) },
    shutdown: { exit_code: exitCode, ms: shutdownMs },
  };
  if (load.latencies.length !== opts.requests) result.problems.push(`${opts.requests - load.latencies.length} requests lost: ${load.failures.slice(0, 3).join('; ')}`);
  if (afterLoad.tensors !== before.tensors) result.problems.push(`live tensors grew from ${before.tensors} to ${afterLoad.tensors}`);
  const growth = mb(afterLoad.rss_bytes - before.rss_bytes);
  if (growth > opts.rssBoundMb) result.problems.push(`RSS grew by ${growth.toFixed(1)} MB (bound ${opts.rssBoundMb} MB)`);
  if (exitCode !== 0) result.problems.push(`serve exited ${exitCode} on SIGTERM:\n${server.stderr()}`);

  const L = result.load;
  console.log(`serve load: ${L.requests} requests, ${L.clients} clients, queue ${L.queue} (${result.checkpoint})`);
  console.log(`  served ${L.served}, lost ${L.lost}, 503 answers retried ${L.retries_after_503}, ${L.seconds.toFixed(1)} s, ${L.throughput_rps.toFixed(1)} req/s`);
  console.log(`  latency per request (queue wait and retries included): p50 ${L.p50_ms.toFixed(0)} ms, p95 ${L.p95_ms.toFixed(0)} ms`);
  console.log(`  live tensors: cold ${L.tensors.cold}, before ${L.tensors.before}, after ${L.tensors.after} (bound: no growth)`);
  console.log(`  RSS: cold ${L.rss_mb.cold.toFixed(0)} MB, before ${L.rss_mb.before.toFixed(0)} MB, after ${L.rss_mb.after.toFixed(0)} MB (bound: +${opts.rssBoundMb} MB)`);
  console.log(`  SIGTERM: exit ${exitCode} after ${shutdownMs.toFixed(0)} ms`);

  result.latency = [];
  for (const preset of opts.presets.split(',').filter(Boolean)) {
    const r = await presetLatency(preset);
    result.latency.push(r);
    console.log(`segment() latency, ${preset} preset (random weights), batch 1, 512x512 input resized to CNN ${r.cnn_input} / ViT ${r.vit_input}: p50 ${r.p50_ms.toFixed(0)} ms (min ${r.min_ms.toFixed(0)}, max ${r.max_ms.toFixed(0)}, ${r.runs} runs)`);
  }
} catch (err) {
  result.problems.push(err.stack ?? String(err));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
result.ok = result.problems.length === 0;
for (const p of result.problems) console.error(`FAIL: ${p}`);
console.log(`SERVE_BENCH ${JSON.stringify(result)}`);
process.exit(result.ok ? 0 : 1);
