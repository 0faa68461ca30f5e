//! Rendered worlds of a scene for Python: `VecEnv` with numpy in and out.

use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use prefrontal_runtime::load_run;
use prefrontal_sim::{Action, Frame, Info, Observation, RenderOptions, Scene, SimError, VecEnv};

use crate::{runtime_error, value_error};

/// The scenes shipped in `scenes/`, compiled in so that the package needs no files.
const SHIPPED: [(&str, &str); 5] = [
    ("reach", include_str!("../../scenes/reach.scene.ron")),
    (
        "two_rooms",
        include_str!("../../scenes/two_rooms.scene.ron"),
    ),
    ("push", include_str!("../../scenes/push.scene.ron")),
    ("reacher", include_str!("../../scenes/reacher.scene.ron")),
    (
        "reacher_post",
        include_str!("../../scenes/reacher_post.scene.ron"),
    ),
];

/// Names of the scenes shipped with Prefrontal.
#[pyfunction]
pub fn shipped_scenes() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}

/// A shipped scene by name, or a scene file by path.
pub fn load_scene(scene: &str) -> PyResult<Scene> {
    if let Some((name, text)) = SHIPPED.iter().find(|(name, _)| *name == scene) {
        return Scene::parse(text, format!("scenes/{name}.scene.ron")).map_err(value_error);
    }
    if !Path::new(scene).is_file() {
        return Err(PyValueError::new_err(format!(
            "unknown scene \"{scene}\": neither a shipped scene ({}) nor a scene file",
            shipped_scenes().join(", ")
        )));
    }
    Scene::load(scene).map_err(value_error)
}

/// Refused input is a `ValueError`; the rest (order of calls, rendering) a `RuntimeError`.
fn sim_error(error: SimError) -> PyErr {
    match error {
        SimError::Action { .. }
        | SimError::ActionCount { .. }
        | SimError::SeedCount { .. }
        | SimError::State { .. }
        | SimError::NoEnvs => value_error(error),
        _ => runtime_error(error),
    }
}

/// `num_envs` rendered worlds of one scene stepping together. Every call returns a dict of
/// numpy arrays with a leading axis of worlds: `pixels u8 [N, H, W, 3]`, `proprio f32
/// [N, P]`, `state f32 [N, S]`, and per step `reward`, `terminated`, `truncated`, `success`,
/// `distance`, `episode_step`, `seed`, `action_clipped` (`[N]` each).
#[derive(Debug)]
#[pyclass(unsendable, module = "prefrontal._prefrontal")]
pub struct Worlds {
    env: VecEnv,
    /// Frame height and width.
    frame: (usize, usize),
}

#[pymethods]
impl Worlds {
    /// Builds the worlds of `scene` (a shipped name or a scene file), rendered through
    /// `camera` (the scene's first by default) at `size` = (width, height) (the camera's
    /// by default). With `auto_reset`, a world whose episode ends starts the next in the
    /// same step; without, stepping it fails until it is reset.
    #[new]
    #[pyo3(signature = (scene, num_envs = 1, size = None, camera = None, auto_reset = false))]
    fn new(
        scene: &str,
        num_envs: usize,
        size: Option<(u32, u32)>,
        camera: Option<String>,
        auto_reset: bool,
    ) -> PyResult<Self> {
        let scene = load_scene(scene)?;
        let options = RenderOptions {
            camera,
            resolution: size,
        };
        let mut env = VecEnv::with_rendering(scene, num_envs, options).map_err(sim_error)?;
        env.set_auto_reset(auto_reset);
        let camera = env.camera().expect("rendering");
        let frame = (camera.height as usize, camera.width as usize);
        Ok(Worlds { env, frame })
    }

    /// The scene's name.
    #[getter]
    fn scene(&self) -> String {
        self.env.scene().name.clone()
    }

    /// Number of worlds.
    #[getter]
    fn num_envs(&self) -> usize {
        self.env.num_envs()
    }

    /// `(height, width)` of a frame.
    #[getter]
    fn frame_shape(&self) -> (usize, usize) {
        self.frame
    }

    /// Lower bounds of an action.
    #[getter]
    fn action_low(&self) -> Vec<f32> {
        self.env.action_space().low
    }

    /// Upper bounds of an action.
    #[getter]
    fn action_high(&self) -> Vec<f32> {
        self.env.action_space().high
    }

