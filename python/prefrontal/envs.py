"""One Prefrontal world as a Gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from prefrontal._prefrontal import Worlds

#: Gymnasium ids of the shipped scenes.
SHIPPED_IDS = {
    "Reach-v0": "reach",
    "TwoRooms-v0": "two_rooms",
    "Push-v0": "push",
    "Reacher-v0": "reacher",
    "ReacherPost-v0": "reacher_post",
}


def register_envs() -> None:
    """Registers ``prefrontal/<Id>`` for every shipped scene (done on ``import prefrontal``)."""
    for env_id, scene in SHIPPED_IDS.items():
        full_id = f"prefrontal/{env_id}"
        if full_id not in gym.registry:
            gym.register(full_id, entry_point=PrefrontalEnv, kwargs={"scene": scene})


def open_worlds(scene: str, num_envs: int, render_mode: str | None, width: int | None,
                height: int | None, camera: str | None, auto_reset: bool) -> Worlds:
    """The native worlds behind an environment, rendered at ``width × height`` (the camera's
    size when neither is given, square when one is)."""
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
    size = None if width is None and height is None else (width or height, height or width)
    return Worlds(scene, num_envs, size, camera, auto_reset)


def action_box(worlds: Worlds) -> spaces.Box:
    """The scene's action bounds as a float32 Box."""
    low = np.asarray(worlds.action_low, dtype=np.float32)
    high = np.asarray(worlds.action_high, dtype=np.float32)
    return spaces.Box(low, high, dtype=np.float32)


def pixel_box(worlds: Worlds) -> spaces.Box:
    """A rendered frame, ``uint8 [H, W, 3]``."""
    height, width = worlds.frame_shape
    return spaces.Box(0, 255, (height, width, 3), dtype=np.uint8)


def as_state(state: Any, worlds: Worlds) -> np.ndarray:
    """A privileged state as the contiguous float32 vector the worlds take."""
    state = np.ascontiguousarray(state, dtype=np.float32)
    expected = len(worlds.state_names)
    if state.shape != (expected,):
        raise ValueError(
            f"a state has shape ({expected},) (the layout of state_names), got {state.shape}"
        )
    return state


class PrefrontalEnv(gym.Env):
    """One rendered world of a Prefrontal scene.

    The observation is the camera frame, ``uint8 [H, W, 3]``; actions are the scene's box.
    ``info`` holds ``proprio``, ``state`` (privileged: positions, rotations, velocities),
    the goal as ``goal`` (its image), ``goal_proprio`` and ``goal_state``, and ``success``,
    ``distance``, ``episode_step``, ``seed``, ``action_clipped``. ``terminated`` is success;
    ``truncated`` comes at the scene's step limit. ``reset(seed=s)`` starts Prefrontal's
    episode ``s`` (the episodes ``prefrontal eval --seed`` numbers); ``options`` may carry
    ``state`` and ``goal_state`` to start from. ``_set_state`` and ``_set_goal_state`` put
    the world, or its goal, exactly into a privileged state.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        scene: str = "push",
        render_mode: str | None = None,
        width: int | None = None,
        height: int | None = None,
        camera: str | None = None,
    ):
        self._worlds = open_worlds(scene, 1, render_mode, width, height, camera, False)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self._worlds.control_hz}
        self.observation_space = pixel_box(self._worlds)
        self.action_space = action_box(self._worlds)
        self._pixels: np.ndarray | None = None
        self._goal: dict[str, np.ndarray] | None = None

    @property
    def scene(self) -> str:
        """The scene's name."""
        return self._worlds.scene

    @property
    def worlds(self) -> Worlds:
        """The native worlds (names of the state and proprioception components, limits)."""
        return self._worlds

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        episode = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        batch = self._worlds.reset_env(0, episode)
        options = options or {}
        if "goal_state" in options:
            self._worlds.set_goal_state(0, as_state(options["goal_state"], self._worlds))
        if "state" in options:
            batch = self._worlds.set_state(0, as_state(options["state"], self._worlds))
        self._goal = self._worlds.goals()
        return self._observe(batch)

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        if action.shape != self.action_space.shape:
            raise ValueError(
                f"an action has shape {self.action_space.shape}, got {action.shape}"
            )
        batch = self._worlds.step(action.reshape(1, -1))
        observation, info = self._observe(batch)
        reward = float(batch["reward"][0])
        return observation, reward, bool(batch["terminated"][0]), bool(batch["truncated"][0]), info

    def render(self):
        """The current frame, ``uint8 [H, W, 3]``: the observation's own array, no copy."""
        if self.render_mode is None:
            gym.logger.warn("render() without render_mode: make the env with render_mode='rgb_array'")
            return None
        return self._pixels

    def close(self):
        self._pixels = None

    def _set_state(self, state) -> None:
        """Puts the world exactly into ``state`` (``info['state']``'s layout) and renders it."""
        batch = self._worlds.set_state(0, as_state(state, self._worlds))
        self._pixels = batch["pixels"][0]

    def _set_goal_state(self, goal_state) -> None:
        """Makes the body configuration in ``goal_state`` the goal (image and success follow)."""
        self._worlds.set_goal_state(0, as_state(goal_state, self._worlds))
        self._goal = self._worlds.goals()

    def _observe(self, batch):
        self._pixels = batch["pixels"][0]
        goal = self._goal
        info = {
            "proprio": batch["proprio"][0],
            "state": batch["state"][0],
            "goal": goal["pixels"][0].copy(),
            "goal_proprio": goal["proprio"][0].copy(),
            "goal_state": goal["state"][0].copy(),
            "success": bool(batch["success"][0]),
            "distance": float(batch["distance"][0]),
            "episode_step": int(batch["episode_step"][0]),
            "seed": int(batch["seed"][0]),
            "action_clipped": bool(batch["action_clipped"][0]),
        }
        return self._pixels, info


def make_env(scene: str, **kwargs) -> PrefrontalEnv:
    """An environment of ``scene``: a shipped scene's name or a ``.scene.ron`` file."""
    return PrefrontalEnv(scene=scene, **kwargs)
