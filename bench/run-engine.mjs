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
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sameChecks } from './lib/runner.mjs';

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

// 32 MiB mmap threshold (glibc's dynamic maximum) and a 64 MiB trim threshold.
const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864';
const PAUSE_MS = 150; // OpenBLAS workers spin ~0.1 s after a GEMM before they sleep

function parseArgs(argv) {
  const o = {
    threads: availableParallelism(), turns: 16, only: null, python: '/usr/bin/python3', jsonOut: null,
    mallocTune: true, torch: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[i + 1];
    if (k === 'no-malloc-tune') {
      o.mallocTune = false;
      i -= 1;
    } else if (k === 'torch') o.torch = v;
    else if (k === 'threads') o.threads = Number(v);
    else if (k === 'turns') o.turns = Number(v);
    else if (k === 'only') o.only = v.split(',');
    else if (k === 'python') o.python = v;
    else if (k === 'json-out') o.jsonOut = v;
    else throw new Error(`unknown option --${k}`);
  }
  return o;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A side's process in --serve mode: request() sends a line and resolves with the next JSON line. */
class Side {
  constructor(name, workload, opts) {
    this.name = name;
    const args = ['--workload', workload.key, '--threads', String(opts.threads), '--serve'];
    const [cmd, argv] = name === 'ts'
      ? [process.execPath, [join(here, 'engine.mjs'), ...args]]
      : [opts.python, [join(here, 'engine_twin.py'), ...args]];
    const env = {
      ...process.env,
      // OpenMP (ATen) and OpenBLAS (which reads these at load) get the same count on both sides.
      OMP_NUM_THREADS: String(opts.threads),
      MKL_NUM_THREADS: String(opts.threads),
      OPENBLAS_NUM_THREADS: String(opts.threads),
    };
    if (opts.mallocTune) env.GLIBC_TUNABLES = MALLOC_TUNABLES;
    else delete env.GLIBC_TUNABLES;
    if (opts.torch && name === 'ts') env.ENGINE_BENCH_TORCH = opts.torch;
    this.child = spawn(cmd, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.waiting = [];
    this.lines = [];
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const msg = JSON.parse(line);
      const w = this.waiting.shift();
      if (w) w.resolve(msg);
      else this.lines.push(msg);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) {
        w.reject(new Error(`${name} ${workload.key} exited (${code}):\n${this.stderr}`));
      }
    });
  }

  next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  request(line) {
    const p = this.next();
    this.child.stdin.write(line + '\n');
    return p;
  }

  async close() {
    const done = await this.request('quit');
    this.child.stdin.end();
    return done;
  }
}

async function measure(w, opts) {
  // Set-up and warm-up happen one side at a time, never overlapping.
  const ts = new Side('ts', w, opts);
  const tsInfo = await ts.next();
  const py = new Side('py', w, opts);
  const pyInfo = await py.next();
  const sides = { ts, py };
  const samples = { ts: [], py: [] };
  const turns = Math.max(1, Math.round(opts.turns * w.turnsScale));
  for (let t = 0; t < turns; t++) {
    for (const name of t % 2 === 0 ? ['ts', 'py'] : ['py', 'ts']) {
      await sleep(PAUSE_MS);
      const r = await sides[name].request(`run ${w.perTurn}`);
      samples[name].push(...r.samples_ms);
    }
  }
  const tsDone = await ts.close();
  await py.close();
  return { samples, tsInfo, pyInfo, tsDone };
}

function pad(s, n, right = false) {
  s = String(s);
  return right ? s.padStart(n) : s.padEnd(n);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
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

  const W = [46, 10, 12, 8, 8, 6, 6, 11];
  const header = [pad('workload', W[0]), pad('TS ms', W[1], true), pad('PyTorch ms', W[2], true),
    pad('ratio', W[3], true), pad('target', W[4], true), pad('pass', W[5], true), pad('same', W[6], true),
    pad('ratio(min)', W[7], true)].join(' ');
  console.log(
    `engine benchmark: threads=${opts.threads}, turns=${opts.turns} alternating, median of pooled samples, ` +
      `malloc tunables ${opts.mallocTune ? 'fixed (both sides)' : 'glibc defaults'}` +
      (opts.torch ? `, TS from ${opts.torch}` : ''),
  );
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    console.log([
      pad(r.label, W[0]),
      pad(r.ts_ms.toFixed(2), W[1], true),
      pad(r.py_ms.toFixed(2), W[2], true),
      pad(r.ratio.toFixed(3), W[3], true),
      pad(r.target === null ? '-' : `<=${r.target.toFixed(2)}`, W[4], true),
      pad(r.pass === null ? '-' : r.pass ? 'PASS' : 'FAIL', W[5], true),
      pad(r.check.same ? 'yes' : 'NO', W[6], true),
      pad(r.ratio_of_mins.toFixed(3), W[7], true),
    ].join(' '));
  }
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
