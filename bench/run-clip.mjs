#!/usr/bin/env node
// CLIP vision benchmark runner: ClipVisionTower (bench/clip.mjs) against an independent PyTorch
// CLIP tower (bench/clip_twin.py), same weights and pixels (a temporary safetensors file the TS
// side writes and the twin reads), fp32, eval, no grad. Method as bench/run-engine.mjs (see
// bench/lib/runner.mjs): fresh processes per side and workload, warm-up alone, alternating turns,
// medians, same threads, same malloc tunables.
//
//   node bench/run-clip.mjs [--threads N] [--only b16_224_b1,...] [--turns-scale X]
//        [--python /usr/bin/python3] [--json-out FILE] [--malloc fixed|no-mmap|default] [--torch dist/index.js]
//        [--vision dist/clip/vision.js]
//
// Prints a table and one machine-readable line `CLIP_BENCH {...}`; exits 1 if a ratio misses 1.05.
import { spawnSync } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Side, alternate, median, parseArgs, printTable, sameChecks, sideEnv } from './lib/runner.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// turns per side, steps per turn, warm-up steps (after the checksum forward, which also warms).
// Batch 8 of ViT-L/14@336 is ~3 TFLOP per forward (10-30 s on 2 cores): 3 turns of 1 after 1 warm-up.
const WORKLOADS = [
  { key: 'b16_224_b1', label: 'ViT-B/16 @224, batch 1', turns: 10, perTurn: 2, warmup: 2 },
  { key: 'b16_224_b8', label: 'ViT-B/16 @224, batch 8', turns: 6, perTurn: 1, warmup: 1 },
  { key: 'b16_336_b1', label: 'ViT-B/16 @336 (pos. bicubic), batch 1', turns: 10, perTurn: 1, warmup: 2 },
  { key: 'b16_336_b8', label: 'ViT-B/16 @336 (pos. bicubic), batch 8', turns: 4, perTurn: 1, warmup: 1 },
  { key: 'l14_336_b1', label: 'ViT-L/14 @336, batch 1', turns: 5, perTurn: 1, warmup: 1 },
  { key: 'l14_336_b8', label: 'ViT-L/14 @336, batch 8', turns: 3, perTurn: 1, warmup: 1 },
];
const TARGET = 1.05;

