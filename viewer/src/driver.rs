//! The simulation behind the window: a rendered one-world `VecEnv` in its own `App` (the
//! frames the model sees; nothing the viewer draws can reach its camera), the agent that
//! plans in it in real time, and a physics-only scratch world that replays the current
//! plan (the path the simulator would follow).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::math::{Vec2, Vec3};
use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::eval::Protocol;
use prefrontal_agent::{
    AgentConfig, AgentMode, AgentPlugin, Agents, Bounds, LatentModel, PlanRecord, Planner,
    PlannerKind, build_planner,
};
use prefrontal_sim::kinematics::Configuration;
use prefrontal_sim::observation::STATE_PER_BODY;
use prefrontal_sim::{Action, Goal, RenderOptions, Scene, StartGoal, VecEnv};
use prefrontal_worldmodel::LinearProbe;

use crate::ViewerError;
use crate::state::{Pilot, ViewState};

/// The agent a viewer runs: a model, its planner settings, the probe that decodes its
/// latents to positions (when the checkpoint has one) and how its goals are chosen.
pub struct AgentSetup<B: AutodiffBackend> {
    /// The world model, on the autodiff backend so that every planner can use it.
    pub model: Arc<dyn LatentModel<B>>,
    /// Planner, energy and replanning.
    pub config: AgentConfig,
    /// Decodes latents to body positions.
    pub probe: Option<LinearProbe>,
    /// Goals and step budget.
    pub protocol: Protocol,
}

impl<B: AutodiffBackend> AgentSetup<B> {
    /// The configured planner within `scene`'s action bounds, seeded.
    fn planner(&self, scene: &Scene, seed: u64) -> Box<dyn Planner<B>> {
        let (low, high) = (&scene.action_space.low, &scene.action_space.high);
        let bounds = Bounds::tiled(low, high, self.model.spec().frameskip);
        build_planner::<B>(&self.config, bounds, seed)
    }
}

impl<B: AutodiffBackend> std::fmt::Debug for AgentSetup<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSetup")
            .field("config", &self.config)
            .field("probe", &self.probe.is_some())
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// A user's request, taken from the keyboard and mouse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Request {
    /// Pause or resume the simulation clock.
    TogglePause,
    /// One control step while paused.
    Step,
    /// A new episode with the next seed.
    Reset,
    /// A new goal sampled by the task, from where the world is now.
    NewGoal,
    /// The goal's target body placed at this floor point `(x, z)`.
    PlaceGoal(Vec2),
    /// Switch between the agent and the keyboard.
    TogglePilot,
    /// Multiply the simulation speed.
    Speed(f32),
    /// Plan with another planner from now on.
    Planner(PlannerKind),
}

/// The slowest and fastest simulation speeds, as multiples of real time.
const SPEED_RANGE: (f32, f32) = (0.125, 8.0);
/// Control steps one drawn frame may run at most (the clock drops the rest).
const MAX_STEPS_PER_FRAME: u32 = 4;
/// Drawn frames an ended episode stays on screen before the next one starts.
const END_PAUSE_FRAMES: u32 = 30;

/// The simulation, the agent and the bookkeeping behind `ViewState`.
pub struct Driver<B: AutodiffBackend> {
    env: VecEnv,
    scratch: VecEnv,
    agent: Option<AgentSetup<B>>,
    /// Seed of the current episode; the next episode uses the next one.
    seed: u64,
    /// Seconds of simulation owed to the clock.
    owed: f32,
    /// Frames drawn since the episode ended, while it stays on screen.
    ended_for: Option<u32>,
    /// When recent plans arrived, for plans per second.
    plan_times: VecDeque<Instant>,
    /// Frames drawn while the current background plan was pending.
    frames_in_plan: u32,
}

