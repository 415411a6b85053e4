// Shared runner code for the TS-vs-PyTorch benchmarks (bench/run-engine.mjs, bench/run-clip.mjs,
// bench/run-model.mjs; the sides' half of the protocol is bench/lib/serve.mjs and twinlib.py):
// one fresh TS process and one fresh Python process per workload, each in --serve mode; set-up,
// checksum and warm-up one side at a time; then alternating timed turns (order flipping every
// turn, a pause between turns for the idle side's OpenMP/OpenBLAS spinners); samples pooled per
// side; ratio of the medians. Same thread count and same glibc malloc tunables on both sides.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { openblasCoreFor, readCpuFeatures } from '../../packages/torch/dist/blas_core.js';

// 32 MiB mmap threshold (glibc's dynamic maximum) and a 64 MiB trim threshold.
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864';
// --malloc modes. 'fixed' is run-engine.mjs's setting. Buffers over 32 MiB are still mmapped
// (glibc caps the threshold at 32 MiB), so each is page-faulted in again on every use; at
// batch 8 that is ~1 s of kernel time per CLIP forward, and how much of it a process pays
// depends on its heap's history. 'no-mmap' serves everything from the heap and never trims it
// below 4 GiB, which takes the page faults (and that history) out of the comparison.
export const MALLOC_MODES = {
  fixed: MALLOC_TUNABLES,
  'no-mmap': 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296',
  default: null,
};
export const PAUSE_MS = 150; // OpenBLAS workers spin ~0.1 s after a GEMM before they sleep

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The environment both sides get: same thread count for OpenMP/MKL/OpenBLAS, same OpenBLAS kernels
 * (the ones @tgcnet/torch would choose: on a CPU OpenBLAS does not know, a twin left to OpenBLAS
 * runs SSE3 kernels 4x slower, packages/torch/src/blas_core.ts), same malloc tunables.
 */
export function sideEnv(opts, extra = {}) {
  const core = process.env.OPENBLAS_CORETYPE ?? openblasCoreFor(readCpuFeatures());
  const env = {
    ...process.env,
    ...(core ? { OPENBLAS_CORETYPE: core } : {}),
    OMP_NUM_THREADS: String(opts.threads),
    MKL_NUM_THREADS: String(opts.threads),
    OPENBLAS_NUM_THREADS: String(opts.threads),
    ...extra,
  };
  const mode = opts.malloc ?? (opts.mallocTune === false ? 'default' : 'fixed');
  if (!(mode in MALLOC_MODES)) throw new Error(`--malloc ${mode}: use one of ${Object.keys(MALLOC_MODES).join(', ')}`);
  if (MALLOC_MODES[mode]) env.GLIBC_TUNABLES = MALLOC_MODES[mode];
  else delete env.GLIBC_TUNABLES;
  return env;
}

