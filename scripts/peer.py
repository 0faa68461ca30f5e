"""LeWorldModel (stable-worldmodel 0.1.1's own code) beside Prefrontal's JEPA on one task.

For an experiment run folder (e.g. runs/two_rooms-quick/seed-0) this script:
1. exports the run's dataset to stable-worldmodel's HDF5 layout and reads it back with the
   library's own `HDF5Dataset` (frameskip 5, history 3 + 1 predicted frame);
2. trains LeWM built from `stable_worldmodel.wm.lewm` (LeWM, Predictor, Embedder, MLP) and
   `stable_worldmodel.wm.loss.SIGReg` with its published settings (SIGReg 0.09 over 1,024
   directions, 17 knots, history 3, frameskip 5, predictor depth 6 / 16 heads / MLP 2048,
   projectors 192 → 2048 → 192 with batch norm, AdamW 5e-5 with weight decay 1e-3, gradient
   clipping 1.0) for as many wall-clock seconds as Prefrontal's JEPA trained in that run;
   its encoder is a Hugging Face ViT of ViT-tiny's width, scaled to this CPU (see ENCODER);
3. plans with the library's `CEMSolver` (300 samples × 30 iterations, top 30) through its
   `WorldModelPolicy` (horizon 5, receding 5, action block 5) and its `World` on
   Prefrontal's Gymnasium environment, on the run's own 50 held-out goals (start and goal
   put in place through the environment's reset options, i.e. `_set_state` /
   `_set_goal_state`), success judged by the environment (`terminated`) within the
   protocol's step budget;
4. runs Prefrontal's JEPA (`prefrontal.Agent(run=…)`) on the same goals in the same loop;
5. writes `<out>/<task>.json` and prints a Markdown row per stack.

Run it through `scripts/peer.sh`, which installs what it needs.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn
from torchvision.transforms import v2

import prefrontal
import stable_worldmodel as swm
from sklearn.preprocessing import StandardScaler
from stable_worldmodel.data import HDF5Dataset
from stable_worldmodel.wm.lewm import LeWM
from stable_worldmodel.wm.lewm.module import MLP, Embedder, Predictor
from stable_worldmodel.wm.loss import SIGReg
from transformers import ViTConfig, ViTModel

FRAMESKIP = 5
HISTORY = 3
EMBED = 192
#: ViT-tiny is 12 layers of width 192 (3 heads, MLP 768) on 224² frames in 14-pixel patches
#: (256 tokens); here, on the datasets' 64² frames in 8-pixel patches (64 tokens), half its
#: depth, so that a training step fits this 2-core CPU.
ENCODER = dict(image_size=64, patch_size=8, hidden_size=EMBED, num_hidden_layers=6,
               num_attention_heads=3, intermediate_size=4 * EMBED)
BATCH = 32
SIGREG_WEIGHT = 0.09
IMAGENET = v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
PIXELS = v2.Compose([v2.ToDtype(torch.float32, scale=True), IMAGENET])

SCENE_IDS = {"two_rooms": "prefrontal/TwoRooms-v0", "push": "prefrontal/Push-v0",
             "reach": "prefrontal/Reach-v0", "reacher": "prefrontal/Reacher-v0",
             "reacher_post": "prefrontal/ReacherPost-v0"}


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a success rate."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def build_lewm(action_dim: int) -> LeWM:
    """LeWM from the library's modules, with its published predictor and projectors."""
    encoder = ViTModel(ViTConfig(**ENCODER), add_pooling_layer=False)
    predictor = Predictor(num_frames=HISTORY, depth=6, heads=16, mlp_dim=2048, input_dim=EMBED,
                          hidden_dim=EMBED, output_dim=EMBED, dim_head=64, dropout=0.1)
    action_encoder = Embedder(input_dim=FRAMESKIP * action_dim, emb_dim=EMBED)
    projector = MLP(EMBED, 2048, EMBED, norm_fn=nn.BatchNorm1d)
    pred_proj = MLP(EMBED, 2048, EMBED, norm_fn=nn.BatchNorm1d)
    return LeWM(encoder, predictor, action_encoder, projector, pred_proj)


