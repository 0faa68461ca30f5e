//! Gymnasium-shaped environments over the ECS worlds: `Env` (one world) and `VecEnv`
//! (N worlds stepping together in one Bevy `App`).

use std::sync::Arc;

use bevy::app::{App, Plugins, TaskPoolPlugin};
use bevy::asset::AssetPlugin;
use bevy::camera::CameraPlugin;
use bevy::core_pipeline::CorePipelinePlugin;
use bevy::diagnostic::FrameCountPlugin;
use bevy::gizmos::GizmoPlugin;
use bevy::image::ImagePlugin;
use bevy::light::LightPlugin;
use bevy::mesh::MeshPlugin;
use bevy::pbr::PbrPlugin;
use bevy::render::RenderPlugin;
use bevy::time::{TimePlugin, TimeUpdateStrategy};
use bevy::transform::TransformPlugin;
use bevy::transform::components::Transform;
use bevy::window::{ExitCondition, WindowPlugin};

use crate::frame::Frame;
use crate::kinematics::Configuration;
use crate::observation::Observation;
use crate::render::{
    PoseOverrides, Readback, RenderError, RenderOptions, RenderTargets, SimRenderPlugin,
    TileCamera, check_adapter,
};
use crate::scene::Scene;
use crate::task::{Goal, SamplingError, StartGoal, episode_seed};
use crate::world::{
    ActionError, SimPlugin, SimWorlds, despawn_worlds, restore_state, set_goal_state, spawn_world,
};
use bevy_rapier3d::prelude::Velocity;

/// An action vector. Components outside the scene's action space are clipped to its bounds
/// (reported in `Info::action_clipped`); NaN or infinite components are refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Action(pub Vec<f32>);

impl From<Vec<f32>> for Action {
    fn from(values: Vec<f32>) -> Self {
        Action(values)
    }
}

/// A box in ℝⁿ with a name per component.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpace {
    /// Lower bounds (may be `-∞`).
    pub low: Vec<f32>,
    /// Upper bounds (may be `+∞`).
    pub high: Vec<f32>,
    /// Component names.
    pub names: Vec<String>,
}

impl BoxSpace {
    /// Number of components.
    pub fn dim(&self) -> usize {
        self.low.len()
    }

    fn unbounded(names: Vec<String>) -> Self {
        Self {
            low: vec![f32::NEG_INFINITY; names.len()],
            high: vec![f32::INFINITY; names.len()],
            names,
        }
    }
}

/// The shapes of observations.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationSpace {
    /// Proprioception.
    pub proprio: BoxSpace,
    /// Privileged state.
    pub state: BoxSpace,
}

/// Per-step facts beside the observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// Every task target is within tolerance.
    pub success: bool,
    /// Summed distance of the task's target points from their goals (m).
    pub distance: f32,
    /// Control steps taken in the episode so far.
    pub episode_step: u32,
    /// The seed the episode was sampled from.
    pub seed: u64,
    /// Clipping changed the action of this step.
    pub action_clipped: bool,
    /// After an auto-reset: the last observation of the episode that ended. The step's
    /// `observation` is then the first of the new episode.
    pub final_observation: Option<Box<Observation>>,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step.
    pub observation: Observation,
    /// Dense reward: minus the summed target errors.
    pub reward: f32,
    /// The goal was reached.
    pub terminated: bool,
    /// The episode hit the task's step limit.
    pub truncated: bool,
    /// Further facts.
    pub info: Info,
}

/// Why an environment call failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An action was refused.
    #[error("env {env}: {source}")]
    Action {
        /// The environment.
        env: usize,
        /// What is wrong with its action.
        source: ActionError,
    },
    /// The number of actions differs from the number of environments.
    #[error("got {got} actions for {expected} environments")]
    ActionCount {
        /// Number of environments.
        expected: usize,
        /// Number of actions passed.
        got: usize,
    },
    /// `step` before the first `reset`.
    #[error("env {0}: step called before reset")]
    NotReset(usize),
    /// `step` after the episode ended, without auto-reset.
    #[error("env {0}: the episode has ended; call reset")]
    EpisodeOver(usize),
    /// The number of seeds differs from the number of environments.
    #[error("got {got} seeds for {expected} environments")]
    SeedCount {
        /// Number of environments.
        expected: usize,
        /// Number of seeds passed.
        got: usize,
    },
    /// A vector environment needs at least one world.
    #[error("a VecEnv needs at least one environment")]
    NoEnvs,
    /// The scene's task cannot be sampled.
    #[error(transparent)]
    Sampling(#[from] SamplingError),
    /// Rendering could not be set up.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Frames were asked of an environment built without rendering.
    #[error("this environment was built without rendering (use with_rendering)")]
    NotRendering,
    /// A state to restore has the wrong length or a non-finite value.
    #[error(
        "a state to restore must hold {expected} finite values (the observation's state layout)"
    )]
    State {
        /// The state dimension.
        expected: usize,
    },
    /// One `App::update` did not run exactly one control step.
    #[error("the fixed clock ran {0} control steps in one update instead of 1")]
    Clock(u32),
}

