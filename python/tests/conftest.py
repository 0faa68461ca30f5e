"""Shared fixtures: the repository, the `prefrontal` binary, a small dataset and a model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def prefrontal_binary() -> Path:
    """The CLI the tests drive (PREFRONTAL_BIN, or the test build's)."""
    if "PREFRONTAL_BIN" in os.environ:
        return Path(os.environ["PREFRONTAL_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/prefrontal-target"))
    return target / "debug" / "prefrontal"


def run_cli(*args: str) -> str:
    """Runs ``prefrontal ARGS`` in the repository; it must succeed."""
    result = subprocess.run(
        [str(prefrontal_binary()), *args], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, f"prefrontal {args} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def nearly_the_same_frame(a, b) -> bool:
    """Equal up to a few edge pixels: worlds rendered together, as tiles of one target,
    differ there from a world rendered alone (states are identical)."""
    return np.mean(np.abs(a.astype(int) - b.astype(int)) > 16) < 0.002


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reach_data(tmp_path_factory) -> Path:
    """Six recorded reach episodes of random actions (100 steps unless one reaches its goal), 64×64 frames."""
    out = tmp_path_factory.mktemp("data") / "reach"
    run_cli(
        "collect", "--scene", "scenes/reach.scene.ron", "--episodes", "6", "--steps", "100",
        "--seed", "1", "--policy", "random", "--envs", "6", "--out", str(out),
    )
    return out


@pytest.fixture(scope="session")
def reach_model(reach_data, tmp_path_factory) -> Path:
    """A reach world model trained for a few steps on ``reach_data``."""
    out = tmp_path_factory.mktemp("model") / "run"
    run_cli(
        "train", "--data", str(reach_data), "--config", "configs/reach.worldmodel.ron",
        "--out", str(out), "--steps", "5",
    )
    return out