impl<B: AutodiffBackend> std::fmt::Debug for Driver<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("seed", &self.seed)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl<B: AutodiffBackend> Driver<B> {
    /// Builds the worlds of `scene` (rendered as the model was trained: `render`) and starts
    /// episode `seed`.
    pub fn new(
        scene: &Scene,
        render: RenderOptions,
        agent: Option<AgentSetup<B>>,
        seed: u64,
        state: &mut ViewState,
    ) -> Result<Self, ViewerError> {
        let protocol = agent.as_ref().map(|a| a.protocol).unwrap_or_default();
        let scene = protocol.scene(scene);
        let mut env = match &agent {
            Some(setup) => {
                let (low, high) = (&scene.action_space.low, &scene.action_space.high);
                let mut planner = Some(setup.planner(&scene, seed));
                let agents = Agents::new(
                    AgentMode::RealTime,
                    setup.model.clone(),
                    1,
                    setup.config.replan_every,
                    (low, high),
                    |_| planner.take().expect("one world"),
                );
                VecEnv::with_plugins(scene.clone(), 1, Some(render), AgentPlugin::new(agents))?
            }
            None => VecEnv::with_rendering(scene.clone(), 1, render)?,
        };
        env.set_auto_reset(false);
        let mut scratch = VecEnv::new(scene.clone(), 1)?;
        scratch.set_auto_reset(false);
        state.pilot = if agent.is_some() {
            Pilot::Agent
        } else {
            Pilot::Manual
        };
        state.planner = agent.as_ref().map(|a| a.config.planner.kind());
        state.protocol = protocol.describe(&scene);
        if let Some(setup) = &agent
            && setup.probe.is_none()
        {
            state.note = Some(
                "no probe in this checkpoint: the imagined path needs one (`prefrontal probe`)"
                    .to_owned(),
            );
        }
        let mut driver = Driver {
            env,
            scratch,
            agent,
            seed,
            owed: 0.0,
            ended_for: None,
            plan_times: VecDeque::new(),
            frames_in_plan: 0,
        };
        driver.start_episode(state)?;
        Ok(driver)
    }

    /// Starts episode `self.seed` (sampled by the task, or at the protocol's offset along
    /// the scripted trajectory), or the first after it whose start does not already meet
    /// its goal, as evaluations pick them.
    fn start_episode(&mut self, state: &mut ViewState) -> Result<(), ViewerError> {
        const TRIES: usize = 100;
        let mut episode = None;
        let protocol = self.agent.as_ref().map(|a| a.protocol).unwrap_or_default();
        for _ in 0..TRIES {
            let (candidate, info) = protocol.start_goal(&mut self.scratch, self.seed)?;
            if !info.success {
                episode = Some(candidate);
                break;
            }
            self.seed = self.seed.wrapping_add(1);
        }
        let Some(episode) = episode else {
            return Err(ViewerError::Stopped(format!(
                "{TRIES} episodes in a row start at their goal; the scene's task cannot be shown"
            )));
        };
        // From here on the scratch world only replays plans from restored states.
        self.scratch.set_endless(true);
        self.begin(episode, state)?;
        state.episodes += 1;
        Ok(())
    }

    /// Puts the world into `episode` and starts the agent toward its goal.
    fn begin(&mut self, episode: StartGoal, state: &mut ViewState) -> Result<(), ViewerError> {
        self.env.reset_to(0, episode)?;
        let goal_observation = self.env.goal_observations()?.remove(0);
        state.goal_frame = goal_observation.frame.clone();
        let goal = self.env.goal(0).expect("reset");
        state.goal_poses = self.env.sim().kinematics().poses(&goal.configuration);
        state.goal_targets = goal
            .targets
            .iter()
            .zip(&self.env.scene().task.targets)
            .map(|(pose, target)| (pose.position, target.position_tolerance))
            .collect();
        state.clear_plan();
        self.ended_for = None;
        self.owed = 0.0;
        self.frames_in_plan = 0;
        if self.agent.is_some() && state.pilot == Pilot::Agent {
            let seed = self.seed;
            self.with_agents(|agents| agents.start_episode(0, goal_observation, seed));
        }
        self.publish(state);
        Ok(())
    }

    /// Copies what the window shows from the worlds.
    fn publish(&self, state: &mut ViewState) {
        let slot = self.env.sim().slot(0).expect("reset");
        state.poses = slot.poses.clone();
        state.step = slot.steps;
        state.seed = slot.episode.seed;
        state.success = slot.progress.success;
        state.distance = slot.progress.distance;
        state.frame = slot.observation.frame.clone();
        state.frame_version += 1;
    }

