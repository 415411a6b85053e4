#!/usr/bin/env node
// Engine benchmark runner: the TypeScript side (bench/engine.mjs) against its PyTorch twin
// (bench/engine_twin.py, Debian python3-torch). Same libtorch, same thread count.
//
//   node bench/run-engine.mjs [--threads N] [--turns T] [--only conv,smallops,...]
//        [--python /usr/bin/python3] [--json-out FILE] [--no-malloc-tune]
//        [--torch /path/to/other/dist/index.js]
//
// Each workload gets one fresh TS process and one fresh Python process. Each sets up, computes
// its checksum and warms up alone, then waits. The runner then alternates turns: one side times
// K steps while the other sits idle, then the other side does the same, with the order flipping
// every turn and a pause between turns so the idle side's OpenMP/OpenBLAS spinners settle. This
// machine's background load comes in bursts, and alternating spreads a burst over both sides
// instead of one. Samples are pooled per side, and the ratio compares the medians.
// The runner prints a table and one machine-readable line, `ENGINE_BENCH {...}`. It exits 1 if a
// ratio misses its target.
//
// Both sides get the same glibc malloc tunables (fixed mmap/trim thresholds) unless
// --no-malloc-tune. glibc's dynamic thresholds otherwise depend on each process's own history
// (Node and Python start differently). Whether a 4-16 MB tensor buffer goes back to the OS and
// is page-faulted in again on every step then swings (a) by up to 40% on either side.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Side, alternate, median, parseArgs, printTable, sameChecks, sideEnv } from './lib/runner.mjs';

const here = dirname(fileURLToPath(import.meta.url));

// perTurn steps per turn; turns (per side) from --turns scaled by turnsScale.
const WORKLOADS = [
  { key: 'conv', label: '(a) conv2d fwd+bwd [4,64,64,64]*[64,64,3,3]', target: 1.05, perTurn: 8, turnsScale: 1 },
  { key: 'smallops', label: '(b) 10,000 ops on [16] (dispose)', target: 1.0, perTurn: 8, turnsScale: 1 },
  { key: 'smallops_tidy', label: "(b') same, tidy() per 8 ops (info)", target: null, perTurn: 8, turnsScale: 1 },
  { key: 'block', label: '(c) pre-LN block 577x1024 fwd+bwd', target: 1.05, perTurn: 2, turnsScale: 1.5 },
  // Issue 14's target: our fused operator at <= 0.3x the twin's grid_sample formulation.
  { key: 'msdeform', label: '(d) ms-deform-attn fwd+bwd, paper SSE (fused vs grid_sample)', target: 0.3, perTurn: 2, turnsScale: 1 },
  { key: 'msdeform_gs', label: "(d') same, grid_sample on both sides (info)", target: null, perTurn: 2, turnsScale: 1 },
];

