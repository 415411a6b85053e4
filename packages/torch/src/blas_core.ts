// Which OpenBLAS kernels this CPU should get, decided before libtorch (and so OpenBLAS) loads.
//
// OpenBLAS's dynamic build picks its kernels from the CPU's family and model number, and a model
// newer than its table gets the oldest x86-64 kernels (SSE3, "Prescott"). Debian 12's OpenBLAS
// 0.3.21 does not know the Intel Xeon of model 207 (Emerald Rapids): it ran our matrix products
// with Prescott kernels at 30 GFLOP/s on one core, against 126-140 with the AVX-512 ones, the
// instruction set the CPU reports. The choice below follows OpenBLAS's own rule for the Intel
// models it knows (AVX-512 with BF16: Cooperlake; AVX-512: SkylakeX; AVX2 + FMA: Haswell), so it
// changes nothing where OpenBLAS already chose right and fixes the models it has not met.
// AMD CPUs are left to OpenBLAS: it maps Zen parts by family, and the project's EPYC figures
// were measured with its choice. `blas` (runtime.ts) reports what was loaded and warns when the
// kernels are older than the CPU (blasCoreWarning).
import { readFileSync } from 'node:fs';

/** Kernel sets without AVX2: on a CPU with AVX2 they mean OpenBLAS did not recognise it. */
export const PRE_AVX2_CORES: ReadonlySet<string> = new Set(
  ['Unknown', 'Katmai', 'Coppermine', 'Northwood', 'Prescott', 'Banias', 'Atom', 'Core2', 'Penryn', 'Dunnington', 'Nehalem', 'Athlon', 'Opteron', 'Opteron_SSE3', 'Barcelona', 'Nano', 'Bobcat', 'Sandybridge', 'Bulldozer', 'Piledriver'].map((c) => c.toLowerCase()),
);

export interface CpuFeatures {
  vendor: string;
  flags: ReadonlySet<string>;
}

/** The first processor's vendor and flags from /proc/cpuinfo's text; null when it has none (not x86 Linux). */
export function parseCpuinfo(text: string): CpuFeatures | null {
  let vendor: string | undefined;
  let flags: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' && (vendor || flags)) break; // end of the first processor
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'vendor_id') vendor = value;
    else if (key === 'flags') flags = value.split(/\s+/);
  }
  if (!vendor || !flags) return null;
  return { vendor, flags: new Set(flags) };
}

/** The OPENBLAS_CORETYPE for this CPU, or undefined to leave the choice to OpenBLAS. */
export function openblasCoreFor(cpu: CpuFeatures | null): string | undefined {
  if (!cpu || cpu.vendor !== 'GenuineIntel') return undefined;
  const has = (...names: string[]) => names.every((n) => cpu.flags.has(n));
  // OpenBLAS's SkylakeX kernels use AVX-512 F, CD, BW, DQ and VL (Knights Landing lacks BW/VL).
  if (has('avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl')) return has('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
  if (has('avx2', 'fma')) return 'Haswell';
  return undefined;
}

/** Whether the CPU runs AVX2 code, so that a pre-AVX2 kernel set is a misdetection, not a limit. */
export function hasAvx2(cpu: CpuFeatures | null): boolean {
  return cpu !== null && cpu.flags.has('avx2') && cpu.flags.has('fma');
}

/**
 * The warning for kernels older than the CPU, or null. Where OpenBLAS chose, a pre-AVX2 set on an
 * AVX2 CPU is a misdetection; where tgcnet chose, it means this OpenBLAS does not know the name it
 * was given (an OpenBLAS older than 0.3.11 has no "Cooperlake") and fell back. A user's own choice stands.
 */
export function blasCoreWarning(core: string, chosenBy: 'user' | 'tgcnet' | 'OpenBLAS', cpu: CpuFeatures | null, requested?: string): string | null {
  if (chosenBy === 'user' || !PRE_AVX2_CORES.has(core.toLowerCase()) || !hasAvx2(cpu)) return null;
  const fix = 'Start again with OPENBLAS_CORETYPE=Haswell (or SkylakeX on a CPU with AVX-512, Zen on AMD) in the environment.';
  if (chosenBy === 'tgcnet') {
    return `this OpenBLAS does not know the kernels tgcnet asked for (OPENBLAS_CORETYPE=${requested ?? '?'}) and runs its ${core} kernels: matrix products run several times slower than they could. ${fix}`;
  }
  return `OpenBLAS did not recognise this CPU and runs its ${core} kernels although the CPU has AVX2: matrix products run several times slower than they could. ${fix}`;
}

let cpuFeatures: CpuFeatures | null | undefined;

/** This machine's CPU features, read once per process (start-up asks twice: the choice and the check). */
export function readCpuFeatures(): CpuFeatures | null {
  if (cpuFeatures === undefined) {
    try {
      cpuFeatures = parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      cpuFeatures = null; // not Linux
    }
  }
  return cpuFeatures;
}
