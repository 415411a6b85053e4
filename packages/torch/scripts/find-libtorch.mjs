#!/usr/bin/env node
// Finds libtorch for the addon build and prints one facet of it for binding.gyp.
// Order: $LIBTORCH (pytorch.org zip layout), Debian's libtorch-dev, a Python `torch` install.
// Usage: node find-libtorch.mjs include|libs|defines|ldflags|json
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const FIX_COMMAND = 'sudo apt-get install -y libtorch-dev libopenblas0-pthread';

function fromZipLayout(root, source) {
  const include = [join(root, 'include'), join(root, 'include', 'torch', 'csrc', 'api', 'include')];
  const lib = join(root, 'lib');
  if (!existsSync(join(include[1], 'torch', 'torch.h')) || !existsSync(lib)) return null;
  return { source, include, lib, cxx11Abi: detectAbi(lib), cuda: existsSync(join(lib, 'libtorch_cuda.so')) };
}

function fromDebian() {
  const include = ['/usr/include', '/usr/include/torch/csrc/api/include'];
  if (!existsSync(join(include[1], 'torch', 'torch.h'))) return null;
  const libDirs = readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')).map((d) => join('/usr/lib', d));
  const lib = libDirs.find((d) => existsSync(join(d, 'libtorch.so')));
  if (!lib) return null;
  return { source: 'debian libtorch-dev', include, lib, cxx11Abi: true, cuda: existsSync(join(lib, 'libtorch_cuda.so')) };
}

function fromPython() {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      const out = execFileSync(
        python,
        ['-c', 'import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ).trim().split('\n');
      const found = fromZipLayout(out[0], `python torch at ${out[0]}`);
      if (found) return { ...found, cxx11Abi: out[1] === '1' };
    } catch {
      // no python or no torch there: try the next.
    }
  }
  return null;
}

function detectAbi(lib) {
  if (process.env.TORCH_CXX11_ABI) return process.env.TORCH_CXX11_ABI === '1';
  try {
    const symbols = execFileSync('nm', ['-D', '--defined-only', join(lib, 'libc10.so')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return symbols.includes('__cxx11');
  } catch {
    return true;
  }
}

export function findLibtorch() {
  if (process.env.LIBTORCH) {
    const found = fromZipLayout(process.env.LIBTORCH, `LIBTORCH=${process.env.LIBTORCH}`);
    if (!found) {
      throw new Error(`LIBTORCH=${process.env.LIBTORCH} has no include/torch/csrc/api/include/torch/torch.h or lib/: point it at an unpacked libtorch zip`);
    }
    return { ...found, gloo: hasGloo(found) };
  }
  const found = fromDebian() ?? fromPython();
  if (!found) {
    throw new Error(`libtorch not found (looked at $LIBTORCH, Debian's libtorch-dev, python torch). Fix: ${FIX_COMMAND}`);
  }
  return { ...found, gloo: hasGloo(found) };
}

/** A CUDA libtorch whose headers include the NCCL process group (PyTorch's CUDA wheels do). */
function hasNccl(found) {
  return found.cuda && found.include.some((dir) => existsSync(join(dir, 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupNCCL.hpp')));
}

/** Gloo's headers (Debian: libgloo-dev; some libtorch builds carry them): the c10d process group needs them to build. */
function hasGloo(found) {
  return [...found.include, '/usr/include'].some((dir) => existsSync(join(dir, 'gloo', 'algorithm.h')));
}

function facet(found, name) {
  switch (name) {
    case 'include':
      return found.include.join(' ');
    case 'libs': {
      const cuda = found.cuda ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed'] : [];
      return [`-L${found.lib}`, `-Wl,-rpath,${found.lib}`, ...cuda, '-ltorch', '-ltorch_cpu', '-lc10'].join(' ');
    }
    case 'defines':
      return `_GLIBCXX_USE_CXX11_ABI=${found.cxx11Abi ? 1 : 0}${found.cuda ? ' TGT_WITH_CUDA=1' : ''}${hasGloo(found) ? ' TGT_WITH_GLOO=1' : ''}${hasNccl(found) ? ' TGT_WITH_NCCL=1' : ''}`;
    case 'json':
      return JSON.stringify(found, null, 2);
    default:
      throw new Error(`unknown facet ${name}: use include, libs, defines or json`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.stdout.write(facet(findLibtorch(), process.argv[2] ?? 'json') + '\n');
  } catch (err) {
    process.stderr.write(`tgcnet: ${err.message}\n`);
    process.exit(1);
  }
}