/** One workload: a fresh TS and a fresh Python process, alternating turns (bench/lib/runner.mjs). */
function measure(w, opts) {
  const args = ['--workload', w.key, '--threads', String(opts.threads), '--serve'];
  // Both sides: the same thread count (OpenMP, MKL, OpenBLAS) and, unless --no-malloc-tune, the
  // same fixed malloc thresholds; ENGINE_BENCH_TORCH only for the TS side.
  const tsEnv = sideEnv(opts, opts.torch ? { ENGINE_BENCH_TORCH: opts.torch } : {});
  return alternate({
    makeTs: () => new Side('ts', process.execPath, [join(here, 'engine.mjs'), ...args], tsEnv),
    makePy: () => new Side('py', opts.python, [join(here, 'engine_twin.py'), ...args], sideEnv(opts)),
    turns: Math.max(1, Math.round(opts.turns * w.turnsScale)),
    perTurn: w.perTurn,
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), {
    threads: availableParallelism(), turns: 16, only: null, python: '/usr/bin/python3', jsonOut: null, noMallocTune: false, torch: null,
  }, ['noMallocTune']);
  opts.only = opts.only ? opts.only.split(',') : null;
  opts.mallocTune = !opts.noMallocTune;
  const selected = WORKLOADS.filter((w) => !opts.only || opts.only.includes(w.key));
  const t0 = Date.now();
  const rows = [];
  for (const w of selected) {
    const { samples, tsInfo, pyInfo, tsDone } = await measure(w, opts);
    const tsMed = median(samples.ts);
    const pyMed = median(samples.py);
    const ratio = tsMed / pyMed;
    // A workload reports one checksum or several (loss and each gradient's abs-sum).
    const relDiff = Array.isArray(tsInfo.check)
      ? sameChecks(tsInfo.check, pyInfo.check).worst
      : Math.abs(tsInfo.check - pyInfo.check) / Math.max(1e-12, Math.abs(pyInfo.check));
    const tsMin = Math.min(...samples.ts);
    const pyMin = Math.min(...samples.py);
    rows.push({
      workload: w.key,
      label: w.label,
      ts_ms: tsMed,
      py_ms: pyMed,
      ratio,
      target: w.target,
      pass: w.target === null ? null : ratio <= w.target,
      ts_min_ms: tsMin,
      py_min_ms: pyMin,
      ratio_of_mins: tsMin / pyMin,
      samples: { ts: samples.ts.length, py: samples.py.length },
      threads: { ts: tsInfo.threads, py: pyInfo.threads },
      check: { ts: tsInfo.check, py: pyInfo.check, rel_diff: relDiff, same: relDiff < 1e-3 },
      ts_live_tensors_after: tsDone.live_tensors,
      raw: samples,
    });
  }

  console.log(
    `engine benchmark: threads=${opts.threads}, turns=${opts.turns} alternating, median of pooled samples, ` +
      `malloc tunables ${opts.mallocTune ? 'fixed (both sides)' : 'glibc defaults'}` +
      (opts.torch ? `, TS from ${opts.torch}` : ''),
  );
  printTable(rows, [
    { title: 'workload', width: 46, get: (r) => r.label },
    { title: 'TS ms', width: 10, right: true, get: (r) => r.ts_ms.toFixed(2) },
    { title: 'PyTorch ms', width: 12, right: true, get: (r) => r.py_ms.toFixed(2) },
    { title: 'ratio', width: 8, right: true, get: (r) => r.ratio.toFixed(3) },
    { title: 'target', width: 8, right: true, get: (r) => (r.target === null ? '-' : `<=${r.target.toFixed(2)}`) },
    { title: 'pass', width: 6, right: true, get: (r) => (r.pass === null ? '-' : r.pass ? 'PASS' : 'FAIL') },
    { title: 'same', width: 6, right: true, get: (r) => (r.check.same ? 'yes' : 'NO') },
    { title: 'ratio(min)', width: 11, right: true, get: (r) => r.ratio_of_mins.toFixed(3) },
  ]);
  console.log(
    '(ratio = TS/PyTorch of the medians, which decides pass/fail; ratio(min) = of the fastest samples, ' +
      'a check against bursts of other load; same = both sides computed the same result to 1e-3; ' +
      `took ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const summary = {
    bench: 'engine',
    threads: opts.threads,
    turns: opts.turns,
    malloc_tune: opts.mallocTune,
    torch_dist: opts.torch ?? 'packages/torch/dist',
    node: process.version,
    results: rows.map(({ label, raw, ...r }) => r),
  };
  console.log(`ENGINE_BENCH ${JSON.stringify(summary)}`);
  // The file also keeps every sample (ms, in the order taken), per side.
  const full = { ...summary, results: rows.map(({ label, raw, ...r }) => ({ ...r, samples_ms: raw })) };
  if (opts.jsonOut) writeFileSync(opts.jsonOut, JSON.stringify(full) + '\n');
  process.exitCode = rows.some((r) => r.pass === false) ? 1 : 0;
}

await main();