    /// Handles one request.
    pub fn request(&mut self, request: Request, state: &mut ViewState) -> Result<(), ViewerError> {
        match request {
            Request::TogglePause => state.paused = !state.paused,
            Request::Step => {
                if state.paused {
                    self.step_once(state)?;
                }
            }
            Request::Reset => {
                self.seed = self.seed.wrapping_add(1);
                self.start_episode(state)?;
            }
            Request::NewGoal => {
                self.seed = self.seed.wrapping_add(1);
                let sampled = prefrontal_sim::task::sample_episode(
                    self.env.scene(),
                    self.env.sim().kinematics(),
                    self.seed,
                )
                .map_err(prefrontal_sim::SimError::from)?;
                let start = self.env.configuration(0)?;
                self.begin(
                    StartGoal {
                        seed: self.seed,
                        start,
                        goal: sampled.goal,
                    },
                    state,
                )?;
            }
            Request::PlaceGoal(point) => match self.placed_goal(point) {
                Ok(goal) => {
                    let start = self.env.configuration(0)?;
                    let seed = self.seed;
                    self.begin(StartGoal { seed, start, goal }, state)?;
                }
                Err(message) => state.note = Some(message),
            },
            Request::TogglePilot => self.toggle_pilot(state)?,
            Request::Speed(factor) => {
                state.speed = (state.speed * factor).clamp(SPEED_RANGE.0, SPEED_RANGE.1);
            }
            Request::Planner(kind) => self.set_planner(kind, state),
        }
        Ok(())
    }

    /// The current goal with its first target body moved to `point`, if the task's goal
    /// sampler allows it there.
    fn placed_goal(&self, point: Vec2) -> Result<Goal, String> {
        let scene = self.env.scene();
        let target = scene
            .task
            .targets
            .first()
            .ok_or_else(|| "this task has no target to place".to_owned())?;
        let sampler = scene
            .task
            .goal
            .bodies
            .iter()
            .find(|b| b.body == target.body)
            .ok_or_else(|| {
                format!(
                    "the goal of \"{}\" is set through its joints: press G for a new goal",
                    target.body
                )
            })?;
        let inside = |(low, high): (f32, f32), v: f32| (low..=high).contains(&v);
        if !inside(sampler.x, point.x) || !inside(sampler.z, point.y) {
            return Err(format!(
                "the task places \"{}\" goals within x {:?}, z {:?}; ({:.2}, {:.2}) is outside",
                target.body, sampler.x, sampler.z, point.x, point.y
            ));
        }
        let body = scene.body_index(&target.body).expect("validated");
        let goal = self.env.goal(0).expect("reset");
        let mut configuration: Configuration = goal.configuration.clone();
        match configuration.bodies.iter_mut().find(|p| p.body == body) {
            Some(placement) => {
                placement.x = point.x;
                placement.z = point.y;
            }
            None => {
                return Err(format!("the goal does not place \"{}\"", target.body));
            }
        }
        Ok(Goal::at(scene, self.env.sim().kinematics(), configuration))
    }

    fn toggle_pilot(&mut self, state: &mut ViewState) -> Result<(), ViewerError> {
        if self.agent.is_none() {
            state.note = Some("no agent: start the viewer with --run or --checkpoint".into());
            return Ok(());
        }
        match state.pilot {
            Pilot::Agent => {
                state.pilot = Pilot::Manual;
                self.with_agents(|agents| agents.stop_episode(0));
                state.clear_plan();
            }
            Pilot::Manual => {
                state.pilot = Pilot::Agent;
                let goal = self.env.goal_observations()?.remove(0);
                let seed = self.seed;
                self.with_agents(|agents| agents.start_episode(0, goal, seed));
            }
        }
        Ok(())
    }

    fn set_planner(&mut self, kind: PlannerKind, state: &mut ViewState) {
        let Some(setup) = &mut self.agent else {
            state.note = Some("no agent: start the viewer with --run or --checkpoint".into());
            return;
        };
        let horizon = setup.config.planner.horizon();
        setup.config.planner = kind.default_config().with_horizon(horizon);
        let planner = setup.planner(self.env.scene(), self.seed);
        self.with_agents(|agents| agents.set_planner(0, planner));
        state.planner = Some(kind);
        state.clear_plan();
    }