/** A side's process in --serve mode: request() sends a line and resolves with the next JSON line. */
export class Side {
  constructor(name, cmd, argv, env) {
    this.name = name;
    this.child = spawn(cmd, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
    });
    this.waiting = [];
    this.lines = [];
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const msg = JSON.parse(line);
      const w = this.waiting.shift();
      if (w) w.resolve(msg);
      else this.lines.push(msg);
    });
    this.exited = false;
    this.child.on('exit', (code) => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${name} exited (${code}):\n${this.stderr}`));
    });
  }

  next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    if (this.exited) return Promise.reject(new Error(`${this.name} exited:\n${this.stderr}`));
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

/**
 * Starts the TS side, waits for its ready line (set-up, checksum, warm-up done), then the
 * Python side likewise, then alternates `turns` turns of `perTurn` steps per side.
 * makeTs/makePy return a started Side. Returns samples, both ready lines and the TS done line.
 */
export async function alternate({ makeTs, makePy, turns, perTurn }) {
  const started = [];
  try {
    return await alternateSides({ makeTs, makePy, turns, perTurn, started });
  } catch (e) {
    // A side failed: stop the other one (and this one, if it still runs) instead of leaving it waiting.
    for (const side of started) if (!side.exited) side.child.kill();
    throw e;
  }
}

async function alternateSides({ makeTs, makePy, turns, perTurn, started }) {
  const ts = makeTs();
  started.push(ts);
  const tsInfo = await ts.next();
  const py = makePy(tsInfo);
  started.push(py);
  const pyInfo = await py.next();
  const sides = { ts, py };
  const samples = { ts: [], py: [] };
  const usage = { ts: { faults: 0, user_ms: 0, sys_ms: 0 }, py: { faults: 0, user_ms: 0, sys_ms: 0 } };
  for (let t = 0; t < turns; t++) {
    for (const name of t % 2 === 0 ? ['ts', 'py'] : ['py', 'ts']) {
      await sleep(PAUSE_MS);
      const r = await sides[name].request(`run ${perTurn}`);
      samples[name].push(...r.samples_ms);
      for (const k of ['faults', 'user_ms', 'sys_ms']) usage[name][k] += r[k] ?? 0;
    }
  }
  const tsDone = await ts.close();
  const pyDone = await py.close();
  // Per step: page faults, user and kernel CPU ms (all threads).
  const perStep = (u, n) => ({ faults: u.faults / n, user_ms: u.user_ms / n, sys_ms: u.sys_ms / n });
  return {
    samples, tsInfo, pyInfo, tsDone, pyDone,
    usage: { ts: perStep(usage.ts, samples.ts.length), py: perStep(usage.py, samples.py.length) },
  };
}

export function pad(s, n, right = false) {
  s = String(s);
  return right ? s.padStart(n) : s.padEnd(n);
}

/** Prints rows as a fixed-width table. columns: [{ title, width, right, get(row) }]. */
export function printTable(rows, columns) {
  const header = columns.map((c) => pad(c.title, c.width, c.right)).join(' ');
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) console.log(columns.map((c) => pad(c.get(r), c.width, c.right)).join(' '));
}

/** Relative difference of two checksums, against the larger magnitude (and a floor). */
export function relDiff(a, b, floor = 1e-12) {
  return Math.abs(a - b) / Math.max(floor, Math.abs(a), Math.abs(b));
}

/**
 * Both sides report `check` as an array of numbers; all must agree to `tol` relative
 * (each entry against the largest |entry| of that side for signed sums near zero: pass
 * `scaleIndex` to name the entry, e.g. an abs-sum, that sets the scale for the others).
 */
export function sameChecks(ts, py, tol = 1e-3) {
  if (!Array.isArray(ts) || !Array.isArray(py) || ts.length !== py.length) return { same: false, worst: Infinity };
  const scale = Math.max(...py.map(Math.abs), 1e-12);
  let worst = 0;
  for (let i = 0; i < ts.length; i++) {
    // Each entry relative to itself, but never finer than 1e-6 of the largest entry: a signed
    // sum that cancels to ~0 would otherwise compare rounding noise.
    const d = Math.abs(ts[i] - py[i]) / Math.max(Math.abs(py[i]), 1e-6 * scale);
    worst = Math.max(worst, d);
  }
  return { same: worst < tol, worst };
}

/**
 * Parses --key value pairs (and bare flags listed in `flags`) into o (its keys are the defaults,
 * in camelCase: --json-out sets jsonOut). A number default takes Number(value); an array default
 * collects every occurrence (--set a=1 --set b=2).
 */
export function parseArgs(argv, o, flags = []) {
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (flags.includes(k)) {
      o[k] = true;
      continue;
    }
    if (!(k in o)) throw new Error(`unknown option ${argv[i]}`);
    if (i + 1 >= argv.length) throw new Error(`option ${argv[i]} needs a value`);
    const v = argv[++i];
    if (Array.isArray(o[k])) o[k] = [...o[k], v];
    else o[k] = typeof o[k] === 'number' ? Number(v) : v;
  }
  return o;
}
