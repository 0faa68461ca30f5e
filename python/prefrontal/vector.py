"""Prefrontal's parallel worlds (one Bevy app, N worlds) as a Gymnasium vector environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from prefrontal._prefrontal import Worlds
from prefrontal.envs import action_box, as_state, open_worlds, pixel_box

#: Per-world facts reported in ``info``, each ``[N]`` with its ``_key`` mask.
FACTS = ("success", "distance", "episode_step", "seed", "action_clipped")


class PrefrontalVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` rendered worlds of one scene stepping together, in one process.

    Observations are frames ``uint8 [N, H, W, 3]``; ``info`` holds ``proprio``, ``state``,
    ``goal`` (images), ``goal_proprio``, ``goal_state`` and the per-world facts, each with
    its ``_key`` mask. Auto-reset follows Gymnasium's ``AutoresetMode.SAME_STEP``: a world
    whose episode ends returns the first observation of its next episode in the same step,
    with the last one in ``info["final_obs"]`` and its facts in ``info["final_info"]``
    (masks ``_final_obs`` and ``_final_info``); until the next step, such a world's
    ``success``, ``distance`` and ``episode_step`` still describe the episode that ended. ``reset(seed=s)`` starts world ``i`` in
    episode ``s + i``; a world's later episodes are seeded from its last reset seed, as in
    Prefrontal's ``VecEnv``.
    """

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        scene: str,
        num_envs: int,
        render_mode: str | None = None,
        width: int | None = None,
        height: int | None = None,
        camera: str | None = None,
    ):
        self._worlds = open_worlds(scene, num_envs, render_mode, width, height, camera, True)
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self._worlds.control_hz}
        self.single_observation_space = pixel_box(self._worlds)
        self.single_action_space = action_box(self._worlds)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._pixels: np.ndarray | None = None
        self._goal: dict[str, np.ndarray] | None = None

    @property
    def worlds(self) -> Worlds:
        """The native worlds."""
        return self._worlds

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        if seed is None:
            seeds = [int(s) for s in self.np_random.integers(0, 2**63 - 1, self.num_envs)]
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            if len(seed) != self.num_envs:
                raise ValueError(f"got {len(seed)} seeds for {self.num_envs} worlds")
            seeds = [int(s) if s is not None else int(self.np_random.integers(0, 2**63 - 1)) for s in seed]
        batch = self._worlds.reset(seeds)
        options = options or {}
        for key in options:
            if key not in ("state", "goal_state"):
                raise ValueError(f"unknown reset option {key!r}: the options are 'state' and 'goal_state'")
        for i in range(self.num_envs):
            if "goal_state" in options:
                self._worlds.set_goal_state(i, as_state(options["goal_state"][i], self._worlds))
        if "state" in options:
            for i in range(self.num_envs):
                one = self._worlds.set_state(i, as_state(options["state"][i], self._worlds))
                for key, value in one.items():
                    batch[key][i] = value[0]
        self._goal = self._worlds.goals()
        return self._observe(batch)

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {self.action_space.shape}, got {actions.shape}")
        batch = self._worlds.step(np.ascontiguousarray(actions))
        ended = batch.get("final_index")
        if ended is not None:
            # New episodes have new goals.
            self._goal = self._worlds.goals()
        observations, info = self._observe(batch)
        if ended is not None:
            self._add_finals(info, batch, ended)
        return observations, batch["reward"], batch["terminated"], batch["truncated"], info

    def render(self):
        """The current frames, one ``uint8 [H, W, 3]`` view per world."""
        if self.render_mode is None:
            gym.logger.warn("render() without render_mode: make the env with render_mode='rgb_array'")
            return None
        return tuple(self._pixels)

    def close_extras(self, **kwargs: Any) -> None:
        self._pixels = None

    def _observe(self, batch):
        self._pixels = batch["pixels"]
        every = np.ones(self.num_envs, dtype=bool)
        info = {
            "proprio": batch["proprio"],
            "state": batch["state"],
            "goal": self._goal["pixels"].copy(),
            "goal_proprio": self._goal["proprio"].copy(),
            "goal_state": self._goal["state"].copy(),
        }
        info.update({key: batch[key] for key in FACTS})
        info.update({f"_{key}": every.copy() for key in list(info)})
        return self._pixels, info

    def _add_finals(self, info, batch, ended) -> None:
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[ended] = True
        final_obs = np.full(self.num_envs, None, dtype=object)
        final_info: dict[str, np.ndarray] = {}
        for row, world in enumerate(ended):
            final_obs[world] = batch["final_pixels"][row]
        for key in ("proprio", "state"):
            column = np.zeros_like(batch[key])
            column[ended] = batch[f"final_{key}"]
            final_info[key] = column
            final_info[f"_{key}"] = mask.copy()
        for key in ("success", "distance", "episode_step"):
            final_info[key] = np.where(mask, batch[key], np.zeros_like(batch[key]))
            final_info[f"_{key}"] = mask.copy()
        info["final_obs"] = final_obs
        info["_final_obs"] = mask
        info["final_info"] = final_info
        info["_final_info"] = mask.copy()


def make_vector_env(scene: str, num_envs: int, **kwargs) -> PrefrontalVectorEnv:
    """``num_envs`` worlds of ``scene`` (a shipped scene's name or a ``.scene.ron`` file)."""
    return PrefrontalVectorEnv(scene, num_envs, **kwargs)