    fn with_agents<T>(&mut self, f: impl FnOnce(&mut Agents<B>) -> T) -> T {
        let mut agents = self.env.app_mut().world_mut().resource_mut::<Agents<B>>();
        f(&mut agents)
    }

    /// Advances the clock by `seconds` of wall time (`None`: exactly one control step, for
    /// captures), stepping the worlds as owed; then records what the window shows.
    pub fn advance(
        &mut self,
        seconds: Option<f32>,
        state: &mut ViewState,
    ) -> Result<(), ViewerError> {
        if self.agent.is_some() && state.pilot == Pilot::Agent {
            let planning = self.with_agents(|agents| agents.planning(0));
            if planning {
                self.frames_in_plan += 1;
            }
        }
        if let Some(frames) = self.ended_for {
            if frames >= END_PAUSE_FRAMES && !state.paused {
                self.seed = self.seed.wrapping_add(1);
                return self.start_episode(state);
            }
            self.ended_for = Some(frames + 1);
            return Ok(());
        }
        if state.paused {
            return Ok(());
        }
        let steps = match seconds {
            None => 1,
            Some(seconds) => {
                let period = 1.0 / self.env.scene().physics.control_hz;
                self.owed += seconds * state.speed;
                let due = (self.owed / period).floor() as u32;
                self.owed -= due as f32 * period;
                if due > MAX_STEPS_PER_FRAME {
                    self.owed = 0.0;
                }
                due.min(MAX_STEPS_PER_FRAME)
            }
        };
        for _ in 0..steps {
            if self.step_once(state)? {
                break;
            }
        }
        Ok(())
    }

    /// One control step by the agent or the keyboard (`state.manual`); true when the
    /// episode ended.
    fn step_once(&mut self, state: &mut ViewState) -> Result<bool, ViewerError> {
        let step = match (state.pilot, self.agent.is_some()) {
            (Pilot::Agent, true) => {
                let step = self.env.step_driven()?.remove(0);
                if let Some((_, error)) = self.with_agents(|agents| agents.take_error()) {
                    state.note = Some(format!("the agent stopped: {error}"));
                    state.pilot = Pilot::Manual;
                    self.with_agents(|agents| agents.stop_episode(0));
                }
                step
            }
            _ => self.env.step(&[Action(state.manual.clone())])?.remove(0),
        };
        self.publish(state);
        self.collect_plan(state)?;
        let ended = step.terminated || step.truncated;
        if ended {
            state.outcome = Some(if step.terminated {
                format!("reached the goal in {} steps", step.info.episode_step)
            } else {
                format!("out of steps ({})", step.info.episode_step)
            });
            self.ended_for = Some(0);
        } else {
            state.outcome = None;
        }
        Ok(ended)
    }

    /// When a new plan was installed: its numbers, its imagined path (through the probe)
    /// and the simulator's path under the same actions.
    fn collect_plan(&mut self, state: &mut ViewState) -> Result<(), ViewerError> {
        if self.agent.is_none() {
            return Ok(());
        }
        let plans = self.with_agents(|agents| agents.plans()) as u64;
        if plans == state.plans {
            return Ok(());
        }
        state.plans = plans;
        let now = Instant::now();
        self.plan_times.push_back(now);
        while self
            .plan_times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(2))
        {
            self.plan_times.pop_front();
        }
        state.plans_per_second = self.plan_times.len() as f32 / 2.0;
        state.fewest_frames_per_plan = Some(
            state
                .fewest_frames_per_plan
                .map_or(self.frames_in_plan, |f| f.min(self.frames_in_plan)),
        );
        self.frames_in_plan = 0;
        let Some(record) = self.with_agents(|agents| agents.latest_plan(0).cloned()) else {
            return Ok(());
        };
        state.energy = Some(record.plan.energy);
        state.plan_ms = Some(record.millis);
        state.trace = record.plan.trace.clone();
        let setup = self.agent.as_ref().expect("checked");
        let scene = self.env.scene();
        let dynamic = self.env.sim().layout().state_bodies().to_vec();
        let bodies = path_bodies(scene, &dynamic, setup.probe.as_ref());
        state.imagined = match &setup.probe {
            Some(probe) => imagined_paths(probe, &record, &bodies, &dynamic, scene),
            None => Vec::new(),
        };
        let frameskip = setup.model.spec().frameskip;
        state.simulated = self.simulated_paths(&record, &bodies, &dynamic, frameskip)?;
        if let Some(gap) = end_gap(&state.imagined, &state.simulated) {
            state.path_gaps.push(gap);
        }
        Ok(())
    }

    /// The bodies' positions at every model step when the simulator replays the plan from
    /// the state it was planned from, starting there.
    fn simulated_paths(
        &mut self,
        record: &PlanRecord,
        bodies: &[usize],
        dynamic: &[usize],
        frameskip: usize,
    ) -> Result<Vec<Vec<Vec3>>, ViewerError> {
        self.scratch.restore_state(0, &record.state)?;
        let width = self.scratch.action_space().dim();
        let mut paths: Vec<Vec<Vec3>> = bodies
            .iter()
            .map(|&b| vec![state_position(dynamic, &record.state, b)])
            .collect();
        for (k, action) in record.plan.actions.chunks_exact(width).enumerate() {
            self.scratch.step(&[Action(action.to_vec())])?;
            if (k + 1) % frameskip == 0 {
                let slot = self.scratch.sim().slot(0).expect("reset");
                for (path, &body) in paths.iter_mut().zip(bodies) {
                    path.push(slot.poses[body].translation);
                }
            }
        }
        Ok(paths)
    }
}

