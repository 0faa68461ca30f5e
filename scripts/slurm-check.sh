#!/usr/bin/env bash
# The Slurm check: starts a one-node Slurm cluster on this machine (scripts/slurm.sh), runs
# the test that sweeps an experiment through it as a job array, and stops the cluster.
# Skipped, with the reason, where Slurm cannot start (the script installs slurm-wlm and munge
# from Debian when run as root); SLURM_CHECK_REQUIRED=1 makes that a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/libtorch.sh
cluster="${TMPDIR:-/tmp}/prefrontal-slurm"
mkdir -p "$(dirname "$cluster")"
if ! exports=$(bash scripts/slurm.sh start "$cluster" 2>"$cluster.log"); then
    echo "slurm check skipped: $(tail -n1 "$cluster.log")"
    [ "${SLURM_CHECK_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
fi
trap 'bash scripts/slurm.sh stop "$cluster"' EXIT
eval "$exports"
cargo test --workspace --locked --features "$PREFRONTAL_TEST_FEATURES" --test experiment -- \
    --ignored --exact a_sweep_runs_through_slurm_as_a_job_array
