#!/usr/bin/env node
// TGC-Net benchmark runner: training steps of TgcNet (bench/model.mjs) and of its stages against
// the PyTorch twin (bench/model_twin.py), batch 1, fp32, CPU, frozen CLIP under no-grad.
// Per preset, the TS side first writes one safetensors file (config as metadata, weights,
// inputs, the real intermediate tensors that feed each stage); both sides then read it, so
// the checksums compare the same computation. Method as bench/run-engine.mjs (bench/lib/runner.mjs):
// fresh processes per side and workload, warm-up alone, alternating turns, medians, same threads,
// same malloc tunables. FLOPs come from the twin's dispatch-mode counter (bench/lib/twinlib.py:
// 2 per multiply-add of every mm/addmm/bmm/baddbmm/convolution/convolution_backward executed).
//
//   node bench/run-model.mjs [--presets b16,paper] [--set key=value ...] [--only matmul,clip,cnn,sse,head,step]
//        [--turns-scale X] [--threads N] [--python /usr/bin/python3] [--json-out FILE]
//        [--malloc fixed|no-mmap|default] [--torch dist/index.js] [--tgcnet packages/tgcnet/dist/]
//   node bench/run-model.mjs --smoke [--threads 1] [--only ...]
//
// Prints a table per preset and one line `MODEL_BENCH {...}`; exits 1 if a ratio misses 1.05
// or the two sides' checksums differ.
// --smoke checks the twin, not the speed (npm test runs it, bench/model.test.mjs): the `tiny`
// preset and variants of it that switch on the config fields tiny leaves off (SMOKE below),
// one timed step per side after no warm-up, 1 thread unless --threads; no ratio targets; exits 1
// when a checksum differs by more than 1e-5 relative or a side fails. About 25 s on 2 cores.
import { spawnSync } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Side, alternate, median, parseArgs, printTable, sameChecks, sideEnv } from './lib/runner.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const TARGET = 1.05;
// Checksums must agree to this (relative). The smoke runs are single-threaded on tiny inputs,
// where the two sides agree to ~1e-7, so a tighter bound catches small twin errors.
const CHECK_TOL = 1e-3;
const SMOKE_CHECK_TOL = 1e-5;

// Turns per side and steps per turn, by preset. A b16 step is ~15 s and a paper step ~25 s on
// 2 cores (loaded), so the big workloads get 3 turns of 1 step after 1 warm-up (and the
// checksum step, which also warms).
const WORKLOADS = {
  matmul: { label: 'matmul 2048x2048 fp32 (peak)', turns: { b16: 8, paper: 8 }, perTurn: 4, warmup: 2 },
  clip: { label: 'CLIP ViT fwd, no-grad (taps+dense)', turns: { b16: 6, paper: 4 }, perTurn: 1, warmup: 1 },
  cnn: { label: 'CNN branch @768 fwd+bwd', turns: { b16: 8, paper: 8 }, perTurn: 2, warmup: 2 },
  sse: { label: 'SSE (proj + 3 deform. layers) fwd+bwd', turns: { b16: 3, paper: 3 }, perTurn: 1, warmup: 1 },
  head: { label: 'DATE+VLCM+decoder fwd+bwd', turns: { b16: 4, paper: 4 }, perTurn: 1, warmup: 1 },
  step: { label: 'full step fwd+bwd', turns: { b16: 3, paper: 3 }, perTurn: 1, warmup: 1 },
};

// --smoke: tiny with every stage, then tiny with the other decoder gates, the text-pixel
// objective, the other alignments, DATE without aux, no SSE layers, and dropout on (the
// checksums then run with the Dropout modules off, the timed steps with them on).
const SMOKE = [
  { preset: 'tiny', set: [], only: ['clip', 'cnn', 'sse', 'head', 'step'] },
  { preset: 'tiny', set: ['decoder.gateGrid=4', 'objective.textPixel=0.5'], only: ['head', 'step'] },
  { preset: 'tiny', set: ['decoder.gateUnion=true', 'alignment=bidirectional', 'dropout=0.1'], only: ['step'] },
  { preset: 'tiny', set: ['text=main-only', 'alignment=none', 'modules.sse=false', 'decoder.gateUnion=true'], only: ['step'] },
];

