#!/usr/bin/env bash
# LeWorldModel (stable-worldmodel 0.1.1's own modules, CEMSolver, policy and World) beside
# Prefrontal's JEPA on the same data, goals and CPU budget: README "Against LeWorldModel".
# Not in CI (it trains for as long as the quick recipes did, then plans 100 episodes per
# task). Needs finished quick runs:
#   prefrontal run experiments/two_rooms-quick.experiment.ron --out runs
#   prefrontal run experiments/push-quick.experiment.ron --out runs
# Usage: [PEER_EPISODES=N] bash scripts/peer.sh [RUN_SEED_FOLDER ...] (default: both runs'
# seed 0, all 50 goals; N: the first N goals only); results go to runs/peer/<scene>.json,
# and one Markdown row per stack to the terminal. It installs
# into the project's venv what LeWM's training and the library's planner need beyond the
# Python tests' packages: Hugging Face transformers (the ViT encoder) and scikit-learn (the
# action scaler, as the library's own evaluation uses).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/libtorch.sh
bash scripts/python.sh
venv="${PREFRONTAL_TORCH_VENV:-$HOME/.cache/prefrontal-torch-venv}"
"$venv/bin/pip" install --quiet transformers scikit-learn
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
    runs=(runs/two_rooms-quick/seed-0 runs/push-quick/seed-0)
fi
for run in "${runs[@]}"; do
    PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" scripts/peer.py --run "$run" --out runs/peer \
        ${PEER_EPISODES:+--episodes "$PEER_EPISODES"}
done