#[derive(Debug, Clone, Copy)]
struct EpisodeState {
    /// The seed passed to the last explicit reset.
    reset_seed: u64,
    /// Episodes started since that reset (auto-resets).
    episodes: u64,
    /// The episode has terminated or been truncated.
    over: bool,
}

/// N worlds of one scene stepping together. With auto-reset on, a world whose episode ends
/// starts its next one in the same step, seeded by `task::episode_seed`.
#[derive(Debug)]
pub struct VecEnv {
    app: App,
    scene: Arc<Scene>,
    episodes: Vec<Option<EpisodeState>>,
    auto_reset: bool,
    /// Episodes never end (see `set_endless`).
    endless: bool,
    /// Present when the worlds are rendered.
    readback: Option<Readback>,
}

/// Updates that a fresh renderer gets to produce its first complete frame.
const WARM_UP_UPDATES: u32 = 50;

impl VecEnv {
    /// Builds `num_envs` worlds of `scene`, physics only, with auto-reset.
    pub fn new(scene: Scene, num_envs: usize) -> Result<Self, SimError> {
        Self::with_plugins(scene, num_envs, None, ())
    }

    /// Builds `num_envs` worlds of `scene` whose observations carry camera frames, rendered
    /// by Bevy's renderer (on the GPU, or on Mesa's software Vulkan without one).
    pub fn with_rendering(
        scene: Scene,
        num_envs: usize,
        options: RenderOptions,
    ) -> Result<Self, SimError> {
        Self::with_plugins(scene, num_envs, Some(options), ())
    }

    /// Builds `num_envs` worlds of `scene`, rendered when `render` is given, with more
    /// `plugins` in the `App` (e.g. an agent that sets actions, see `step_driven`).
    pub fn with_plugins<M>(
        scene: Scene,
        num_envs: usize,
        render: Option<RenderOptions>,
        plugins: impl Plugins<M>,
    ) -> Result<Self, SimError> {
        if num_envs == 0 {
            return Err(SimError::NoEnvs);
        }
        let scene = Arc::new(scene);
        let mut app = App::new();
        let render = match render {
            Some(options) => {
                let render = SimRenderPlugin {
                    scene: scene.clone(),
                    worlds: num_envs,
                    options,
                };
                render.camera()?;
                check_adapter()?;
                // The renderer's plugins, named one by one rather than Bevy's default
                // group: with the window features on (the viewer's), that group would open
                // an event loop, which needs a display and exists once per process.
                // `GizmoPlugin` because the light plugin registers gizmo systems whenever
                // the workspace builds Bevy with gizmos.
                app.add_plugins((
                    (TaskPoolPlugin::default(), FrameCountPlugin, TimePlugin),
                    (TransformPlugin, AssetPlugin::default()),
                    WindowPlugin {
                        primary_window: None,
                        exit_condition: ExitCondition::DontExit,
                        ..Default::default()
                    },
                    RenderPlugin {
                        // Pipelines compile before the frame that needs them: no blank frames.
                        synchronous_pipeline_compilation: true,
                        ..Default::default()
                    },
                    (
                        ImagePlugin::default(),
                        MeshPlugin,
                        CameraPlugin,
                        LightPlugin,
                    ),
                    (CorePipelinePlugin, PbrPlugin::default(), GizmoPlugin),
                ));
                Some(render)
            }
            None => {
                app.add_plugins((TaskPoolPlugin::default(), TimePlugin, TransformPlugin));
                None
            }
        };
        let rendering = render.is_some();
        app.add_plugins(SimPlugin {
            scene: scene.clone(),
            worlds: num_envs,
        })
        // Each update advances the fixed clock by exactly one period: one control step.
        .insert_resource(TimeUpdateStrategy::FixedTimesteps(1));
        if let Some(render) = render {
            app.add_plugins(render);
        }
        app.add_plugins(plugins);
        app.finish();
        app.cleanup();
        // The first update runs the startup schedules; no world exists yet.
        app.update();
        let readback = rendering.then(|| Readback::new(&app));
        let mut env = Self {
            app,
            scene,
            episodes: vec![None; num_envs],
            auto_reset: true,
            endless: false,
            readback,
        };
        if rendering {
            env.warm_up()?;
        }
        Ok(env)
    }

