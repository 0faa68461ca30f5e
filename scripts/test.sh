#!/usr/bin/env bash
# The whole test suite: system setup, formatting, then every crate's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo fmt --all -- --check
cargo test --workspace --locked