    /// Names of the action components.
    #[getter]
    fn action_names(&self) -> Vec<String> {
        self.env.action_space().names
    }

    /// Names of the proprioception components.
    #[getter]
    fn proprio_names(&self) -> Vec<String> {
        self.env.observation_space().proprio.names
    }

    /// Names of the privileged-state components.
    #[getter]
    fn state_names(&self) -> Vec<String> {
        self.env.observation_space().state.names
    }

    /// Control steps per simulated second.
    #[getter]
    fn control_hz(&self) -> f32 {
        self.env.scene().physics.control_hz
    }

    /// Control steps after which an episode is truncated.
    #[getter]
    fn max_steps(&self) -> u32 {
        self.env.scene().task.max_steps
    }

    /// Resets world `i` with `seeds[i]`.
    fn reset<'py>(&mut self, py: Python<'py>, seeds: Vec<u64>) -> PyResult<Bound<'py, PyDict>> {
        let started = self.env.reset(&seeds).map_err(sim_error)?;
        let (observations, infos): (Vec<_>, Vec<_>) = started.into_iter().unzip();
        let batch = self.observations(py, observations)?;
        self.add_infos(&batch, &infos)?;
        Ok(batch)
    }

    /// Resets world `env` alone with `seed`; returns its observation (a batch of one).
    fn reset_env<'py>(
        &mut self,
        py: Python<'py>,
        env: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.check_env(env)?;
        let (observation, info) = self.env.reset_env(env, seed).map_err(sim_error)?;
        let batch = self.observations(py, vec![observation])?;
        self.add_infos(&batch, &[info])?;
        Ok(batch)
    }

    /// Steps every world with its row of `actions` (`f32 [N, A]`). Worlds that auto-reset
    /// also report the last observation of the episode that ended: `final_index` (which
    /// worlds) and `final_pixels`, `final_proprio`, `final_state` (one row each).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let actions: Vec<Action> = actions
            .as_array()
            .rows()
            .into_iter()
            .map(|row| Action(row.to_vec()))
            .collect();
        let steps = self.env.step(&actions).map_err(sim_error)?;
        let mut observations = Vec::with_capacity(steps.len());
        let mut infos = Vec::with_capacity(steps.len());
        let (mut reward, mut terminated, mut truncated) = (vec![], vec![], vec![]);
        let (mut final_index, mut finals) = (vec![], vec![]);
        for (env, step) in steps.into_iter().enumerate() {
            reward.push(step.reward);
            terminated.push(step.terminated);
            truncated.push(step.truncated);
            let mut info = step.info;
            if let Some(last) = info.final_observation.take() {
                final_index.push(env as u64);
                finals.push(*last);
            }
            observations.push(step.observation);
            infos.push(info);
        }
        let batch = self.observations(py, observations)?;
        self.add_infos(&batch, &infos)?;
        batch.set_item("reward", PyArray1::from_vec(py, reward))?;
        batch.set_item("terminated", PyArray1::from_vec(py, terminated))?;
        batch.set_item("truncated", PyArray1::from_vec(py, truncated))?;
        if !finals.is_empty() {
            let last = self.observations(py, finals)?;
            for key in ["pixels", "proprio", "state"] {
                batch.set_item(format!("final_{key}"), last.get_item(key)?)?;
            }
            batch.set_item("final_index", PyArray1::from_vec(py, final_index))?;
        }
        Ok(batch)
    }

    /// Puts world `env` exactly into `state` (`f32 [S]`, the layout of `state_names`) and
    /// renders it there; returns its observation (a batch of one). The episode's goal and
    /// step count are unchanged.
    fn set_state<'py>(
        &mut self,
        py: Python<'py>,
        env: usize,
        state: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.check_env(env)?;
        let state = state.as_array().to_vec();
        let (observation, info) = self.env.set_state(env, &state).map_err(sim_error)?;
        let batch = self.observations(py, vec![observation])?;
        self.add_infos(&batch, &[info])?;
        Ok(batch)
    }

    /// Makes the configuration of the bodies in `state` (`f32 [S]`) world `env`'s goal.
    fn set_goal_state(&mut self, env: usize, state: PyReadonlyArray1<'_, f32>) -> PyResult<()> {
        self.check_env(env)?;
        let state = state.as_array().to_vec();
        self.env.set_goal_state(env, &state).map_err(sim_error)
    }

    /// Every world's goal, shown at rest: its image, proprioception and state.
    fn goals<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let goals = self.env.goal_observations().map_err(sim_error)?;
        self.observations(py, goals)
    }
}