    /// Renders until every tile shows more than one colour (the arena): shaders and
    /// pipelines are ready, so no episode ever sees a blank frame.
    fn warm_up(&mut self) -> Result<(), SimError> {
        for _ in 0..WARM_UP_UPDATES {
            let frames = self.render_now();
            let ready = frames.iter().all(|frame| {
                let corner = &frame.pixels[..3];
                frame.pixels.chunks(3).any(|pixel| pixel != corner)
            });
            if ready && !frames.is_empty() {
                return Ok(());
            }
        }
        Err(RenderError::NotReady(WARM_UP_UPDATES).into())
    }

    /// Runs one update that renders without advancing the simulation, and reads it back.
    fn render_now(&mut self) -> Vec<Frame> {
        self.app
            .insert_resource(TimeUpdateStrategy::FixedTimesteps(0));
        self.app.update();
        self.app
            .insert_resource(TimeUpdateStrategy::FixedTimesteps(1));
        self.read_frames()
    }

    fn read_frames(&self) -> Vec<Frame> {
        self.readback
            .as_ref()
            .map(|readback| readback.frames(&self.app))
            .unwrap_or_default()
    }

    /// Stores freshly read frames of environments `envs` in their observations.
    fn attach_frames(&mut self, frames: Vec<Frame>, envs: &[usize]) {
        let mut sim = self.app.world_mut().resource_mut::<SimWorlds>();
        for (env, frame) in frames.into_iter().enumerate() {
            if envs.contains(&env) {
                sim.set_frame(env, frame);
            }
        }
    }

    /// The camera the frames are rendered through, when rendering.
    pub fn camera(&self) -> Option<&TileCamera> {
        self.readback
            .as_ref()
            .map(|_| self.app.world().resource::<RenderTargets>().camera())
    }

    /// Renders every environment placed in its goal configuration: the goal images of the
    /// current episodes. Physics is untouched. Needs rendering and a reset.
    pub fn goal_frames(&mut self) -> Result<Vec<Frame>, SimError> {
        if self.readback.is_none() {
            return Err(SimError::NotRendering);
        }
        let poses = self.goal_poses()?;
        Ok(self.render_poses(poses))
    }

    /// Every environment's bodies in its goal configuration.
    fn goal_poses(&self) -> Result<Vec<Vec<Transform>>, SimError> {
        let sim = self.sim();
        (0..self.num_envs())
            .map(|env| {
                let slot = sim.slot(env).ok_or(SimError::NotReset(env))?;
                Ok(sim.kinematics().poses(&slot.episode.goal.configuration))
            })
            .collect()
    }

    /// Renders every environment with its bodies drawn at `poses`; physics is untouched.
    fn render_poses(&mut self, poses: Vec<Vec<Transform>>) -> Vec<Frame> {
        let cleared = vec![None; poses.len()];
        self.app
            .insert_resource(PoseOverrides(poses.into_iter().map(Some).collect()));
        let frames = self.render_now();
        self.app.insert_resource(PoseOverrides(cleared));
        frames
    }

    /// Whether environments whose episode ended start their next episode by themselves
    /// (the default for `VecEnv`). Without, `step` fails until they are reset.
    pub fn set_auto_reset(&mut self, on: bool) {
        self.auto_reset = on;
    }

    /// With `endless` on, episodes neither terminate on success nor truncate at the step
    /// limit: the worlds are plain physics, e.g. for a planner that uses the simulator as
    /// its model.
    pub fn set_endless(&mut self, on: bool) {
        self.endless = on;
    }

    /// Puts environment `env`'s dynamic bodies into the privileged `state` of an
    /// observation (positions, rotations and velocities, `Observation::state` layout); the
    /// next step starts from it. Fixed bodies and the episode are unchanged.
    pub fn restore_state(&mut self, env: usize, state: &[f32]) -> Result<(), SimError> {
        self.check_state(env, state)?;
        restore_state(self.app.world_mut(), env, state);
        Ok(())
    }

