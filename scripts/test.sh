#!/usr/bin/env bash
# The whole test suite: system setup, formatting, then every crate's tests, closing with
# one line that totals them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
source scripts/libtorch.sh
cargo fmt --all -- --check
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked --features "$PREFRONTAL_TEST_FEATURES" 2>&1 | tee "$log"
# The sweep through a one-node Slurm cluster, where one can start here.
bash scripts/slurm-check.sh 2>&1 | tee -a "$log"
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
