#!/usr/bin/env node
// What OpenBLAS's kernel choice is worth on this CPU: a float32 matrix product in fresh processes,
// once with the kernels @tgcnet/torch chooses (packages/torch/src/blas_core.ts; on a CPU OpenBLAS
// knows, its own choice) and once with the SSE3 kernels (Prescott) that OpenBLAS 0.3.21 falls back
// to on a CPU it does not know. Rounds in alternating order, medians pooled.
//   node bench/blas-kernels.mjs [--rounds 3] [--threads 1] [--size 512]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, parseArgs, sideEnv } from './lib/runner.mjs';

const o = parseArgs(process.argv.slice(2), { rounds: 3, threads: 1, size: 512 }, ['child']);

if (o.child) {
  const T = await import('../packages/torch/dist/index.js');
  const size = o.size;
  const a = T.randn([size, size]);
  const reps = Math.max(5, Math.round(2e10 / (2 * size ** 3))); // ~20 GFLOP: a second or two at worst
  for (let i = 0; i < 3; i++) T.tidy(() => a.matmul(a));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) T.tidy(() => a.matmul(a));
  const seconds = (performance.now() - t0) / 1000;
  a.dispose();
  console.log(JSON.stringify({ core: T.blas.core, chosenBy: T.blas.chosenBy, gflops: (reps * 2 * size ** 3) / seconds / 1e9 }));
  process.exit(0);
}

const { rounds, threads, size } = o;
// The bench sides' threads and allocator; the kernels are left to @tgcnet/torch (its choice is what is measured).
const base = sideEnv({ threads, malloc: 'default' });
delete base.OPENBLAS_CORETYPE;
const sides = {
  tgcnet: base,
  Prescott: { ...base, OPENBLAS_CORETYPE: 'Prescott' },
};
const samples = { tgcnet: [], Prescott: [] };
const cores = {};
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? Object.keys(sides) : Object.keys(sides).reverse();
  for (const side of order) {
    const out = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--size', String(size)], { env: sides[side], encoding: 'utf8' }).trim().split('\n').pop());
    samples[side].push(out.gflops);
    cores[side] = `${out.core} (chosen by ${out.chosenBy})`;
  }
}
console.log(`float32 ${size}x${size} matmul, ${threads} thread(s), ${rounds} rounds, GFLOP/s (median, range):`);
for (const side of Object.keys(sides)) {
  const xs = samples[side];
  console.log(`  ${cores[side].padEnd(36)} ${median(xs).toFixed(1).padStart(7)}  (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`);
}
console.log(`  ratio ${(median(samples.tgcnet) / median(samples.Prescott)).toFixed(2)}x`);
