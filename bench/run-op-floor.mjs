#!/usr/bin/env node
// Issue 14, item 4: 20,000 small ops against PyTorch, and against the floor under both, ATen
// called from C++ (compiled here against the libtorch the addon found). Sides run one after
// another, in fresh processes, three rounds in alternating order; one thread; medians pooled.
//   node bench/run-op-floor.mjs [--rounds 3] [--repeats 30]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, parseArgs, sideEnv } from './lib/runner.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { rounds, repeats } = parseArgs(process.argv.slice(2), { rounds: 3, repeats: 30 });
const python = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const libtorch = JSON.parse(execFileSync(process.execPath, [join(here, '..', 'packages', 'torch', 'scripts', 'find-libtorch.mjs'), 'json'], { encoding: 'utf8' }));
const build = mkdtempSync(join(tmpdir(), 'op-floor-'));
const binary = join(build, 'floor');
try {
  execFileSync('g++', ['-O2', '-std=c++17', join(here, 'op-floor', 'floor.cc'), ...libtorch.include.map((d) => `-I${d}`), `-L${libtorch.lib}`, `-Wl,-rpath,${libtorch.lib}`, '-ltorch', '-ltorch_cpu', '-lc10', `-D_GLIBCXX_USE_CXX11_ABI=${libtorch.cxx11Abi ? 1 : 0}`, '-o', binary], { stdio: 'inherit' });
  // sideEnv: one thread and the OpenBLAS kernels every twin bench gives its sides; glibc's own malloc
  // on every side, as before (a GLIBC_TUNABLES in the caller's environment is not passed on).
  const env = sideEnv({ threads: 1, malloc: 'default' });
  const sides = {
    cpp: [binary, [String(repeats)]],
    python: [python, [join(here, 'op-floor', 'floor.py'), String(repeats)]],
    'ts-tidy': [process.execPath, [join(here, 'op-floor', 'floor.mjs'), 'tidy', String(repeats)]],
    'ts-dispose': [process.execPath, [join(here, 'op-floor', 'floor.mjs'), 'dispose', String(repeats)]],
  };
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  const checksums = {};
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? Object.keys(sides) : Object.keys(sides).reverse();
    for (const side of order) {
      const [cmd, args] = sides[side];
      const out = JSON.parse(execFileSync(cmd, args, { env, encoding: 'utf8' }).trim().split('\n').pop());
      // The first third of each process's repeats warm its caches.
      samples[side].push(...out.ms.slice(Math.floor(out.ms.length / 3)));
      checksums[side] = out.checksum;
    }
  }
  const py = median(samples.python);
  console.log('side                      median ms   min ms   / PyTorch   checksum');
  for (const side of Object.keys(sides)) {
    const m = median(samples[side]);
    console.log(`${side.padEnd(24)}${m.toFixed(2).padStart(11)}${Math.min(...samples[side]).toFixed(2).padStart(9)}${(m / py).toFixed(3).padStart(12)}   ${checksums[side].toFixed(4)}`);
  }
  const same = new Set(Object.values(checksums).map((c) => c.toFixed(3))).size === 1;
  console.log(`OP_FLOOR ${JSON.stringify({ rounds, repeats, same, median: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) })}`);
  if (!same) {
    console.error('the sides computed different numbers');
    process.exitCode = 1;
  }
} finally {
  rmSync(build, { recursive: true, force: true });
}
