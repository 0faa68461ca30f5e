#!/usr/bin/env bash
# The main job until the experiments pipeline exists: validate every task scene, roll out
# each with 16 environments, record a small rendered dataset per task and summarise it,
# record exploration data for `reach`, train the world model on it (with TensorBoard logs
# and a probe of what its latents know), plan toward goal images with it against random,
# greedy and simulator-oracle baselines, then print the benchmark tables.
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
echo "== reach: planning with the world model (CEM) against baselines, 20 episodes"
"$bin" eval --checkpoint "$out/reach-model" --scene scenes/reach.scene.ron --episodes 20 \
    --agent configs/reach.agent.ron --seed 100 --baselines random,greedy,oracle --out "$out/reach-eval"
echo "TensorBoard: tensorboard --logdir $out/reach-model (training), --logdir $out/reach-eval (planning)"
"$bin" bench sim
"$bin" bench render
"$bin" bench train
"$bin" bench plan --agent configs/reach.agent.ron
