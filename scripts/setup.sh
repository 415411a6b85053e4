#!/usr/bin/env bash
# Sets up tgcnet on a fresh Debian machine with Node 20: system packages (libtorch with
# OpenBLAS, a C++ toolchain), npm dependencies, the libtorch addon and the TypeScript.
# Safe to run again: each step is skipped when already done.
#
# Order matters on a bare machine: system packages first, then `npm ci`, which compiles nothing
# (the addon's binding.gyp lives in packages/torch/native/, where npm does not look for one), then
# the addon, built explicitly once libtorch is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# 1. System packages. libopenblas0-pthread matters: without it libtorch falls back to the
#    reference BLAS, about 25x slower.
missing=()
if [ -z "${LIBTORCH:-}" ] && [ ! -e /usr/include/torch/csrc/api/include/torch/torch.h ]; then missing+=(libtorch-dev); fi
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then missing+=(libopenblas0-pthread); fi
# Gloo's headers: the addon's data-parallel training (train --nproc-per-node) is built on them.
if [ -z "${LIBTORCH:-}" ] && [ ! -e /usr/include/gloo/algorithm.h ]; then missing+=(libgloo-dev); fi
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Debian's chromium runs the viewer's browser test (playwright-core drives it; it downloads no
# browser). Optional: installed when we can, else that one test is skipped with a message.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then missing+=(chromium)
  else say "optional: no /usr/bin/chromium, so the viewer's browser test will be skipped (sudo apt-get install chromium)"; fi
fi
system_ready=1
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${missing[*]}. This is not a Debian system: install libtorch and set LIBTORCH=<unpacked libtorch dir>."
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    say "installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    # Not root: still install the npm packages and compile the TypeScript below, so
    # `npx tgcnet --help` works; the addon needs the packages.
    system_ready=0
  fi
fi

# 2. npm dependencies, exactly as locked (skipped when the lock file has not changed). LIBTORCH
#    points at an empty folder for this step: anything that tried to compile the addon during
#    `npm ci` would fail here, on every machine, instead of only on bare ones.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.tgcnet-lock-hash ] || [ "$(cat node_modules/.tgcnet-lock-hash)" != "$lock_hash" ]; then
  say "npm ci"
  no_libtorch=$(mktemp -d)
  LIBTORCH="$no_libtorch" npm ci --no-audit --no-fund --loglevel=error
  rmdir "$no_libtorch"
  echo "$lock_hash" > node_modules/.tgcnet-lock-hash
fi

# 3. TypeScript (incremental): the CLI's --help works from here on, even without libtorch.
say "compiling TypeScript"
npm run build:ts --silent

if [ "$system_ready" -eq 0 ]; then
  say "missing system packages. Run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  say "then run this script again."
  exit 1
fi

# 4. The libtorch addon, rebuilt when its sources or the libtorch it found changed.
native=packages/torch/native
addon=$native/build/Release/torch_native.node
stamp=$( (cat $native/*.cc $native/*.h $native/binding.gyp; node packages/torch/scripts/find-libtorch.mjs json) | sha256sum | cut -d' ' -f1)
if [ ! -f "$addon" ] || [ ! -f $native/build/.tgcnet-stamp ] || [ "$(cat $native/build/.tgcnet-stamp)" != "$stamp" ]; then
  say "building the libtorch addon ($(node packages/torch/scripts/find-libtorch.mjs json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).source))'))"
  npm run build:native --silent
  echo "$stamp" > $native/build/.tgcnet-stamp
fi

say "ready: npx tgcnet --help"
