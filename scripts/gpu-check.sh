#!/usr/bin/env bash
# The GPU check (issue 13): one script for a CUDA machine's short loan. Run from the repository
# root, where Python torch with CUDA is installed (its include/ and lib/ are the libtorch the
# addon builds against; find-libtorch.mjs finds it) and Node 20 may be absent:
#
#   NODE_TARBALL=/path/node-v20.x-linux-x64.tar.xz bash scripts/gpu-check.sh [OUT_DIR]
#
# It carries nothing from the network: node_modules must already be here (carried from a
# machine where `npm ci` ran), and Node comes from NODE_TARBALL when `node` is not on PATH.
# Steps, each logged to OUT_DIR (default gpu-check-out/), each allowed to fail without hiding
# the others: build the addon against the CUDA libtorch (with NCCL when its headers are
# there), compile the TypeScript, run the CUDA tests of both packages (tensors, autograd,
# autocast and the gradient scaler, device-independent checkpoints, NCCL with world size 1, the
# model's logits on CUDA against the CPU, an fp16 training run evaluated on both), then the
# training-step benchmark (b16 and paper, batch 8, fp32/bf16/fp16). Ends with a summary.
set -uo pipefail
OUT=${1:-gpu-check-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }
step() { # step NAME COMMAND...: runs it, logs to OUT/NAME.log, records its status
  local name=$1; shift
  local t0=$SECONDS
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  say "$name: exit $rc in $((SECONDS - t0)) s"
  return $rc
}

if ! command -v node > /dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" != 20 ]; then
  if [ -z "${NODE_TARBALL:-}" ]; then say "no Node 20 on PATH and no NODE_TARBALL: give one (node-v20.*-linux-x64.tar.xz)"; exit 2; fi
  mkdir -p .gpu-node && tar -xJf "$NODE_TARBALL" -C .gpu-node --strip-components=1
  export PATH="$PWD/.gpu-node/bin:$PATH"
fi
NODE_DIR=$(dirname "$(dirname "$(command -v node)")")
say "node $(node --version) at $NODE_DIR"
say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
say "python torch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())' 2>&1)"
[ -d node_modules ] || { say "node_modules is missing: carry it from a machine where npm ci ran"; exit 2; }

say "libtorch: $(node packages/torch/scripts/find-libtorch.mjs defines 2>&1)"
# --nodedir: the headers come from the Node tarball, never from the network.
step build-addon node node_modules/node-gyp/bin/node-gyp.js rebuild --jobs=8 --directory=packages/torch/native --nodedir="$NODE_DIR" || { say "the addon did not build: see $OUT/build-addon.log"; exit 1; }
step build-ts node node_modules/typescript/bin/tsc -b packages/torch packages/tgcnet || { say "TypeScript did not compile: see $OUT/build-ts.log"; exit 1; }
step info node packages/tgcnet/bin/tgcnet.js info --json
cat "$OUT/info.log" >> "$summary"
step cuda-tests node --test packages/torch/dist/cuda.test.js packages/torch/dist/amp.test.js packages/tgcnet/dist/train/cuda.test.js packages/tgcnet/dist/train/precision.test.js
grep -E "^# (pass|fail|skipped)|^not ok" "$OUT/cuda-tests.log" | tee -a "$summary"
step engine-tests-cuda-build node --test packages/torch/dist/tensor.test.js packages/torch/dist/autograd.test.js packages/torch/dist/ms_deform_attn.test.js
grep -E "^# (pass|fail)" "$OUT/engine-tests-cuda-build.log" | tee -a "$summary"
step gpu-step node bench/gpu-step.mjs --presets b16,paper --batch 8 --precisions fp32,bf16,fp16 --warmup 3 --repeats 10
grep -vE "^GPU_STEP" "$OUT/gpu-step.log" | tee -a "$summary"
say "done: logs in $OUT/"