    /// Puts environment `env` into `state` (see [`VecEnv::restore_state`]) and, when
    /// rendering, renders it there: the observation is what a world that reached `state` by
    /// stepping shows. The episode's goal and step count are unchanged.
    pub fn set_state(
        &mut self,
        env: usize,
        state: &[f32],
    ) -> Result<(Observation, Info), SimError> {
        self.restore_state(env, state)?;
        if self.readback.is_some() {
            let frames = self.render_now();
            self.attach_frames(frames, &[env]);
        }
        Ok(self.current(env, false))
    }

    /// Makes the configuration of the bodies in `state` (the observation's state layout;
    /// velocities are ignored) environment `env`'s goal: its goal image, target poses and
    /// success follow. The world itself is unchanged.
    pub fn set_goal_state(&mut self, env: usize, state: &[f32]) -> Result<(), SimError> {
        self.check_state(env, state)?;
        set_goal_state(self.app.world_mut(), env, state);
        Ok(())
    }

    /// Fails unless environment `env` was reset and `state` fits the state layout.
    fn check_state(&self, env: usize, state: &[f32]) -> Result<(), SimError> {
        if env >= self.num_envs() {
            return Err(SimError::NotReset(env));
        }
        self.sim().slot(env).ok_or(SimError::NotReset(env))?;
        let expected = self.sim().layout().state_names.len();
        if state.len() != expected || state.iter().any(|v| !v.is_finite()) {
            return Err(SimError::State { expected });
        }
        Ok(())
    }

    /// The observations of every environment placed at rest in its goal configuration:
    /// goal proprioception and state, and the goal image when rendering.
    pub fn goal_observations(&mut self) -> Result<Vec<Observation>, SimError> {
        let poses = self.goal_poses()?;
        let sim = self.sim();
        let mut observations: Vec<Observation> = poses
            .iter()
            .map(|poses| {
                let velocities = vec![Velocity::zero(); poses.len()];
                sim.layout().observe(sim.kinematics(), poses, &velocities)
            })
            .collect();
        if self.readback.is_some() {
            for (observation, frame) in observations.iter_mut().zip(self.render_poses(poses)) {
                observation.frame = Some(frame);
            }
        }
        Ok(observations)
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        self.episodes.len()
    }

    /// The scene.
    pub fn scene(&self) -> &Arc<Scene> {
        &self.scene
    }

    /// The action space.
    pub fn action_space(&self) -> BoxSpace {
        let space = &self.scene.action_space;
        let names = self
            .scene
            .embodiment
            .actuators
            .iter()
            .flat_map(|actuator| {
                use crate::scene::Actuator::*;
                match actuator {
                    PlanarForce { body, .. } => {
                        vec![format!("{body}.force.x"), format!("{body}.force.z")]
                    }
                    PlanarVelocity { body, .. } => {
                        vec![format!("{body}.velocity.x"), format!("{body}.velocity.z")]
                    }
                    JointTorque { joint, .. } => vec![format!("{joint}.torque")],
                    JointVelocity { joint, .. } => vec![format!("{joint}.velocity")],
                }
            })
            .collect();
        BoxSpace {
            low: space.low.clone(),
            high: space.high.clone(),
            names,
        }
    }

    /// The observation space.
    pub fn observation_space(&self) -> ObservationSpace {
        let layout = self.sim().layout();
        ObservationSpace {
            proprio: BoxSpace::unbounded(layout.proprio_names.clone()),
            state: BoxSpace::unbounded(layout.state_names.clone()),
        }
    }

    /// The worlds, for the rendering and agent layers.
    pub fn sim(&self) -> &SimWorlds {
        self.app.world().resource::<SimWorlds>()
    }

    /// The goal of environment `env`'s current episode.
    pub fn goal(&self, env: usize) -> Option<&Goal> {
        self.sim().slot(env).map(|slot| &slot.episode.goal)
    }

    /// Resets every environment, environment `i` with `seeds[i]`.
    pub fn reset(&mut self, seeds: &[u64]) -> Result<Vec<(Observation, Info)>, SimError> {
        if seeds.len() != self.num_envs() {
            return Err(SimError::SeedCount {
                expected: self.num_envs(),
                got: seeds.len(),
            });
        }
        let all: Vec<(usize, u64)> = seeds.iter().copied().enumerate().collect();
        self.rebuild(&all)?;
        Ok(all
            .into_iter()
            .map(|(env, seed)| self.started(env, seed))
            .collect())
    }

