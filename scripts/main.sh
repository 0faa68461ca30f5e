#!/usr/bin/env bash
# The main job until the experiments pipeline exists: validate every task scene, run a
# seeded random-policy rollout of each with 16 environments, and print the physics
# benchmark table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --locked
bin="$CARGO_TARGET_DIR/release/prefrontal"
for scene in scenes/*.scene.ron; do
    "$bin" scene check "$scene"
done
for scene in scenes/*.scene.ron; do
    echo "== $scene: random policy, 16 environments"
    "$bin" sim "$scene" --steps 1000 --envs 16 --seed 0 --policy random
done
"$bin" bench sim
