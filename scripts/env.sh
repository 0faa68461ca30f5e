# Sourced by the other scripts: one cargo target folder outside the clone, so that fresh
# clones (CI) reuse earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/prefrontal-target}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# The features the test suite builds with, in every script that runs its tests (one build):
# wgpu runs the GPU code path on Mesa's lavapipe, libtorch Burn's LibTorch backend
# (scripts/libtorch.sh sets it up).
export PREFRONTAL_TEST_FEATURES="wgpu,libtorch"
