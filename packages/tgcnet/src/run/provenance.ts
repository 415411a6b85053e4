// Where a result came from: code, engine, machine and command. Stored in every run's
// config.json and carried by eval's JSON, because a figure that cannot be traced to the
// commit, the CPU and the thread count that made it cannot be checked on another machine.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { blas, getNumThreads, libtorchVersion, mallocPolicy } from '@tgcnet/torch';
import { z } from 'zod';
import { repoRoot } from '../paths.js';
import { TGCNET_VERSION } from '../version.js';

export const Provenance = z.object({
  tgcnetVersion: z.string(),
  /** The git commit of the code, with "-dirty" when the work tree had changes; null outside a clone. */
  commit: z.string().nullable(),
  libtorch: z.string(),
  node: z.string(),
  cpu: z.string(),
  cores: z.number().int(),
  /** libtorch's intra-op threads when the record was made. */
  threads: z.number().int(),
  /** The CPU allocator policy (older records lack it: glibc's default). */
  malloc: z.enum(['keep-freed', 'glibc-default']).optional(),
  /** The BLAS and its kernel set, e.g. "OpenBLAS Cooperlake (chosen by tgcnet)": the same CPU runs 4x slower on the wrong one. Older records lack it. */
  blas: z.string().optional(),
  /** The command line, without the Node binary's path. */
  command: z.string(),
  recordedAt: z.string(),
});
export type Provenance = z.infer<typeof Provenance>;

function gitCommit(): string | null {
  const git = (args: string[]) => execFileSync('git', ['-C', repoRoot(), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  try {
    const head = git(['rev-parse', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--untracked-files=no']).length > 0;
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null; // not a git clone (an npm install), or no git: the version still says which code
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: fall through to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown';
}

function commandLine(): string {
  const [, script, ...args] = process.argv;
  const name = script?.endsWith('/tgcnet.js') || script?.endsWith('/tgcnet') ? 'tgcnet' : (script ?? '');
  return [name, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function collectProvenance(): Provenance {
  return {
    tgcnetVersion: TGCNET_VERSION,
    commit: gitCommit(),
    libtorch: libtorchVersion,
    node: process.version,
    cpu: cpuModel(),
    cores: cpus().length,
    threads: getNumThreads(),
    malloc: mallocPolicy,
    blas: blas.library === 'OpenBLAS' ? `OpenBLAS ${blas.core} (chosen by ${blas.chosenBy})` : 'not OpenBLAS',
    command: commandLine(),
    recordedAt: new Date().toISOString(),
  };
}
