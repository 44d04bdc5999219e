#!/bin/bash
# The GPU bench of issue 11, prepared for a session whose task is lent the device machine (one
# H200; 15 minutes of device time per session, starts included; at most 10 minutes per command).
#
#   bench/gpu/device.sh pack   here, once (~3 min): .device/ with Node, the runtime node_modules plus
#                              the bench's GPU peers (tfjs + tfjs-backend-webgpu, jax-js; tfjs pruned to
#                              its entry files), the Vulkan loaders, setup.sh and webgpu-node.mjs
#   device tool: carry [".device"], timeout_s 600, command:
#                              bash bench/gpu/device.sh run
#
# `run` writes everything under $OUT: summary (one line per part: its exit status and seconds),
# parity.log (the golden HF cases on gpujs:webgpu, eager and jit), bench.json + bench.log (the MAE
# steps and the block against PyTorch CUDA, tfjs-webgpu, jax-js webgpu), profile.json + .log (where
# an MAE-Base batch-64 step goes), gemm.json + .log (GEMM TFLOP/s at ViT shapes vs cuBLAS). Each
# part has its own time limit, most important first, so a slow part cannot starve the rest.
set -uo pipefail
cd "$(dirname "$0")/../.."

pack() {
  set -e
  local kit; kit=$(for d in ${DEVICE_KIT:-} ../shared/device ../../shared/device; do [ -f "$d/pack.sh" ] && echo "$d" && break; done)
  [ -n "$kit" ] || { echo "device.sh: no shared/device/pack.sh next to this checkout (set DEVICE_KIT)"; exit 1; }
  # (pack.sh writes .git/info/exclude, which a git worktree keeps elsewhere: a copy that asks git where)
  local copy; copy=$(mktemp -d)
  cp "$kit/pack.sh" "$kit/setup.sh" "$kit/webgpu-node.mjs" "$copy/"
  sed -i 's#\.git/info/exclude#"$(git rev-parse --git-path info/exclude)"#g' "$copy/pack.sh"
  "$copy/pack.sh"
  rm -rf "$copy"
  # The peers are devDependencies (pack.sh packs the runtime ones): installed apart, then merged in.
  local tmp; tmp=$(mktemp -d)
  tar -xJf .device/modules.tar.xz -C "$tmp"
  mkdir "$tmp/peers" && echo '{"name": "peers", "private": true}' > "$tmp/peers/package.json"
  (cd "$tmp/peers" && npm install --no-audit --no-fund --ignore-scripts --omit=dev \
    @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0 @jax-js/jax@0.1.25 > /dev/null)
  cp -rn "$tmp/peers/node_modules/." "$tmp/node_modules/"
  # tfjs is ~300 MB unpacked: keep each @tensorflow package's package.json and the file its "main"
  # names (what require() loads in Node), as measured on the device machine (~12 MB).
  for pkg in "$tmp"/node_modules/@tensorflow/*; do
    main=$(node -e "process.stdout.write(require('$pkg/package.json').main || 'index.js')")
    main=${main#./}
    find "$pkg" -type f ! -path "$pkg/package.json" ! -path "$pkg/$main" ! -path "$pkg/$main.js" -delete
  done
  (cd "$tmp" && node -e 'require("@tensorflow/tfjs"); require("@tensorflow/tfjs-backend-webgpu"); import("@jax-js/jax").then(() => console.log("peers load"))')
  tar -cJf .device/modules.tar.xz -C "$tmp" node_modules
  rm -rf "$tmp"
  du -sh .device
}

part() { # name seconds command…: runs one part under its limit, logs it, records its status
  local name=$1 limit=$2 t0=$SECONDS; shift 2
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "$name: exit $? after $((SECONDS - t0)) s (limit $limit s)" | tee -a "$OUT/summary"
}

run() {
  OUT=${OUT:-/tmp/gpu-bench}; mkdir -p "$OUT"
  source .device/setup.sh > "$OUT/setup.log" 2>&1
  export NODE_OPTIONS="--import=$PWD/.device/webgpu-node.mjs"   # navigator.gpu for every node process
  export BENCH_PYTHON=python3 BENCH_TORCH_THREADS=16
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
  part parity 100 node --import tsx bench/gpu/parity.ts
  part bench 270 node --import tsx bench/run.ts --quick --json "$OUT/bench.json" \
    --only mae-base-step,mae-base-step-b64,block-fwdbwd,block-fwdbwd-b64 \
    --impl pytorch-cuda,vitmae-ts-webgpu,tfjs-webgpu,jax-js-webgpu
  part profile 90 node --import tsx bench/gpu/profile.ts --batch 64 --steps 4 --json "$OUT/profile.json"
  part gemm 100 node --import tsx bench/gpu/gemm.ts --quick --json "$OUT/gemm.json"
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bench/gpu/device.sh pack | run   (see its header)"; exit 2 ;;
esac
