#!/usr/bin/env bash
# Prefrontal's speed beside its reference twins, all in one run on this machine (absolute
# times on a shared machine drift; ratios measured together do not): the default world
# model against its JAX twin (on Burn's CPU backend and on its LibTorch backend), physics
# and rendering against the MuJoCo twins of reach and push. The twins live outside the
# project: pass their folder (default ../shared/anchors). Python packages (jax[cpu], flax,
# optax, mujoco) go into a venv under ~/.cache, PyTorch into another (scripts/libtorch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
anchors="${1:-../shared/anchors}"
if [ ! -f "$anchors/jax_wm_twin.py" ] || [ ! -f "$anchors/mujoco_twins/bench.py" ]; then
    echo "speed: no reference twins in $anchors (jax_wm_twin.py, mujoco_twins/bench.py); pass their folder" >&2
    exit 1
fi
bash scripts/setup.sh
source scripts/env.sh
source scripts/libtorch.sh
# python3-venv: scripts/libtorch.sh needed it for its own venv and installed it if missing.
venv="${PREFRONTAL_TWINS_VENV:-$HOME/.cache/prefrontal-twins-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import jax, flax, optax, mujoco" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "jax[cpu]" flax optax numpy mujoco
fi
cargo build --release --locked --features libtorch
bin="$CARGO_TARGET_DIR/release/prefrontal"
seconds="${PREFRONTAL_BENCH_SECONDS:-10}"

echo "## World model: JAX twin, then Prefrontal"
"$venv/bin/python" "$anchors/jax_wm_twin.py" --seconds "$seconds" --full-table
"$bin" bench train --seconds "$seconds" --workers 1,2
"$bin" bench train --seconds "$seconds" --device libtorch
for device in cpu libtorch; do
    "$bin" bench plan --seconds "$seconds" --agent configs/reach.agent.ron --device "$device"
done

echo "## Physics and rendering: MuJoCo twins, then Prefrontal"
MUJOCO_GL=egl "$venv/bin/python" "$anchors/mujoco_twins/bench.py" --seconds 3 --render-envs 1,16 --sizes 64
"$bin" bench sim --seconds 3 --envs 1,16
for scene in reach push; do
    "$bin" bench render --scene "scenes/$scene.scene.ron" --envs 1,16 --sizes 64 --seconds 3
done
