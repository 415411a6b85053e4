import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { blasCoreWarning, openblasCoreFor, parseCpuinfo, readCpuFeatures } from './blas_core.js';
import * as T from './index.js';

// Abridged /proc/cpuinfo of the machines this project ran on (flags cut to the ones that matter
// and a few neighbours; the second processor's block must not be read).
const EMERALD_RAPIDS = `processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 207
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx_vnni avx512_bf16 avx512_vnni

processor\t: 1
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse
`;
const SKYLAKE_SP = EMERALD_RAPIDS.replace(' avx_vnni avx512_bf16', '');
const HASWELL_CLIENT = `vendor_id\t: GenuineIntel\nflags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx avx2\n`;
const KNIGHTS_LANDING = `vendor_id\t: GenuineIntel\nflags\t\t: fpu sse avx fma avx2 avx512f avx512cd avx512er avx512pf\n`;
const SANDY_BRIDGE = `vendor_id\t: GenuineIntel\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n`;
const EPYC = `vendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu sse fma avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16\n`;

test('OpenBLAS kernels follow the instruction set on Intel CPUs and are left to OpenBLAS elsewhere', () => {
  const core = (text: string) => openblasCoreFor(parseCpuinfo(text));
  assert.equal(core(EMERALD_RAPIDS), 'Cooperlake');
  assert.equal(core(SKYLAKE_SP), 'SkylakeX');
  assert.equal(core(HASWELL_CLIENT), 'Haswell');
  assert.equal(core(KNIGHTS_LANDING), 'Haswell', 'AVX-512F without BW/VL cannot run the SkylakeX kernels');
  assert.equal(core(SANDY_BRIDGE), undefined, 'without AVX2 OpenBLAS knows best');
  assert.equal(core(EPYC), undefined, 'AMD parts keep OpenBLAS\'s own choice');
  assert.equal(core('processor\t: 0\nmodel name\t: ARMv8\n'), undefined);
  assert.equal(openblasCoreFor(null), undefined);
});

test('OpenBLAS\'s own pre-AVX2 choice on an AVX2 CPU is called out, with the variable that fixes it', () => {
  const zen5 = parseCpuinfo(EPYC.replace('cpu family\t: 25', 'cpu family\t: 26'));
  assert.match(blasCoreWarning('Prescott', 'OpenBLAS', zen5)!, /runs its Prescott kernels.*OPENBLAS_CORETYPE=/);
  assert.equal(blasCoreWarning('Zen', 'OpenBLAS', zen5), null, 'the right kernels');
  assert.equal(blasCoreWarning('Prescott', 'user', zen5), null, 'the user chose them');
  assert.equal(blasCoreWarning('Nehalem', 'OpenBLAS', parseCpuinfo(SANDY_BRIDGE)), null, 'a CPU without AVX2 gets what it can run');
  // An OpenBLAS that does not know the name tgcnet set falls back: said, with the name.
  assert.match(blasCoreWarning('Prescott', 'tgcnet', parseCpuinfo(EMERALD_RAPIDS), 'Cooperlake')!, /does not know .*OPENBLAS_CORETYPE=Cooperlake.*SkylakeX/);
  assert.equal(blasCoreWarning('Cooperlake', 'tgcnet', parseCpuinfo(EMERALD_RAPIDS), 'Cooperlake'), null);
});

test('the loaded BLAS reports its kernels, and the kernels tgcnet or the user chose are the ones running', () => {
  if (T.blas.library !== 'OpenBLAS') return; // another BLAS: nothing to check
  assert.ok(T.blas.core && T.blas.core.length > 0);
  const chosen = process.env.OPENBLAS_CORETYPE;
  if (T.blas.chosenBy === 'OpenBLAS') assert.equal(openblasCoreFor(readCpuFeatures()), undefined);
  else assert.equal(T.blas.core.toLowerCase(), chosen?.toLowerCase());
});

test('a user\'s OPENBLAS_CORETYPE is kept, and said to be the user\'s', () => {
  const index = fileURLToPath(new URL('./index.js', import.meta.url));
  const script = `const T = await import(${JSON.stringify(index)}); console.log(JSON.stringify(T.blas));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_CORETYPE: 'Haswell', OMP_NUM_THREADS: '1' },
  });
  assert.equal(run.status, 0, run.stderr);
  const blas = JSON.parse(run.stdout.trim().split('\n').pop()!) as T.BlasInfo;
  if (blas.library !== 'OpenBLAS') return;
  assert.deepEqual([blas.core, blas.chosenBy], ['Haswell', 'user']);
});

test('setNumThreads sets OpenBLAS\'s threads too, so that one thread means one thread in matrix products', () => {
  if (T.blas.library !== 'OpenBLAS') return;
  const before = T.getNumThreads();
  try {
    for (const n of [1, 2, 1]) {
      T.setNumThreads(n);
      assert.deepEqual([T.getNumThreads(), T.blasNumThreads()], [n, n]);
    }
  } finally {
    T.setNumThreads(before);
  }
});
