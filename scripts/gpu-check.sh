#!/usr/bin/env bash
# The GPU check, one prepared script for a machine with an NVIDIA GPU (under 10 minutes):
# builds with CUDA, checks CUDA training and planning against the CPU backend
# (`prefrontal check-device`), and prints `bench train` (one and several data-parallel
# workers) and `bench plan` on the CPU and on the GPU.
#
#   bash scripts/gpu-check.sh [DEVICE]     DEVICE: cuda (default), cuda:N, wgpu or wgpu:N
#
# PREFRONTAL_BIN=path uses that binary instead of building one (a machine without the
# crates), GPU_CHECK_SECONDS sets the length of each measurement (default 5),
# GPU_CHECK_BENCH_DEVICES where the benches run (default: cpu and DEVICE). The test suite
# runs this script with DEVICE=wgpu on Mesa's lavapipe, benches on the CPU only: every part
# but CUDA itself.
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cuda}
kind=${device%%:*}
seconds=${GPU_CHECK_SECONDS:-5}
case $kind in
    cuda | wgpu) ;;
    *) echo "gpu-check: DEVICE is cuda, cuda:N, wgpu or wgpu:N, not $device" >&2; exit 2 ;;
esac
if [[ $kind == cuda ]]; then
    if ! command -v nvidia-smi > /dev/null; then
        echo "gpu-check: nvidia-smi not found: this machine has no NVIDIA driver" >&2
        exit 1
    fi
    nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv
fi
if [[ -n ${PREFRONTAL_BIN:-} ]]; then
    bin=$PREFRONTAL_BIN
else
    source scripts/env.sh
    cargo build --release --locked --features "$kind"
    bin=$CARGO_TARGET_DIR/release/prefrontal
fi
echo "## $device against the CPU backend"
"$bin" check-device --device "$device"
# Data-parallel workers: two threads on the CPU and on wgpu's default adapter; on CUDA one
# per GPU from the device's index on (GPUs the driver shows; CUDA_VISIBLE_DEVICES may hide some).
for on in ${GPU_CHECK_BENCH_DEVICES:-cpu $device}; do
    case $on in
        cpu | wgpu) workers=1,2 ;;
        cuda*)
            first=0
            [[ $on == *:* ]] && first=${on#*:}
            gpus=$(( $(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l) - first ))
            workers=1
            [[ $gpus -gt 1 ]] && workers=1,$gpus
            ;;
        *) workers=1 ;;
    esac
    echo "## bench train on $on, workers $workers"
    "$bin" bench train --device "$on" --seconds "$seconds" --workers "$workers"
    echo "## bench plan on $on"
    "$bin" bench plan --device "$on" --seconds "$seconds"
done
echo "gpu-check: $device passed"