def train_lewm(h5: Path, seconds: float, seed: int) -> tuple[LeWM, StandardScaler, dict]:
    """Trains LeWM on the exported file for `seconds` of wall-clock time (LeWM's objective:
    next-embedding MSE + 0.09 · SIGReg over the window's embeddings)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = HDF5Dataset(path=str(h5), frameskip=FRAMESKIP, num_steps=HISTORY + 1,
                       keys_to_load=["pixels", "action"], keys_to_cache=["action"])
    with h5py.File(h5) as file:
        actions = file["action"][:]
    scaler = StandardScaler().fit(actions[~np.isnan(actions).any(axis=1)])
    mean = torch.tensor(np.tile(scaler.mean_, FRAMESKIP), dtype=torch.float32)
    scale = torch.tensor(np.tile(scaler.scale_, FRAMESKIP), dtype=torch.float32)
    model = build_lewm(actions.shape[1])
    sigreg = SIGReg(knots=17, num_proj=1024)
    optimiser = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=1e-3)
    model.train()
    losses, steps, start = [], 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        picks = rng.integers(0, len(data), BATCH)
        items = [data[int(i)] for i in picks]
        pixels = torch.stack([item["pixels"] for item in items])  # u8 [B, T, 3, H, W]
        b, t = pixels.shape[:2]
        pixels = PIXELS(pixels.reshape(b * t, *pixels.shape[2:])).reshape(b, t, *pixels.shape[2:])
        action = torch.stack([item["action"] for item in items]).float()  # [B, T, 5·A]
        action = torch.nan_to_num((action - mean) / scale, 0.0)
        info = model.encode({"pixels": pixels, "action": action})
        emb, act_emb = info["emb"], info["act_emb"]  # [B, T, D], [B, T, D]
        pred = model.predict(emb[:, :HISTORY], act_emb[:, :HISTORY])
        prediction = (pred - emb[:, 1:]).pow(2).mean()
        loss = prediction + SIGREG_WEIGHT * sigreg(emb.transpose(0, 1))
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        losses.append((float(prediction), float(loss)))
        steps += 1
    model.eval()
    facts = {"steps": steps, "seconds": time.perf_counter() - start, "batch": BATCH,
             "first_loss": losses[0][1],
             "last_loss": float(np.mean([total for _, total in losses[-20:]])),
             "last_prediction_loss": float(np.mean([pred for pred, _ in losses[-20:]])),
             "windows": len(data)}
    return model, scaler, facts


def lewm_policy(model: LeWM, scaler: StandardScaler) -> swm.policy.WorldModelPolicy:
    solver = swm.solver.CEMSolver(model, num_samples=300, n_steps=30, topk=30, device="cpu")
    config = swm.PlanConfig(horizon=5, receding_horizon=5, action_block=FRAMESKIP)
    return swm.policy.WorldModelPolicy(solver=solver, config=config,
                                       process={"action": scaler},
                                       transform={"pixels": PIXELS, "goal": PIXELS})


def evaluate_lewm(model, scaler, env_id, episodes, frame) -> dict:
    """LeWM through stable-worldmodel's World and policy on Prefrontal's environment."""
    world = swm.World(env_id, num_envs=1, image_shape=frame,
                      max_episode_steps=episodes[0]["budget"], width=frame[1], height=frame[0])
    results, planning, actions_taken = [], 0.0, 0
    with torch.no_grad():
        for spec in episodes:
            world.set_policy(lewm_policy(model, scaler))
            # The reset options put start and goal in place; the library's env pool keeps
            # seeds as int64, which Prefrontal's u64 episode seeds overflow.
            world.reset(seed=None,
                        options=[{"state": spec["start_state"], "goal_state": spec["goal_state"]}])
            success = False
            for _ in range(spec["budget"]):
                tick = time.perf_counter()
                action = world.policy.get_action(world.infos)
                planning += time.perf_counter() - tick
                actions_taken += 1
                _, _, terminated, truncated, world.infos = world.envs.step(action)
                if terminated[0]:
                    success = True
                    break
                if truncated[0]:
                    break
            results.append(success)
            print(f"  LeWM episode {len(results)}/{len(episodes)}: {'reached' if success else 'missed'}",
                  flush=True)
    world.close()
    return {"successes": int(sum(results)), "episodes": len(results),
            "ms_per_action": 1000 * planning / max(actions_taken, 1)}


def evaluate_prefrontal(run: Path, scene: str, episodes, frame) -> dict:
    """Prefrontal's JEPA (the run's model and agent config) in the same loop and goals."""
    env = prefrontal.make_env(scene, width=frame[1], height=frame[0])
    agent = prefrontal.Agent(run=run)
    results, planning, actions_taken = [], 0.0, 0
    for spec in episodes:
        obs, info = env.reset(seed=int(spec["seed"]),
                              options={"state": spec["start_state"], "goal_state": spec["goal_state"]})
        agent.reset({"pixels": info["goal"], "proprio": info["goal_proprio"]}, seed=int(spec["seed"]))
        success = False
        for _ in range(spec["budget"]):
            tick = time.perf_counter()
            action = agent.act({"pixels": obs, "proprio": info["proprio"]})
            planning += time.perf_counter() - tick
            actions_taken += 1
            obs, _, terminated, truncated, info = env.step(action)
            if terminated:
                success = True
                break
            if truncated:
                break
        results.append(success)
    return {"successes": int(sum(results)), "episodes": len(results),
            "ms_per_action": 1000 * planning / max(actions_taken, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="an experiment run's seed folder")
    parser.add_argument("--out", type=Path, default=Path("runs/peer"))
    parser.add_argument("--episodes", type=int, default=None, help="the first N goals only")
    parser.add_argument("--seconds", type=float, default=None,
                        help="LeWM's training time (default: the JEPA's, from the run's stages.json)")
    parser.add_argument("--skip-prefrontal", action="store_true")
    args = parser.parse_args()

    run = args.run
    data = prefrontal.Dataset(run / "data")
    scene = data.scene
    frame = tuple(data.frame_shape)
    args.out.mkdir(parents=True, exist_ok=True)
    h5 = args.out / f"{scene}.h5"
    if not h5.exists():
        prefrontal.export_swm_hdf5(run / "data", h5)
    stages = json.loads((run / "stages.json").read_text())
    jepa_seconds = stages["train"]["seconds"]
    seconds = args.seconds if args.seconds is not None else jepa_seconds
    episodes = prefrontal.evaluation_episodes(run)
    if args.episodes is not None:
        episodes = episodes[: args.episodes]
    print(f"{scene}: {len(episodes)} goals, budget {episodes[0]['budget']} steps; "
          f"LeWM trains {seconds:.0f} s (the JEPA trained {jepa_seconds:.0f} s)", flush=True)

    model, scaler, training = train_lewm(h5, seconds, seed=0)
    print(f"  LeWM: {training['steps']} steps of {BATCH} windows in {training['seconds']:.0f} s; "
          f"loss {training['first_loss']:.3f} → {training['last_loss']:.3f}", flush=True)
    result = {"scene": scene, "run": str(run), "goals": len(episodes),
              "budget": episodes[0]["budget"], "frame": frame,
              "lewm": {"training": training, "encoder": ENCODER,
                       **evaluate_lewm(model, scaler, SCENE_IDS[scene], episodes, frame)}}
    if not args.skip_prefrontal:
        result["prefrontal"] = {"training": {"seconds": jepa_seconds},
                                **evaluate_prefrontal(run, scene, episodes, frame)}
    (args.out / f"{scene}.json").write_text(json.dumps(result, indent=2))
    print("| task | stack | success | 95% CI | training wall time | planning ms per action |")
    print("|---|---|---:|---:|---:|---:|")
    for stack in ("lewm", "prefrontal"):
        if stack not in result:
            continue
        r = result[stack]
        low, high = wilson(r["successes"], r["episodes"])
        print(f"| {scene} | {stack} | {r['successes']}/{r['episodes']} | {100 * low:.0f}–{100 * high:.0f}% "
              f"| {r['training']['seconds']:.0f} s | {r['ms_per_action']:.0f} |")


if __name__ == "__main__":
    main()
