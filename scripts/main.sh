#!/usr/bin/env bash
# The main job until the experiments pipeline exists: validate every task scene, roll out
# each with 16 environments, record a small rendered dataset per task and summarise it,
# record exploration data for `reach` and train the default world model on it (with
# TensorBoard logs and a probe of what its latents know), then print the benchmark tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --locked
bin="$CARGO_TARGET_DIR/release/prefrontal"
out="${PREFRONTAL_OUT:-runs/main}"
rm -rf "$out"
for scene in scenes/*.scene.ron; do
    "$bin" scene check "$scene"
done
for scene in scenes/*.scene.ron; do
    name=$(basename "$scene" .scene.ron)
    echo "== $name: random policy, 16 environments"
    "$bin" sim "$scene" --steps 1000 --envs 16 --seed 0 --policy random
    echo "== $name: recording 32 scripted episodes"
    "$bin" collect --scene "$scene" --episodes 32 --steps 100 --seed 0 --policy scripted --envs 16 --out "$out/$name"
    "$bin" dataset info "$out/$name"
    "$bin" dataset export-frames "$out/$name" --episode 0 --out "$out/$name/preview" --format gif
done
echo "== reach: world model from 64 smooth-exploration episodes"
"$bin" collect --scene scenes/reach.scene.ron --episodes 64 --steps 100 --seed 1 --policy smooth --envs 16 --out "$out/reach-explore"
"$bin" train --data "$out/reach-explore" --config configs/reach.worldmodel.ron --out "$out/reach-model" --steps "${PREFRONTAL_TRAIN_STEPS:-600}"
"$bin" probe --checkpoint "$out/reach-model" --data "$out/reach-explore"
echo "TensorBoard: tensorboard --logdir $out/reach-model"
"$bin" bench sim
"$bin" bench render
"$bin" bench train
