# Sourced (`source scripts/libtorch.sh`): makes Burn's LibTorch backend (cargo feature
# `libtorch`, `--device libtorch`) build and run here. PyTorch 2.9.0, the version tch 0.22
# expects, comes from PyPI into a venv under ~/.cache (PyPI's wheel is the CUDA build:
# about 6.8 GB installed, minutes to download; only its CPU part is used here). Then it
# exports what torch-sys builds against (LIBTORCH_USE_PYTORCH with that venv's python first
# on PATH), torch's library folder as PREFRONTAL_TORCH_LIB (which build.rs records in the
# `prefrontal` binary) and LD_LIBRARY_PATH, which test binaries need to load libtorch.
# PREFRONTAL_TORCH_VENV picks another venv.
prefrontal_torch_venv="${PREFRONTAL_TORCH_VENV:-$HOME/.cache/prefrontal-torch-venv}"
if ! "$prefrontal_torch_venv/bin/python" -c "import torch; assert torch.__version__.startswith('2.9.0')" 2>/dev/null; then
    if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "libtorch: python3-venv is missing; run as root or install it" >&2
            return 1
        fi
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    fi
    echo "libtorch: installing torch 2.9.0 from PyPI into $prefrontal_torch_venv (about 6.8 GB)" >&2
    python3 -m venv "$prefrontal_torch_venv" &&
        "$prefrontal_torch_venv/bin/pip" install --quiet torch==2.9.0 numpy || return 1
fi
export LIBTORCH_USE_PYTORCH=1
export PATH="$prefrontal_torch_venv/bin:$PATH"
PREFRONTAL_TORCH_LIB="$("$prefrontal_torch_venv/bin/python" -c 'import pathlib, torch; print(pathlib.Path(torch.__file__).parent / "lib")')"
export PREFRONTAL_TORCH_LIB
export LD_LIBRARY_PATH="$PREFRONTAL_TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
