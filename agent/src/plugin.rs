//! `AgentPlugin`: observe → encode → plan → act inside the simulation's `FixedUpdate`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::prelude::*;
use burn::tensor::backend::Backend;
use prefrontal_sim::{Observation, SimSystems, SimWorlds};
use std::thread::JoinHandle;

use crate::AgentError;
use crate::control::{Controller, JobPlanner, PlanJob};
use crate::model::LatentModel;
use crate::planner::{Plan, Planner};

/// The agent's phases in `FixedUpdate`, in order, all before `SimSystems::ApplyAction`:
/// the observation of the previous step (with its frame) is recorded, a plan is made or
/// collected (encoding happens inside planning), and the next action is set.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentSystems {
    /// Record the latest observation; decide whether a plan is due.
    Observe,
    /// Encode and plan (lockstep), or start and collect background plans (real time).
    Plan,
    /// Set each world's action for this step.
    Act,
}

/// How planning relates to the simulation clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    /// The step waits for each plan: deterministic, for evaluation.
    Lockstep,
    /// Plans run on a background thread; each step applies the latest plan and never waits
    /// (the middle of the bounds until the first plan arrives). Not Bevy's async compute
    /// pool: without Bevy's `multi_threaded` feature (off here, see ARCHITECTURE.md) that
    /// pool runs tasks on the spawning thread.
    RealTime,
}

/// What a background plan hands back.
struct Finished<B: Backend> {
    job_planner: JobPlanner<B>,
    plan: Result<Plan, AgentError>,
    made_at: u64,
    millis: f64,
    state: Vec<f32>,
}

/// The latest plan a world installed, with what it was planned from.
#[derive(Debug, Clone)]
pub struct PlanRecord {
    /// The plan.
    pub plan: Plan,
    /// Simulator step of the episode whose observation it was planned from.
    pub made_at: u64,
    /// Wall-clock milliseconds it took.
    pub millis: f64,
    /// Privileged state of that observation (see `Observation::state`).
    pub state: Vec<f32>,
}

/// One world's agent.
struct WorldAgent<B: Backend> {
    controller: Controller,
    /// `None` while a real-time plan holds it.
    job_planner: Option<JobPlanner<B>>,
    pending: Option<PlanJob>,
    task: Option<JoinHandle<Finished<B>>>,
    latest: Option<PlanRecord>,
}

/// The agents of every world, their errors and timings.
#[derive(Resource)]
pub struct Agents<B: Backend> {
    mode: AgentMode,
    worlds: Vec<WorldAgent<B>>,
    errors: Vec<(usize, AgentError)>,
    plan_millis: Vec<f64>,
}

impl<B: Backend> std::fmt::Debug for Agents<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("mode", &self.mode)
            .field("worlds", &self.worlds.len())
            .field("plans", &self.plan_millis.len())
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Agents<B> {
    /// One agent per world, all imagining with `model`; `planner(world)` builds each
    /// world's planner. Actions stay within `low..=high` (the simulator's bounds).
    pub fn new(
        mode: AgentMode,
        model: Arc<dyn LatentModel<B>>,
        worlds: usize,
        replan_every: usize,
        (low, high): (&[f32], &[f32]),
        mut planner: impl FnMut(usize) -> Box<dyn Planner<B>>,
    ) -> Self {
        let spec = model.spec();
        let worlds = (0..worlds)
            .map(|world| WorldAgent {
                controller: Controller::new(spec, replan_every, low, high),
                job_planner: Some(JobPlanner::new(model.clone(), planner(world))),
                pending: None,
                task: None,
                latest: None,
            })
            .collect();
        Agents {
            mode,
            worlds,
            errors: Vec::new(),
            plan_millis: Vec::new(),
        }
    }

    /// Starts an episode in `world` toward `goal`; the planner is reseeded with `seed`.
    /// A background plan still running for the previous episode is awaited and dropped.
    pub fn start_episode(&mut self, world: usize, goal: Observation, seed: u64) {
        let agent = self.idle(world);
        agent.controller.start_episode(goal);
        agent
            .job_planner
            .as_mut()
            .expect("no plan is in flight")
            .reset(seed);
    }

    /// Ends `world`'s episode: the agent stops acting (and planning) until the next
    /// `start_episode`. A background plan still running is awaited and dropped.
    pub fn stop_episode(&mut self, world: usize) {
        self.idle(world).controller.stop_episode();
    }

    /// Plans of `world` from now on come from `planner` (its episode goes on; a background
    /// plan still running is awaited and dropped).
    pub fn set_planner(&mut self, world: usize, planner: Box<dyn Planner<B>>) {
        self.idle(world)
            .job_planner
            .as_mut()
            .expect("no plan is in flight")
            .set_planner(planner);
    }

    /// `world`'s agent with no plan in flight or pending, and no plan on record.
    fn idle(&mut self, world: usize) -> &mut WorldAgent<B> {
        let agent = &mut self.worlds[world];
        if let Some(task) = agent.task.take() {
            agent.job_planner = Some(join(task).job_planner);
        }
        agent.pending = None;
        agent.latest = None;
        agent
    }

    /// Whether a background plan of `world` is being computed.
    pub fn planning(&self, world: usize) -> bool {
        self.worlds[world].task.is_some()
    }

    /// The latest plan `world` installed in this episode.
    pub fn latest_plan(&self, world: usize) -> Option<&PlanRecord> {
        self.worlds[world].latest.as_ref()
    }

    /// Removes and returns the first error since the last call, with its world.
    pub fn take_error(&mut self) -> Option<(usize, AgentError)> {
        (!self.errors.is_empty()).then(|| self.errors.remove(0))
    }

    /// Wall-clock milliseconds of every plan made so far.
    pub fn plan_millis(&self) -> &[f64] {
        &self.plan_millis
    }

    /// Plans installed so far.
    pub fn plans(&self) -> usize {
        self.plan_millis.len()
    }

    fn finish(&mut self, world: usize, finished: Finished<B>) {
        let agent = &mut self.worlds[world];
        agent.job_planner = Some(finished.job_planner);
        match finished.plan {
            Ok(plan) => {
                agent.controller.install(&plan, finished.made_at);
                self.plan_millis.push(finished.millis);
                agent.latest = Some(PlanRecord {
                    plan,
                    made_at: finished.made_at,
                    millis: finished.millis,
                    state: finished.state,
                });
            }
            Err(error) => self.errors.push((world, error)),
        }
    }
}

