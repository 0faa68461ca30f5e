"""Datasets as numpy, and their export read back by stable-worldmodel's own HDF5 reader."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import prefrontal
from conftest import nearly_the_same_frame, run_cli


def test_episodes_are_numpy_arrays(reach_data):
    data = prefrontal.Dataset(reach_data)
    assert len(data) == 6 and data.scene == "reach" and data.frame_shape == (64, 64)
    for i, steps in enumerate(data.steps):
        episode = data[i]
        assert episode["pixels"].shape == (steps + 1, 64, 64, 3)
        assert episode["pixels"].dtype == np.uint8
        assert episode["action"].shape == (steps, 2)
        assert episode["proprio"].shape == (steps + 1, len(data.proprio_names))
        assert episode["state"].shape == (steps + 1, len(data.state_names))
        assert episode["reward"].shape == (steps,)
    assert np.array_equal(data[-1]["pixels"], data[5]["pixels"])
    with pytest.raises(IndexError, match="out of range"):
        data[6]
    with pytest.raises(ValueError, match="nowhere"):
        prefrontal.Dataset("nowhere")


def test_the_recorded_episodes_are_what_the_environment_does(reach_data):
    data = prefrontal.Dataset(reach_data)
    episode = data[0]
    env = prefrontal.make_env("reach")
    obs, info = env.reset(seed=int(episode["seed"]))
    assert np.array_equal(info["state"], episode["state"][0])
    assert nearly_the_same_frame(obs, episode["pixels"][0])
    for t in range(5):
        obs, _, _, _, info = env.step(episode["action"][t])
        assert np.array_equal(info["state"], episode["state"][t + 1])
        assert nearly_the_same_frame(obs, episode["pixels"][t + 1])


def test_stable_worldmodels_reader_loads_the_export_in_our_windows(reach_data, tmp_path):
    from stable_worldmodel.data import HDF5Dataset

    out = tmp_path / "reach.h5"
    run_cli("dataset", "export", str(reach_data), "--format", "swm-hdf5", "--out", str(out))
    ours = prefrontal.Dataset(reach_data)
    frameskip, history = 5, 3
    theirs = HDF5Dataset(
        path=str(out), frameskip=frameskip, num_steps=history + 1,
        keys_to_load=["pixels", "action", "proprio", "state"],
    )
    span = (history + 1) * frameskip
    expected = [(e, s) for e, t in enumerate(ours.steps) for s in range(t + 1 - span + 1)]
    assert len(theirs) == len(expected) > 0
    for index in range(0, len(theirs), 7):
        episode, start = expected[index]
        window = theirs[index]
        mine = ours[episode]
        frames = start + frameskip * np.arange(history + 1)
        assert np.array_equal(window["pixels"].numpy(), mine["pixels"][frames].transpose(0, 3, 1, 2))
        assert np.array_equal(window["state"].numpy(), mine["state"][frames])
        assert np.array_equal(window["proprio"].numpy(), mine["proprio"][frames])
        # Our training window of `history` frames: the h-1 model actions between them.
        actions = window["action"].numpy()
        assert actions.shape == (history + 1, frameskip * 2)
        between = mine["action"][start : start + (history - 1) * frameskip]
        assert np.array_equal(actions[: history - 1], between.reshape(history - 1, -1))


def test_the_export_can_be_resized_and_written_from_python(reach_data, tmp_path):
    out = tmp_path / "big.h5"
    episodes, rows = prefrontal.export_swm_hdf5(reach_data, out, size=96)
    assert episodes == 6
    with h5py.File(out) as file:
        assert file["pixels"].shape == (rows, 96, 96, 3)
        assert file["ep_len"].dtype == np.int32 and file["ep_offset"].dtype == np.int64
        last = file["ep_offset"][0] + file["ep_len"][0] - 1
        assert np.isnan(file["action"][last]).all()
        assert not np.isnan(file["action"][last - 1]).any()