    /// Resets environment `env` alone.
    pub fn reset_env(&mut self, env: usize, seed: u64) -> Result<(Observation, Info), SimError> {
        self.rebuild(&[(env, seed)])?;
        Ok(self.started(env, seed))
    }

    /// Resets environment `env` into a given episode (start and goal), e.g. one whose goal
    /// an evaluation protocol chose; its seed seeds what auto-reset samples next.
    pub fn reset_to(
        &mut self,
        env: usize,
        episode: StartGoal,
    ) -> Result<(Observation, Info), SimError> {
        if env >= self.num_envs() {
            return Err(SimError::NotReset(env));
        }
        let seed = episode.seed;
        self.spawn(vec![(env, episode)]);
        Ok(self.started(env, seed))
    }

    /// Marks environment `env` as running its first episode since a reset with `seed`.
    fn started(&mut self, env: usize, seed: u64) -> (Observation, Info) {
        self.episodes[env] = Some(EpisodeState {
            reset_seed: seed,
            episodes: 0,
            over: false,
        });
        self.current(env, false)
    }

    /// The configuration environment `env`'s world is in now (placements of its free
    /// bodies and angles of its joints), e.g. to make it a goal.
    pub fn configuration(&self, env: usize) -> Result<Configuration, SimError> {
        let sim = self.sim();
        let slot = sim.slot(env).ok_or(SimError::NotReset(env))?;
        Ok(sim.kinematics().configuration(&self.scene, &slot.poses))
    }