/// Adds the agent systems to a simulation `App` (one with `SimPlugin`, e.g. a `VecEnv`'s
/// through `VecEnv::app_mut`), with the given agents.
pub struct AgentPlugin<B: Backend> {
    agents: Mutex<Option<Agents<B>>>,
}

impl<B: Backend> std::fmt::Debug for AgentPlugin<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentPlugin").finish_non_exhaustive()
    }
}

impl<B: Backend> AgentPlugin<B> {
    /// A plugin that installs `agents`.
    pub fn new(agents: Agents<B>) -> Self {
        AgentPlugin {
            agents: Mutex::new(Some(agents)),
        }
    }
}

impl<B: Backend> Plugin for AgentPlugin<B> {
    fn build(&self, app: &mut App) {
        let agents = self
            .agents
            .lock()
            .expect("not poisoned")
            .take()
            .expect("AgentPlugin is added once");
        app.insert_resource(agents)
            .configure_sets(
                FixedUpdate,
                (AgentSystems::Observe, AgentSystems::Plan, AgentSystems::Act)
                    .chain()
                    .before(SimSystems::ApplyAction),
            )
            .add_systems(
                FixedUpdate,
                (
                    observe::<B>.in_set(AgentSystems::Observe),
                    plan::<B>.in_set(AgentSystems::Plan),
                    act::<B>.in_set(AgentSystems::Act),
                ),
            );
    }
}

/// Records each running world's latest observation and queues a job when a plan is due.
fn observe<B: Backend>(mut agents: ResMut<Agents<B>>, sim: Res<SimWorlds>) {
    for (world, agent) in agents.worlds.iter_mut().enumerate() {
        let Some(slot) = sim.slot(world) else {
            continue;
        };
        if !agent.controller.has_goal() {
            continue;
        }
        let busy = agent.task.is_some();
        agent.pending = agent.controller.observe(&slot.observation, busy);
    }
}

/// Lockstep: plans now. Real time: collects finished plans and starts pending ones.
fn plan<B: Backend>(mut agents: ResMut<Agents<B>>) {
    let agents = &mut *agents;
    for world in 0..agents.worlds.len() {
        if agents.worlds[world]
            .task
            .as_ref()
            .is_some_and(JoinHandle::is_finished)
        {
            let task = agents.worlds[world].task.take().expect("checked");
            agents.finish(world, join(task));
        }
        let agent = &mut agents.worlds[world];
        let Some(job) = agent.pending.take() else {
            continue;
        };
        let mut job_planner = agent.job_planner.take().expect("no plan is in flight");
        let run = move || {
            let start = Instant::now();
            let plan = job_planner.plan(&job);
            let millis = start.elapsed().as_secs_f64() * 1e3;
            let state = job
                .observations
                .last()
                .map(|observation| observation.state.clone())
                .unwrap_or_default();
            Finished {
                job_planner,
                plan,
                made_at: job.made_at,
                millis,
                state,
            }
        };
        match agents.mode {
            AgentMode::Lockstep => {
                let finished = run();
                agents.finish(world, finished);
            }
            AgentMode::RealTime => {
                let task = std::thread::Builder::new()
                    .name(format!("plan-world-{world}"))
                    .spawn(run)
                    .expect("a planning thread starts");
                agents.worlds[world].task = Some(task);
            }
        }
    }
}

/// Waits for a background plan; a panic in the planner resumes here.
fn join<B: Backend>(task: JoinHandle<Finished<B>>) -> Finished<B> {
    task.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Sets each running world's action for this step.
fn act<B: Backend>(mut agents: ResMut<Agents<B>>, mut sim: ResMut<SimWorlds>) {
    let agents = &mut *agents;
    for (world, agent) in agents.worlds.iter_mut().enumerate() {
        if sim.slot(world).is_none() || !agent.controller.has_goal() {
            continue;
        }
        let action = agent.controller.act();
        if let Err(source) = sim.set_action(world, &action) {
            let error = prefrontal_sim::SimError::Action { env: world, source };
            agents.errors.push((world, error.into()));
        }
    }
}
