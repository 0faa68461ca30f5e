#!/usr/bin/env bash
# Builds the `prefrontal` Python wheel with maturin and installs it, with what its tests
# need, into the project's venv (scripts/libtorch.sh's, which holds PyPI torch). Sourced or
# run after scripts/env.sh and scripts/libtorch.sh. The wheel is built in the dev profile
# with the test suite's cargo features, so it reuses the test build's compiled crates;
# PREFRONTAL_WHEEL_FEATURES picks others (empty: a wheel that needs no torch, at the price
# of its own build of most crates), PREFRONTAL_WHEEL_DIR where it goes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${PREFRONTAL_TORCH_VENV:-$HOME/.cache/prefrontal-torch-venv}"
features="${PREFRONTAL_WHEEL_FEATURES-$PREFRONTAL_TEST_FEATURES}"
wheels="${PREFRONTAL_WHEEL_DIR:-$CARGO_TARGET_DIR/wheels}"
# The tests read the HDF5 export back with stable-worldmodel 0.1.1's own reader, whose
# import needs OpenCV, imageio and hdf5plugin; torch stays at the version LibTorch builds with.
"$venv/bin/pip" install --quiet "maturin>=1.9.4,<2" "gymnasium>=1.1" pytest h5py hdf5plugin \
    "stable-worldmodel==0.1.1" opencv-python-headless imageio torch==2.9.0 torchvision==0.24.0
rm -f "$wheels"/prefrontal-*.whl
"$venv/bin/maturin" build --manifest-path python/Cargo.toml --profile dev --strip --auditwheel skip \
    --interpreter "$venv/bin/python" --features "$features" --out "$wheels"
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$wheels"/prefrontal-*.whl
