"""Parallel worlds as a Gymnasium vector environment, against Gymnasium's own SyncVectorEnv."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import batch_space

import prefrontal
from conftest import nearly_the_same_frame


def test_spaces_are_the_single_spaces_batched():
    env = prefrontal.make_vector_env("push", 3)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.observation_space == batch_space(env.single_observation_space, 3)
    assert env.action_space == batch_space(env.single_action_space, 3)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    assert info["state"].shape == (3, 26) and info["_state"].all()
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs in env.observation_space
    assert reward.shape == terminated.shape == truncated.shape == (3,)


def test_worlds_step_as_gymnasiums_sync_vector_env_of_single_worlds():
    n = 3
    ours = prefrontal.make_vector_env("two_rooms", n)
    theirs = SyncVectorEnv(
        [lambda: prefrontal.make_env("two_rooms") for _ in range(n)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    a, info_a = ours.reset(seed=7)
    b, info_b = theirs.reset(seed=[7, 8, 9])
    assert all(nearly_the_same_frame(x, y) for x, y in zip(a, b))
    assert np.array_equal(info_a["state"], info_b["state"])
    assert np.array_equal(info_a["goal_state"], info_b["goal_state"])
    rng = np.random.default_rng(0)
    for _ in range(12):
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        stepped_a = ours.step(actions)
        stepped_b = theirs.step(actions)
        assert all(nearly_the_same_frame(x, y) for x, y in zip(stepped_a[0], stepped_b[0]))
        for x, y in zip(stepped_a[1:4], stepped_b[1:4]):
            assert np.array_equal(x, y)
        assert np.array_equal(stepped_a[4]["state"], stepped_b[4]["state"])


def test_worlds_that_finish_start_their_next_episode_in_the_same_step():
    n = 2
    env = prefrontal.make_vector_env("reach", n)
    _, info = env.reset(seed=3)
    there = info["state"]
    # Start every world at its goal: the first step ends every episode.
    _, info = env.reset(seed=3, options={"state": there, "goal_state": there})
    assert info["success"].all()
    obs, reward, terminated, truncated, info = env.step(np.zeros((n, 2), np.float32))
    assert terminated.all() and not truncated.any()
    assert info["_final_obs"].all() and info["_final_info"].all()
    assert info["final_info"]["success"].all()
    for world in range(n):
        assert info["final_obs"][world].shape == (64, 64, 3)
        assert not np.array_equal(info["final_obs"][world], obs[world])
    # The new episodes are running (fresh seeds, new goals); the facts still describe the
    # episodes that ended.
    assert (info["final_info"]["episode_step"] == 1).all()
    assert (info["seed"] != np.array([3, 4])).all()
    assert not np.array_equal(info["goal_state"], there)
    env.step(np.zeros((n, 2), np.float32))


def test_bad_batches_are_refused():
    env = prefrontal.make_vector_env("reach", 2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 2), np.float32))
    bad = np.zeros((2, 2), np.float32)
    bad[1, 0] = np.inf
    with pytest.raises(ValueError, match="env 1"):
        env.step(bad)
    with pytest.raises(ValueError, match="seeds"):
        env.reset(seed=[1])