impl Worlds {
    fn check_env(&self, env: usize) -> PyResult<()> {
        if env < self.env.num_envs() {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "there is no world {env}: there are {}",
                self.env.num_envs()
            )))
        }
    }

    /// Observations as a batch: `pixels` is handed over without a copy for one world, and
    /// copied once into the batch for several.
    fn observations<'py>(
        &self,
        py: Python<'py>,
        observations: Vec<Observation>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let n = observations.len();
        let (h, w) = self.frame;
        let mut frames: Vec<Vec<u8>> = Vec::with_capacity(n);
        let (mut proprio, mut state) = (Vec::new(), Vec::new());
        let (p, s) = (
            observations.first().map_or(0, |o| o.proprio.len()),
            observations.first().map_or(0, |o| o.state.len()),
        );
        for observation in observations {
            let Frame { pixels, .. } = observation.frame.expect("rendered worlds");
            frames.push(pixels);
            proprio.extend(observation.proprio);
            state.extend(observation.state);
        }
        let pixels = if n == 1 {
            frames.pop().expect("one frame")
        } else {
            frames.concat()
        };
        let batch = PyDict::new(py);
        batch.set_item(
            "pixels",
            PyArray1::from_vec(py, pixels).reshape([n, h, w, 3])?,
        )?;
        batch.set_item("proprio", PyArray1::from_vec(py, proprio).reshape([n, p])?)?;
        batch.set_item("state", PyArray1::from_vec(py, state).reshape([n, s])?)?;
        Ok(batch)
    }

    /// Adds the per-world facts of `infos` to `batch`.
    fn add_infos(&self, batch: &Bound<'_, PyDict>, infos: &[Info]) -> PyResult<()> {
        let py = batch.py();
        let column = |f: fn(&Info) -> f32| infos.iter().map(f).collect::<Vec<f32>>();
        batch.set_item("distance", PyArray1::from_vec(py, column(|i| i.distance)))?;
        let flags = |f: fn(&Info) -> bool| infos.iter().map(f).collect::<Vec<bool>>();
        batch.set_item("success", PyArray1::from_vec(py, flags(|i| i.success)))?;
        batch.set_item(
            "action_clipped",
            PyArray1::from_vec(py, flags(|i| i.action_clipped)),
        )?;
        let steps: Vec<u32> = infos.iter().map(|i| i.episode_step).collect();
        batch.set_item("episode_step", PyArray1::from_vec(py, steps))?;
        let seeds: Vec<u64> = infos.iter().map(|i| i.seed).collect();
        batch.set_item("seed", PyArray1::from_vec(py, seeds))?;
        Ok(())
    }
}

/// The held-out evaluation episodes of an experiment run folder (`runs/<name>/seed-<s>`):
/// the goals `prefrontal run` evaluated that seed on, under the experiment's protocol. Each
/// is a dict: `seed` (the scene's episode seed), `start_state` and `goal_state` (`f32 [S]`,
/// at rest: give them to `reset(options=…)` or `_set_state` / `_set_goal_state`), and
/// `budget` (the protocol's step limit).
#[pyfunction]
pub fn evaluation_episodes<'py>(
    py: Python<'py>,
    run: PathBuf,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let (_, experiment) = load_run(&run).map_err(value_error)?;
    let scene = Scene::load(&experiment.scene).map_err(value_error)?;
    let seed = experiment.seeds.first().copied().unwrap_or(0);
    let episodes = experiment
        .evaluation_episodes(&scene, seed)
        .map_err(value_error)?;
    let budget = experiment.evaluation.protocol.budget(&scene);
    let mut env = VecEnv::new(scene, 1).map_err(sim_error)?;
    episodes
        .into_iter()
        .map(|spec| {
            let (start, _) = env.reset_to(0, spec.episode).map_err(sim_error)?;
            let goal = env.goal_observations().map_err(sim_error)?.remove(0);
            let item = PyDict::new(py);
            item.set_item("seed", spec.seed)?;
            item.set_item("start_state", PyArray1::from_vec(py, start.state))?;
            item.set_item("goal_state", PyArray1::from_vec(py, goal.state))?;
            item.set_item("budget", budget)?;
            Ok(item)
        })
        .collect()
}