/// Mean distance (m) between where the imagined and the simulated path of each body end;
/// `None` without imagined paths.
fn end_gap(imagined: &[Vec<Vec3>], simulated: &[Vec<Vec3>]) -> Option<f32> {
    let gaps: Vec<f32> = imagined
        .iter()
        .zip(simulated)
        .filter_map(|(a, b)| Some(a.last()?.distance(*b.last()?)))
        .collect();
    (!gaps.is_empty()).then(|| gaps.iter().sum::<f32>() / gaps.len() as f32)
}

/// Bodies whose paths are drawn: those the probe decodes a position of, or every dynamic
/// body (`dynamic`, the bodies of the privileged state) without a probe.
fn path_bodies(scene: &Scene, dynamic: &[usize], probe: Option<&LinearProbe>) -> Vec<usize> {
    let dynamic = dynamic.iter().copied();
    match probe {
        Some(probe) => dynamic
            .filter(|&b| {
                let prefix = format!("{}.pos.", scene.bodies[b].name);
                probe.targets.iter().any(|t| t.starts_with(&prefix))
            })
            .collect(),
        None => dynamic.collect(),
    }
}

/// Position of body `body` in a privileged state vector (13 values per body of `dynamic`).
fn state_position(dynamic: &[usize], state: &[f32], body: usize) -> Vec3 {
    let slot = dynamic
        .iter()
        .position(|&b| b == body)
        .expect("a dynamic body");
    let p = &state[slot * STATE_PER_BODY..slot * STATE_PER_BODY + 3];
    Vec3::new(p[0], p[1], p[2])
}

/// Each body's path through the plan's imagined latents, decoded by the probe; components
/// the probe does not predict (e.g. the height of a planar body) stay where they started.
fn imagined_paths(
    probe: &LinearProbe,
    record: &PlanRecord,
    bodies: &[usize],
    dynamic: &[usize],
    scene: &Scene,
) -> Vec<Vec<Vec3>> {
    let horizon = record.plan.horizon.max(1);
    let dim = record.plan.imagined.len() / horizon;
    let decoded: Vec<Vec<f64>> = record
        .plan
        .imagined
        .chunks_exact(dim.max(1))
        .map(|latent| probe.predict(latent))
        .collect();
    bodies
        .iter()
        .map(|&body| {
            let start = state_position(dynamic, &record.state, body);
            let name = &scene.bodies[body].name;
            let column = |axis: &str| {
                probe
                    .targets
                    .iter()
                    .position(|t| *t == format!("{name}.pos.{axis}"))
            };
            let (x, y, z) = (column("x"), column("y"), column("z"));
            let mut path = vec![start];
            path.extend(decoded.iter().map(|values| {
                let pick =
                    |c: Option<usize>, fallback: f32| c.map_or(fallback, |c| values[c] as f32);
                Vec3::new(pick(x, start.x), pick(y, start.y), pick(z, start.z))
            }));
            path
        })
        .collect()
}
