#!/usr/bin/env bash
# The whole test suite: system setup, formatting, every crate's tests, then the Python
# package's, closing with a line that totals each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
source scripts/libtorch.sh
cargo fmt --all -- --check
log=$(mktemp)
pylog=$(mktemp)
trap 'rm -f "$log" "$pylog"' EXIT
cargo test --workspace --locked --features "$PREFRONTAL_TEST_FEATURES" 2>&1 | tee "$log"
# The sweep through a one-node Slurm cluster, where one can start here.
bash scripts/slurm-check.sh 2>&1 | tee -a "$log"
# The Python package: build the wheel, install it in the venv, run its tests against the
# CLI the Rust tests built.
bash scripts/python.sh
PREFRONTAL_BIN="$CARGO_TARGET_DIR/debug/prefrontal" PYTHONDONTWRITEBYTECODE=1 \
    python -m pytest -p no:cacheprovider -q python/tests 2>&1 | tee "$pylog"
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "rust tests: %d passed, %d failed\n", passed, failed }' "$log"
awk '/ in [0-9.]+s/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed/) passed += $i; if ($(i + 1) ~ /^failed/) failed += $i } } END { printf "python tests: %d passed, %d failed\n", passed, failed }' "$pylog"