function total(flops) {
  return Object.values(flops ?? {}).reduce((a, b) => a + b, 0);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), {
    presets: 'b16,paper', set: [], only: null, turnsScale: 1, threads: null, python: '/usr/bin/python3', jsonOut: null,
    torch: null, tgcnet: null, noMallocTune: false, malloc: null, smoke: false,
  }, ['noMallocTune', 'smoke']);
  opts.threads = opts.threads === null ? (opts.smoke ? 1 : availableParallelism()) : Number(opts.threads);
  opts.mallocTune = !opts.noMallocTune;
  opts.malloc = opts.malloc ?? (opts.mallocTune ? 'no-mmap' : 'default');
  const only = opts.only ? opts.only.split(',') : null;
  const plan = opts.smoke
    ? SMOKE.map((v) => ({ ...v, only: only ? v.only.filter((k) => only.includes(k)) : v.only }))
    : opts.presets.split(',').map((preset) => ({ preset, set: opts.set, only: only ?? Object.keys(WORKLOADS) }));
  const extra = {};
  if (opts.torch) extra.ENGINE_BENCH_TORCH = opts.torch;
  if (opts.tgcnet) extra.MODEL_BENCH_TGCNET = new URL(opts.tgcnet.endsWith('/') ? opts.tgcnet : `${opts.tgcnet}/`, 'file:///').href;
  const t0 = Date.now();
  const all = [];
  let peak = null;
  const failures = [];
  for (const [n, { preset, set, only: keys }] of plan.entries()) {
    const name = set.length ? `${preset} ${set.join(' ')}` : preset;
    const setArgs = set.flatMap((kv) => ['--set', kv]);
    const data = join(tmpdir(), `tgcnet-model-bench-${process.pid}-${n}-${preset}.safetensors`);
    const prep = spawnSync(process.execPath, [join(here, 'model.mjs'), '--preset', preset, ...setArgs, '--prepare', data, '--threads', String(opts.threads)], {
      env: sideEnv(opts, extra), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (prep.status !== 0) throw new Error(`prepare ${name} failed:\n${prep.stderr}`);
    const rows = [];
    try {
      for (const key of Object.keys(WORKLOADS).filter((k) => keys.includes(k))) {
        if (key === 'matmul' && peak !== null) continue; // measured once
        const w = WORKLOADS[key];
        const warmup = opts.smoke ? 0 : w.warmup;
        const common = ['--workload', key, '--preset', preset, '--data', data, '--threads', String(opts.threads), '--warmup', String(warmup), '--serve'];
        // Presets without their own turn counts (small, tiny) get b16's.
        const turns = opts.smoke ? 1 : Math.max(1, Math.round((w.turns[preset] ?? w.turns.b16) * opts.turnsScale));
        const perTurn = opts.smoke ? 1 : w.perTurn;
        let r;
        try {
          r = await alternate({
            makeTs: () => new Side('ts', process.execPath, [join(here, 'model.mjs'), ...common, ...setArgs], sideEnv(opts, extra)),
            makePy: () => new Side('py', opts.python, [join(here, 'model_twin.py'), ...common, '--count-flops'], sideEnv(opts)),
            turns,
            perTurn,
          });
        } catch (e) {
          if (!opts.smoke) throw e;
          failures.push(`${name} ${key}: ${e.message}`);
          process.stderr.write(`  ${name} ${key}: FAILED\n${e.message}\n`);
          continue;
        }
        const { samples, tsInfo, pyInfo, tsDone, usage } = r;
        const tsMed = median(samples.ts);
        const pyMed = median(samples.py);
        const chk = sameChecks(tsInfo.check, pyInfo.check, opts.smoke ? SMOKE_CHECK_TOL : CHECK_TOL);
        const flops = total(pyInfo.flops);
        const row = {
          preset, set, workload: key, label: w.label, turns, per_turn: perTurn,
          ts_ms: tsMed, py_ms: pyMed, ratio: tsMed / pyMed, target: opts.smoke ? null : TARGET, pass: opts.smoke ? null : tsMed / pyMed <= TARGET,
          ts_min_ms: Math.min(...samples.ts), py_min_ms: Math.min(...samples.py),
          ratio_of_mins: Math.min(...samples.ts) / Math.min(...samples.py),
          gflop: flops / 1e9, flops_by_op: pyInfo.flops, ts_gflops: flops / tsMed / 1e6, py_gflops: flops / pyMed / 1e6,
          samples: { ts: samples.ts.length, py: samples.py.length },
          check: { ts: tsInfo.check, py: pyInfo.check, worst_rel: chk.worst, same: chk.same },
          ts_live_tensors_after: tsDone.live_tensors,
          usage,
          raw: samples,
        };
        if (key === 'matmul') peak = row;
        rows.push(row);
        all.push(row);
        if (!chk.same) failures.push(`${name} ${key}: checksums differ (worst relative ${chk.worst.toExponential(2)}): TS ${JSON.stringify(tsInfo.check)}, PyTorch ${JSON.stringify(pyInfo.check)}`);
        process.stderr.write(`  ${name} ${key}: TS ${tsMed.toFixed(1)} ms, PyTorch ${pyMed.toFixed(1)} ms, checksums ${chk.same ? 'same' : 'DIFFER'} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
      }
    } finally {
      try {
        unlinkSync(data);
      } catch {
        // not written
      }
    }
    const peakTs = peak ? peak.ts_gflops : NaN;
    const peakPy = peak ? peak.py_gflops : NaN;
    console.log(
      `\nTGC-Net '${name}', batch 1, fp32, CPU: threads=${opts.threads}, ${opts.smoke ? 'smoke (1 step per side, no targets)' : 'alternating turns, median of pooled samples'}, ` +
        `malloc: ${opts.malloc} (both sides)` +
        (opts.torch ? `, torch from ${opts.torch}` : '') + (opts.tgcnet ? `, tgcnet from ${opts.tgcnet}` : ''),
    );
    printTable(rows, [
      { title: 'stage', width: 38, get: (r) => r.label },
      { title: 'n', width: 3, right: true, get: (r) => `${r.samples.ts}` },
      { title: 'TS ms', width: 9, right: true, get: (r) => r.ts_ms.toFixed(1) },
      { title: 'PyTorch ms', width: 10, right: true, get: (r) => r.py_ms.toFixed(1) },
      { title: 'ratio', width: 6, right: true, get: (r) => r.ratio.toFixed(3) },
      { title: 'pass', width: 4, right: true, get: (r) => (r.pass === null ? '-' : r.pass ? 'PASS' : 'FAIL') },
      { title: 'same', width: 4, right: true, get: (r) => (r.check.same ? 'yes' : 'NO') },
      { title: 'r(min)', width: 6, right: true, get: (r) => r.ratio_of_mins.toFixed(3) },
      { title: 'GFLOP', width: 7, right: true, get: (r) => r.gflop.toFixed(1) },
      { title: 'TS GF/s', width: 7, right: true, get: (r) => r.ts_gflops.toFixed(0) },
      { title: 'Py GF/s', width: 7, right: true, get: (r) => r.py_gflops.toFixed(0) },
      { title: '% peak', width: 6, right: true, get: (r) => (r.workload === 'matmul' ? '100' : peak ? ((100 * r.ts_gflops) / peakTs).toFixed(0) : '-') },
          { title: 'kflt TS/Py', width: 11, right: true, get: (r) => `${(r.usage.ts.faults / 1e3).toFixed(0)}/${(r.usage.py.faults / 1e3).toFixed(0)}` },
      { title: 'sys ms TS/Py', width: 12, right: true, get: (r) => `${r.usage.ts.sys_ms.toFixed(0)}/${r.usage.py.sys_ms.toFixed(0)}` },
    ]);
    const stages = rows.filter((r) => ['clip', 'cnn', 'sse', 'head'].includes(r.workload));
    const step = rows.find((r) => r.workload === 'step');
    if (stages.length === 4 && step) {
      const sumTs = stages.reduce((s, r) => s + r.ts_ms, 0);
      const sumPy = stages.reduce((s, r) => s + r.py_ms, 0);
      console.log(`(sum of the four stages: TS ${sumTs.toFixed(0)} ms, PyTorch ${sumPy.toFixed(0)} ms; full step ${step.ts_ms.toFixed(0)} / ${step.py_ms.toFixed(0)} ms)`);
    }
    console.log(
      (peak ? `(% peak = TS GFLOP/s over the TS matmul peak ${peakTs.toFixed(0)} GFLOP/s (PyTorch's: ${peakPy.toFixed(0)}); ` : '(') +
        'GFLOP = matmul+conv FLOPs counted on the twin per step, forward and backward; grid_sample, norms and elementwise ops are not counted)',
    );
  }
  console.log(
    `(n = timed samples per side; ratio = TS/PyTorch of the medians, which decides pass/fail; r(min) = of the fastest samples; ` +
      `same = checksums (loss, gradient abs-sums) agree to ${opts.smoke ? SMOKE_CHECK_TOL : CHECK_TOL}; kflt = page faults per step (thousands), sys ms = kernel CPU ms per step; took ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const summary = {
    bench: 'model', smoke: opts.smoke, threads: opts.threads, malloc: opts.malloc, node: process.version,
    torch_dist: opts.torch ?? 'packages/torch/dist', tgcnet_dist: opts.tgcnet ?? 'packages/tgcnet/dist',
    results: all.map(({ label, raw, ...r }) => r),
  };
  console.log(`MODEL_BENCH ${JSON.stringify(summary)}`);
  if (opts.jsonOut) writeFileSync(opts.jsonOut, JSON.stringify({ ...summary, results: all.map(({ label, raw, ...r }) => ({ ...r, samples_ms: raw })) }) + '\n');
  for (const f of failures) console.error(`model bench: ${f}`);
  process.exitCode = failures.length > 0 || all.some((r) => r.pass === false || !r.check.same) ? 1 : 0;
}

await main();
