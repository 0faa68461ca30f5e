"""One world as a Gymnasium environment: Gymnasium's checker, determinism, exact placement."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import prefrontal
from prefrontal.envs import SHIPPED_IDS


def actions(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, 2).astype(np.float32) for _ in range(count)]


@pytest.mark.parametrize("env_id", sorted(SHIPPED_IDS))
def test_every_shipped_scene_passes_gymnasiums_checker(env_id):
    env = gym.make(f"prefrontal/{env_id}", render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    env.close()


def test_the_registered_ids_are_the_shipped_scenes(repo):
    on_disk = {p.name.removesuffix(".scene.ron") for p in (repo / "scenes").glob("*.scene.ron")}
    assert set(prefrontal.shipped_scenes()) == on_disk
    assert set(SHIPPED_IDS.values()) == on_disk


def test_observations_and_info_have_the_documented_shapes():
    env = gym.make("prefrontal/Push-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=4)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert info["seed"] == 4 and info["episode_step"] == 0
    assert info["goal"].shape == obs.shape and info["goal"].dtype == np.uint8
    assert info["proprio"].shape == info["goal_proprio"].shape == (4,)
    assert info["state"].shape == info["goal_state"].shape == (26,)
    obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
    assert info["episode_step"] == 1 and reward == pytest.approx(reward)
    assert terminated == info["success"] and not truncated
    # render() hands over the observation's own array.
    assert env.render() is obs


def test_the_same_seed_gives_the_same_frames_and_states():
    def run():
        env = prefrontal.make_env("two_rooms")
        frames, states = [], []
        obs, info = env.reset(seed=11)
        frames.append(obs)
        states.append(info["state"])
        for action in actions(15):
            obs, _, _, _, info = env.step(action)
            frames.append(obs)
            states.append(info["state"])
        return np.stack(frames), np.stack(states)

    first, second = run(), run()
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])


@pytest.mark.parametrize("scene", ["push", "reacher"])
def test_a_world_set_into_a_state_renders_and_moves_as_the_one_that_got_there(scene):
    source = prefrontal.make_env(scene, render_mode="rgb_array")
    source.reset(seed=21)
    for action in actions(12):
        obs, _, terminated, truncated, info = source.step(action)
        assert not (terminated or truncated)
    copy = prefrontal.make_env(scene, render_mode="rgb_array")
    copy.reset(seed=99)
    copy._set_state(info["state"])
    worst = np.abs(copy.render().astype(int) - obs.astype(int)).max()
    assert worst <= 2, f"the placed world's frame differs by {worst} levels"
    for action in actions(5, seed=1):
        a = source.step(action)
        b = copy.step(action)
        assert np.abs(a[4]["state"] - b[4]["state"]).max() <= 1e-4
        assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 2


def test_a_goal_state_sets_the_goal_image_and_success():
    env = prefrontal.make_env("push", render_mode="rgb_array")
    obs, info = env.reset(seed=3)
    for action in actions(8):
        obs, _, _, _, info = env.step(action)
    there = info["state"]
    fresh = prefrontal.make_env("push")
    _, start = fresh.reset(seed=5, options={"state": there, "goal_state": there})
    assert start["success"] and start["distance"] < 1e-3
    assert np.mean(np.abs(start["goal"].astype(int) - obs.astype(int)) > 8) < 0.002
    fresh.reset(seed=5)
    fresh._set_goal_state(there)
    _, _, _, _, moved = fresh.step(np.zeros(2, np.float32))
    assert np.array_equal(moved["goal_state"][:3], start["goal_state"][:3])


def test_bad_input_raises_an_exception_that_names_the_problem(tmp_path, repo):
    env = prefrontal.make_env("reach")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0.0], np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="state"):
        env._set_state(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="unknown scene \"nowhere\""):
        prefrontal.make_env("nowhere")
    with pytest.raises(ValueError, match="render_mode"):
        prefrontal.make_env("reach", render_mode="human")
    broken = tmp_path / "broken.scene.ron"
    text = (repo / "scenes/reach.scene.ron").read_text()
    broken.write_text(text.replace("action_space:", "action_spaec:", 1))
    with pytest.raises(ValueError, match="broken.scene.ron") as error:
        prefrontal.make_env(str(broken))
    assert "action_spaec" in str(error.value)
    # An episode that ended must be reset before stepping on.
    state = env.reset(seed=2)[1]["state"]
    env.reset(seed=2, options={"goal_state": state})
    _, _, terminated, _, _ = env.step(np.zeros(2, np.float32))
    assert terminated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2, np.float32))


def test_make_env_takes_a_scene_file(repo):
    env = prefrontal.make_env(str(repo / "scenes/reacher.scene.ron"), width=32, height=32)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (32, 32, 3)


def test_a_runs_evaluation_episodes_start_and_end_where_its_goals_are(repo, tmp_path):
    recipe = (repo / "experiments/reach-quick.experiment.ron").read_text()
    seed_dir = tmp_path / "run" / "seed-0"
    seed_dir.mkdir(parents=True)
    (seed_dir / "experiment.ron").write_text(recipe.replace('"../', f'"{repo}/'))
    episodes = prefrontal.evaluation_episodes(tmp_path / "run")
    assert len(episodes) == 20 and len({e["seed"] for e in episodes}) == 20
    env = prefrontal.make_env("reach")
    for spec in episodes[:5]:
        _, plain = env.reset(seed=int(spec["seed"]))
        _, placed = env.reset(seed=int(spec["seed"]), options={"state": spec["start_state"],
                                                               "goal_state": spec["goal_state"]})
        # Random goals: the episode's own start and goal, exactly.
        assert np.allclose(placed["state"], plain["state"], atol=1e-6)
        assert np.allclose(placed["goal_state"], plain["goal_state"], atol=1e-6)
        assert spec["budget"] == 100 and placed["distance"] >= 0.3
    with pytest.raises(ValueError, match="not a run folder"):
        prefrontal.evaluation_episodes(tmp_path)