    /// Samples every episode first, then despawns all old worlds, then spawns the new ones:
    /// a failed sample changes nothing, and spawn order never depends on history.
    fn rebuild(&mut self, resets: &[(usize, u64)]) -> Result<(), SimError> {
        let sim = self.sim();
        let episodes = resets
            .iter()
            .map(|&(env, seed)| {
                crate::task::sample_episode(sim.scene(), sim.kinematics(), seed).map(|e| (env, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.spawn(episodes);
        Ok(())
    }

    /// Despawns the worlds of `episodes` and spawns them anew in their episodes.
    fn spawn(&mut self, episodes: Vec<(usize, StartGoal)>) {
        let indices: Vec<usize> = episodes.iter().map(|&(env, _)| env).collect();
        let episodes = episodes.into_iter().map(|(_, episode)| episode);
        let world = self.app.world_mut();
        despawn_worlds(world, &indices);
        for (&env, episode) in indices.iter().zip(episodes) {
            spawn_world(world, env, episode);
        }
        if self.readback.is_some() {
            let frames = self.render_now();
            self.attach_frames(frames, &indices);
        }
    }

    fn current(&self, env: usize, action_clipped: bool) -> (Observation, Info) {
        let slot = self.sim().slot(env).expect("reset");
        let info = Info {
            success: slot.progress.success,
            distance: slot.progress.distance,
            episode_step: slot.steps,
            seed: slot.episode.seed,
            action_clipped,
            final_observation: None,
        };
        (slot.observation.clone(), info)
    }

    /// Steps every environment with its action. All actions are checked before any world
    /// moves, so a refused action leaves every world as it was.
    pub fn step(&mut self, actions: &[Action]) -> Result<Vec<Step>, SimError> {
        if actions.len() != self.num_envs() {
            return Err(SimError::ActionCount {
                expected: self.num_envs(),
                got: actions.len(),
            });
        }
        self.check_running()?;
        let mut clipped = Vec::with_capacity(actions.len());
        {
            let mut sim = self.app.world_mut().resource_mut::<SimWorlds>();
            // Check all first, so that a refused action changes nothing.
            for (env, action) in actions.iter().enumerate() {
                sim.check_action(&action.0)
                    .map_err(|source| SimError::Action { env, source })?;
            }
            for (env, action) in actions.iter().enumerate() {
                clipped.push(sim.set_action(env, &action.0).expect("checked"));
            }
        }
        self.advance(&clipped)
    }

    /// Steps every environment with the actions that systems of the `App` set during the
    /// step, in `FixedUpdate` before `SimSystems::ApplyAction` (an agent; see `with_plugins`).
    /// A world whose action nobody sets repeats its previous one.
    pub fn step_driven(&mut self) -> Result<Vec<Step>, SimError> {
        self.check_running()?;
        self.advance(&vec![false; self.num_envs()])
    }

    /// The Bevy `App` holding the worlds, e.g. to reach the resources of plugins passed to
    /// `with_plugins`. Systems must not add or remove worlds.
    pub fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }

    /// Fails unless every environment is in a running episode.
    fn check_running(&self) -> Result<(), SimError> {
        for (env, state) in self.episodes.iter().enumerate() {
            match state {
                None => return Err(SimError::NotReset(env)),
                Some(state) if state.over => return Err(SimError::EpisodeOver(env)),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Runs one control step with the actions already set; `clipped[env]` says whether
    /// clipping changed environment `env`'s action.
    fn advance(&mut self, clipped: &[bool]) -> Result<Vec<Step>, SimError> {
        let steps_before: Vec<u32> = (0..self.num_envs())
            .map(|env| self.sim().slot(env).expect("reset").steps)
            .collect();
        self.app.update();
        let ran = self.sim().slot(0).expect("reset").steps - steps_before[0];
        if ran != 1 {
            return Err(SimError::Clock(ran));
        }
        if self.readback.is_some() {
            let frames = self.read_frames();
            let all: Vec<usize> = (0..self.num_envs()).collect();
            self.attach_frames(frames, &all);
        }
        let max_steps = self.scene.task.max_steps;
        let mut results = Vec::with_capacity(self.num_envs());
        let mut ended = Vec::new();
        for (env, &action_clipped) in clipped.iter().enumerate() {
            let (observation, info) = self.current(env, action_clipped);
            let terminated = info.success && !self.endless;
            let truncated = !terminated && !self.endless && info.episode_step >= max_steps;
            if terminated || truncated {
                ended.push(env);
            }
            results.push(Step {
                observation,
                reward: self.sim().slot(env).expect("reset").progress.reward,
                terminated,
                truncated,
                info,
            });
        }
        if self.auto_reset && !ended.is_empty() {
            let resets: Vec<(usize, u64)> = ended
                .iter()
                .map(|&env| {
                    let state = self.episodes[env].as_mut().expect("reset");
                    state.episodes += 1;
                    (env, episode_seed(state.reset_seed, state.episodes))
                })
                .collect();
            self.rebuild(&resets)?;
            for &env in &ended {
                let (observation, info) = self.current(env, false);
                let step = &mut results[env];
                let last = std::mem::replace(&mut step.observation, observation);
                step.info.final_observation = Some(Box::new(last));
                step.info.seed = info.seed;
            }
        } else {
            for &env in &ended {
                self.episodes[env].as_mut().expect("reset").over = true;
            }
        }
        Ok(results)
    }
}

/// One world with the Gymnasium `reset` / `step` interface. It does not auto-reset: after
/// an episode ends, `step` fails until the next `reset`.
#[derive(Debug)]
pub struct Env {
    inner: VecEnv,
}

impl Env {
    /// Builds one world of `scene`.
    pub fn new(scene: Scene) -> Result<Self, SimError> {
        let mut inner = VecEnv::new(scene, 1)?;
        inner.auto_reset = false;
        Ok(Self { inner })
    }

    /// Builds one rendered world of `scene`.
    pub fn with_rendering(scene: Scene, options: RenderOptions) -> Result<Self, SimError> {
        let mut inner = VecEnv::with_rendering(scene, 1, options)?;
        inner.auto_reset = false;
        Ok(Self { inner })
    }

    /// The goal image of the current episode.
    pub fn goal_frame(&mut self) -> Result<Frame, SimError> {
        Ok(self.inner.goal_frames()?.remove(0))
    }

    /// The camera the frames are rendered through, when rendering.
    pub fn camera(&self) -> Option<&TileCamera> {
        self.inner.camera()
    }

    /// Starts the episode with this seed.
    pub fn reset(&mut self, seed: u64) -> Result<(Observation, Info), SimError> {
        self.inner.reset_env(0, seed)
    }

    /// Applies `action` for one control period.
    pub fn step(&mut self, action: &Action) -> Result<Step, SimError> {
        let mut steps = self.inner.step(std::slice::from_ref(action))?;
        Ok(steps.pop().expect("one env"))
    }

    /// The action space.
    pub fn action_space(&self) -> BoxSpace {
        self.inner.action_space()
    }

    /// The observation space.
    pub fn observation_space(&self) -> ObservationSpace {
        self.inner.observation_space()
    }

    /// The goal of the current episode.
    pub fn goal(&self) -> Option<&Goal> {
        self.inner.goal(0)
    }

    /// The scene.
    pub fn scene(&self) -> &Arc<Scene> {
        self.inner.scene()
    }

    /// The worlds, for the rendering and agent layers.
    pub fn sim(&self) -> &SimWorlds {
        self.inner.sim()
    }
}
