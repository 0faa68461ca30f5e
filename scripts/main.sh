#!/usr/bin/env bash
# The main job: the default quick experiment (reach: collect → train → probe → evaluate
# against random, greedy and oracle baselines → report, two seeds; see
# experiments/reach-quick.experiment.ron), its comparison table, then the benchmark tables.
# Finished stages of an earlier run in the same folder are skipped; a killed run resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --locked
bin="$CARGO_TARGET_DIR/release/prefrontal"
out="${PREFRONTAL_OUT:-runs}"
experiment="${PREFRONTAL_EXPERIMENT:-experiments/reach-quick.experiment.ron}"
"$bin" run "$experiment" --dry-run --out "$out"
"$bin" run "$experiment" --out "$out"
echo "TensorBoard: tensorboard --logdir $out (HParams tab: the seeds side by side; images: rollouts)"
"$bin" bench sim
"$bin" bench render
"$bin" bench train
"$bin" bench plan --agent configs/reach.agent.ron
