"""World models and agents from Python, checked against each other."""

from __future__ import annotations

import numpy as np
import pytest

import prefrontal


def test_encode_and_rollout_take_and_give_numpy(reach_model, reach_data):
    model = prefrontal.WorldModel.load(reach_model)
    episode = prefrontal.Dataset(reach_data)[0]
    frames = episode["pixels"][:6]
    latents = model.encode(frames, episode["proprio"][:6])
    assert latents.shape == (6, model.latent_dim) and latents.dtype == np.float32
    assert np.isfinite(latents).all()
    # One frame encodes as it does within a batch.
    alone = model.encode(frames[2:3], episode["proprio"][2:3])
    assert np.allclose(alone[0], latents[2], atol=1e-5)
    width = model.action_dim * model.frameskip
    actions = episode["action"][: 4 * model.frameskip].reshape(1, 4, width)
    imagined = model.rollout(latents[None, :1], actions)
    assert imagined.shape == (1, 4, model.latent_dim)
    with pytest.raises(ValueError, match="frames of shape"):
        model.encode(frames[:, :32])
    with pytest.raises(ValueError, match="rollout takes"):
        model.rollout(latents[None, :1], actions[:, :, :3])


def test_a_plan_scores_what_the_model_imagines_for_it(reach_model, reach_data):
    model = prefrontal.WorldModel.load(reach_model)
    agent = prefrontal.Agent(checkpoint=reach_model, seed=1)
    episode = prefrontal.Dataset(reach_data)[1]
    obs, goal = episode["pixels"][0], episode["pixels"][-1]
    actions, energy = agent.plan(obs, goal)
    steps = actions.shape[0]
    assert actions.shape[1] == 2 and steps % model.frameskip == 0
    assert (np.abs(actions) <= 1).all()
    # The energy is the mean squared latent distance to the goal after the last step.
    start, target = model.encode(np.stack([obs, goal]))
    blocks = actions.reshape(1, steps // model.frameskip, -1)
    imagined = model.rollout(start[None, None], blocks)
    assert energy == pytest.approx(float(np.mean((imagined[0, -1] - target) ** 2)), rel=1e-3)


def test_the_agent_acts_in_closed_loop(reach_model):
    agent = prefrontal.Agent(checkpoint=reach_model)
    env = prefrontal.make_env("reach")
    obs, info = env.reset(seed=8)
    with pytest.raises(ValueError, match="reset"):
        agent.act(obs)
    agent.reset({"pixels": info["goal"], "proprio": info["goal_proprio"]}, seed=2)
    for _ in range(7):
        action = agent.act({"pixels": obs, "proprio": info["proprio"]})
        assert action.shape == (2,) and (np.abs(action) <= 1).all()
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break


def test_missing_models_and_runs_are_named(tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        prefrontal.WorldModel.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="not a run folder"):
        prefrontal.Agent(run=tmp_path)
    with pytest.raises(ValueError, match="either checkpoint"):
        prefrontal.Agent()