/** Matmul/attention FLOPs of one forward (2 per multiply-add), batch included. */
function flops(key) {
  const m = /^(b16|l14)_(\d+)_b(\d+)$/.exec(key);
  const [W, layers, patch, E] = m[1] === 'b16' ? [768, 12, 16, 512] : [1024, 24, 14, 768];
  const size = Number(m[2]);
  const B = Number(m[3]);
  const g = size / patch;
  const L = g * g + 1;
  const conv = 2 * g * g * W * 3 * patch * patch;
  const block = 2 * L * 12 * W * W + 2 * 2 * L * L * W; // qkv+out (4 W^2) + MLP (8 W^2); QK^T and AV
  return B * (conv + layers * block + 2 * W * E);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), {
    threads: availableParallelism(), only: null, turnsScale: 1, python: '/usr/bin/python3', jsonOut: null,
    torch: null, vision: null, noMallocTune: false, malloc: null,
  }, ['noMallocTune']);
  opts.mallocTune = !opts.noMallocTune;
  opts.malloc = opts.malloc ?? (opts.mallocTune ? 'no-mmap' : 'default');
  const only = opts.only ? opts.only.split(',') : null;
  const selected = WORKLOADS.filter((w) => !only || only.includes(w.key));
  const t0 = Date.now();
  const rows = [];
  for (const w of selected) {
    const weights = join(tmpdir(), `tgcnet-clip-bench-${process.pid}-${w.key}.safetensors`);
    const common = ['--workload', w.key, '--threads', String(opts.threads), '--warmup', String(w.warmup), '--serve'];
    const extra = {};
    if (opts.torch) extra.ENGINE_BENCH_TORCH = opts.torch;
    if (opts.vision) extra.CLIP_BENCH_VISION = opts.vision;
    const turns = Math.max(1, Math.round(w.turns * opts.turnsScale));
    let r;
    try {
      // Weights and pixels are written by a process of their own (see clip.mjs --prepare).
      const prep = spawnSync(process.execPath, [join(here, 'clip.mjs'), '--workload', w.key, '--threads', String(opts.threads), '--prepare', weights], {
        env: sideEnv(opts, extra), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (prep.status !== 0) throw new Error(`prepare ${w.key} failed:\n${prep.stderr}`);
      r = await alternate({
        makeTs: () => new Side('ts', process.execPath, [join(here, 'clip.mjs'), ...common], sideEnv(opts, extra)),
        makePy: () => new Side('py', opts.python, [join(here, 'clip_twin.py'), ...common, '--weights', weights], sideEnv(opts)),
        turns,
        perTurn: w.perTurn,
      });
    } finally {
      try {
        unlinkSync(weights);
      } catch {
        // not written
      }
    }
    const { samples, tsInfo, pyInfo, tsDone, usage } = r;
    const tsMed = median(samples.ts);
    const pyMed = median(samples.py);
    const chk = sameChecks(tsInfo.check, pyInfo.check);
    const f = flops(w.key);
    rows.push({
      workload: w.key, label: w.label, tokens: tsInfo.tokens, turns, per_turn: w.perTurn,
      ts_ms: tsMed, py_ms: pyMed, ratio: tsMed / pyMed, target: TARGET, pass: tsMed / pyMed <= TARGET,
      ts_min_ms: Math.min(...samples.ts), py_min_ms: Math.min(...samples.py),
      ratio_of_mins: Math.min(...samples.ts) / Math.min(...samples.py),
      gflop: f / 1e9, ts_gflops: f / tsMed / 1e6, py_gflops: f / pyMed / 1e6,
      samples: { ts: samples.ts.length, py: samples.py.length },
      check: { ts: tsInfo.check, py: pyInfo.check, worst_rel: chk.worst, same: chk.same },
      ts_live_tensors_after: tsDone.live_tensors,
          usage,
      raw: samples,
    });
  }
  console.log(
    `CLIP vision benchmark: threads=${opts.threads}, fp32, eval + no grad, alternating turns, median of pooled samples, ` +
      `malloc: ${opts.malloc} (both sides)` +
      (opts.torch ? `, torch from ${opts.torch}` : '') + (opts.vision ? `, vision from ${opts.vision}` : ''),
  );
  printTable(rows, [
    { title: 'workload', width: 40, get: (r) => r.label },
    { title: 'n', width: 5, right: true, get: (r) => `${r.samples.ts}` },
    { title: 'GFLOP', width: 7, right: true, get: (r) => r.gflop.toFixed(0) },
    { title: 'TS ms', width: 9, right: true, get: (r) => r.ts_ms.toFixed(1) },
    { title: 'PyTorch ms', width: 10, right: true, get: (r) => r.py_ms.toFixed(1) },
    { title: 'ratio', width: 6, right: true, get: (r) => r.ratio.toFixed(3) },
    { title: 'target', width: 6, right: true, get: () => `<=${TARGET}` },
    { title: 'pass', width: 4, right: true, get: (r) => (r.pass ? 'PASS' : 'FAIL') },
    { title: 'same', width: 4, right: true, get: (r) => (r.check.same ? 'yes' : 'NO') },
    { title: 'ratio(min)', width: 10, right: true, get: (r) => r.ratio_of_mins.toFixed(3) },
    { title: 'TS GF/s', width: 7, right: true, get: (r) => r.ts_gflops.toFixed(0) },
    { title: 'Py GF/s', width: 7, right: true, get: (r) => r.py_gflops.toFixed(0) },
      { title: 'kflt TS/Py', width: 11, right: true, get: (r) => `${(r.usage.ts.faults / 1e3).toFixed(0)}/${(r.usage.py.faults / 1e3).toFixed(0)}` },
    { title: 'sys ms TS/Py', width: 12, right: true, get: (r) => `${r.usage.ts.sys_ms.toFixed(0)}/${r.usage.py.sys_ms.toFixed(0)}` },
  ]);
  console.log(
    '(n = timed samples per side; ratio = TS/PyTorch of the medians, which decides pass/fail; ratio(min) = of the fastest ' +
      'samples; same = pooled-embedding sum and abs-sum agree to 1e-3; GFLOP = matmul/conv/attention FLOPs per forward; ' +
      'kflt = page faults per step (thousands), sys ms = kernel CPU time per step; ' +
      `took ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const summary = {
    bench: 'clip', threads: opts.threads, malloc: opts.malloc, node: process.version,
    torch_dist: opts.torch ?? 'packages/torch/dist', vision_dist: opts.vision ?? 'packages/tgcnet/dist/clip/vision.js',
    results: rows.map(({ label, raw, ...r }) => r),
  };
  console.log(`CLIP_BENCH ${JSON.stringify(summary)}`);
  if (opts.jsonOut) {
    writeFileSync(opts.jsonOut, JSON.stringify({ ...summary, results: rows.map(({ label, raw, ...r }) => ({ ...r, samples_ms: raw })) }) + '\n');
  }
  process.exitCode = rows.some((r) => !r.pass) ? 1 : 0;
}

await main();
