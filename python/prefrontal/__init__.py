"""Prefrontal from Python.

- ``import prefrontal`` registers Gymnasium ids ``prefrontal/Reach-v0``, ``TwoRooms-v0``,
  ``Push-v0``, ``Reacher-v0`` and ``ReacherPost-v0``; ``prefrontal.make_env(scene)`` makes
  an environment of any scene file, ``prefrontal.make_vector_env(scene, n)`` ``n`` worlds
  stepping together.
- ``prefrontal.Dataset(dir)``: a dataset's episodes as numpy arrays;
  ``prefrontal.export_swm_hdf5(dir, out)`` writes it in stable-worldmodel's HDF5 layout.
- ``prefrontal.WorldModel.load(checkpoint)``: ``encode`` frames, ``rollout`` latents.
- ``prefrontal.Agent(checkpoint=..., agent=...)`` or ``Agent(run=...)``: ``plan(obs, goal)``
  once, or ``reset(goal)`` then ``act(obs)`` in closed loop.
- ``prefrontal.evaluation_episodes(run)``: a run's held-out start and goal states.
- ``prefrontal.view(...)``: the viewer's window.

Stepping, rendering, encoding and planning all run in Prefrontal's Rust crates; this
package converts to and from numpy.
"""

import os
import tempfile

# Mesa's software Vulkan (lavapipe) prints an error for every renderer it starts without
# XDG_RUNTIME_DIR; scripts/env.sh sets the same for the CLI.
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())

try:
    from prefrontal import _prefrontal  # noqa: F401
except ImportError as error:
    if "libtorch" not in str(error) and "libc10" not in str(error):
        raise
    # A build with the `libtorch` cargo feature links PyTorch's LibTorch: loading torch
    # first puts its libraries in the process.
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ImportError(
            "this build of prefrontal links LibTorch (cargo feature libtorch): "
            "pip install 'prefrontal[libtorch]' (torch 2.9.0), or build the wheel without it: "
            "PREFRONTAL_WHEEL_FEATURES= bash scripts/python.sh"
        ) from error
    from prefrontal import _prefrontal  # noqa: F401

from prefrontal._prefrontal import (
    Agent,
    Dataset,
    WorldModel,
    evaluation_episodes,
    export_swm_hdf5,
    shipped_scenes,
    view,
)
from prefrontal.envs import PrefrontalEnv, make_env, register_envs
from prefrontal.vector import PrefrontalVectorEnv, make_vector_env

__all__ = [
    "Agent",
    "Dataset",
    "PrefrontalEnv",
    "PrefrontalVectorEnv",
    "WorldModel",
    "evaluation_episodes",
    "export_swm_hdf5",
    "make_env",
    "make_vector_env",
    "register_envs",
    "shipped_scenes",
    "view",
]

register_envs()
