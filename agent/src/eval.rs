//! Closed-loop evaluation: seeded start/goal pairs, an agent (or a baseline) acting in the
//! rendered simulation, per-episode results, rollout GIFs and TensorBoard scalars.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::backend::Backend;
use prefrontal_board::Board;
use prefrontal_sim::policy::{RandomPolicy, offset_episode};
use prefrontal_sim::task::episode_seed;
use prefrontal_sim::{Frame, Info, RenderOptions, Scene, SimError, StartGoal, Step, VecEnv};
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::config::AgentConfig;
use crate::model::LatentModel;
use crate::planner::Planner;
use crate::plugin::{AgentMode, AgentPlugin, Agents};

/// How an evaluation's goals are chosen and how many steps an episode gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Protocol {
    /// The task samples start and goal (two_rooms: in opposite rooms); the budget is the
    /// task's step limit.
    #[default]
    RandomGoal,
    /// The goal is where the scripted controller takes the world `offset` simulator steps
    /// after the start; an episode gets `budget` steps (LeWorldModel and DINO-WM: 25 and
    /// 50).
    TrajectoryOffset {
        /// Simulator steps from the start to the goal along the scripted trajectory.
        offset: u32,
        /// Simulator steps an episode may take.
        budget: u32,
    },
}

impl Protocol {
    /// The papers' trajectory-offset protocol: k = 25, a budget of 50 steps.
    pub const PAPERS: Protocol = Protocol::TrajectoryOffset {
        offset: 25,
        budget: 50,
    };

    /// Which protocol this is.
    pub fn kind(&self) -> ProtocolKind {
        match self {
            Protocol::RandomGoal => ProtocolKind::RandomGoal,
            Protocol::TrajectoryOffset { .. } => ProtocolKind::TrajectoryOffset,
        }
    }

    /// Simulator steps an episode of `scene` may take.
    pub fn budget(&self, scene: &Scene) -> u32 {
        match *self {
            Protocol::RandomGoal => scene.task.max_steps,
            Protocol::TrajectoryOffset { budget, .. } => budget,
        }
    }

    /// How the protocol is named in tables, with its settings.
    pub fn describe(&self, scene: &Scene) -> String {
        let budget = self.budget(scene);
        match self {
            Protocol::RandomGoal => format!("{}, budget {budget}", self.kind().name()),
            Protocol::TrajectoryOffset { offset, .. } => {
                format!("{} k = {offset}, budget {budget}", self.kind().name())
            }
        }
    }

    /// The scene episodes run in: `scene` with the protocol's budget as its step limit.
    pub fn scene(&self, scene: &Scene) -> Scene {
        let mut budgeted = scene.clone();
        budgeted.task.max_steps = self.budget(scene);
        budgeted
    }

    /// The start/goal pair of episode `seed` of world 0 of `env` under this protocol, with
    /// the world reset to its start and the start's info (distance, success).
    pub fn start_goal(&self, env: &mut VecEnv, seed: u64) -> Result<(StartGoal, Info), SimError> {
        match *self {
            Protocol::RandomGoal => {
                let (_, info) = env.reset_env(0, seed)?;
                Ok((env.sim().slot(0).expect("reset").episode.clone(), info))
            }
            Protocol::TrajectoryOffset { offset, .. } => {
                let episode = offset_episode(env, seed, offset)?.0;
                let (_, info) = env.reset_to(0, episode.clone())?;
                Ok((episode, info))
            }
        }
    }

    /// Checks settings the type allows but an evaluation cannot use.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Protocol::TrajectoryOffset { offset: 0, .. } => {
                Err("trajectory-offset: offset must be at least 1 step".to_owned())
            }
            Protocol::TrajectoryOffset { budget: 0, .. } => {
                Err("trajectory-offset: budget must be at least 1 step".to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// The protocol registry: every way an evaluation chooses goals, the one list from which
/// the CLI's `--protocol` values are derived. A new protocol is a variant here and in
/// [`Protocol`] (with its settings), and its goals in [`Protocol::start_goal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    /// See [`Protocol::RandomGoal`].
    RandomGoal,
    /// See [`Protocol::TrajectoryOffset`].
    TrajectoryOffset,
}

impl ProtocolKind {
    /// Every protocol.
    pub const ALL: [ProtocolKind; 2] = [ProtocolKind::RandomGoal, ProtocolKind::TrajectoryOffset];

    /// The name, as the CLI and tables spell it.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::RandomGoal => "random-goal",
            ProtocolKind::TrajectoryOffset => "trajectory-offset",
        }
    }

    /// One line on how it picks goals and the budget.
    pub fn about(self) -> &'static str {
        match self {
            ProtocolKind::RandomGoal => {
                "The task samples start and goal; the budget is the task's step limit"
            }
            ProtocolKind::TrajectoryOffset => {
                "The goal is the scripted controller's state --offset steps after the start; the budget is --budget steps (the papers' protocol)"
            }
        }
    }

    /// The protocol with its settings: `offset` and `budget` in simulator steps, used by
    /// the protocols that have them.
    pub fn with(self, offset: u32, budget: u32) -> Protocol {
        match self {
            ProtocolKind::RandomGoal => Protocol::RandomGoal,
            ProtocolKind::TrajectoryOffset => Protocol::TrajectoryOffset { offset, budget },
        }
    }
}

/// A start/goal pair: an episode of the scene, sampled by its seed or with a goal the
/// protocol chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeSpec {
    /// Position in the evaluation.
    pub index: usize,
    /// The scene's episode seed.
    pub seed: u64,
    /// Distance from start to goal (the task's error measure).
    pub start_distance: f32,
    /// Start and goal.
    #[serde(skip)]
    pub episode: StartGoal,
}

/// Picks `count` episodes whose start-to-goal distance lies in `distance` (the
/// difficulty), from the seeds `episode_seed(seed, 0), episode_seed(seed, 1), …`, with goals
/// chosen by `protocol`. An episode whose start already succeeds is never picked.
pub fn pick_episodes(
    scene: &Scene,
    count: usize,
    seed: u64,
    distance: (f32, f32),
    protocol: Protocol,
) -> Result<Vec<EpisodeSpec>, AgentError> {
    const TRIES_PER_EPISODE: usize = 1000;
    let mut env = VecEnv::new(scene.clone(), 1)?;
    let mut picked = Vec::with_capacity(count);
    for k in 0..(count * TRIES_PER_EPISODE) as u64 {
        if picked.len() == count {
            break;
        }
        let episode_seed = episode_seed(seed, k);
        let (episode, info) = protocol.start_goal(&mut env, episode_seed)?;
        if !info.success && (distance.0..=distance.1).contains(&info.distance) {
            picked.push(EpisodeSpec {
                index: picked.len(),
                seed: episode_seed,
                start_distance: info.distance,
                episode,
            });
        }
    }
    if picked.len() < count {
        return Err(AgentError::Episodes {
            scene: scene.name.clone(),
            wanted: count,
            found: picked.len(),
            low: distance.0,
            high: distance.1,
        });
    }
    Ok(picked)
}

/// Who acts.
pub enum Contender<B: Backend> {
    /// MPC with a planner in a latent model.
    Agent {
        /// The model imagined with.
        model: Arc<dyn LatentModel<B>>,
        /// Planner, energy and replanning.
        config: AgentConfig,
        /// The planner (reseeded with each episode's seed).
        planner: Box<dyn Planner<B>>,
    },
    /// Uniform random actions.
    Random,
}

impl<B: Backend> std::fmt::Debug for Contender<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Contender::Agent { config, .. } => {
                f.debug_struct("Agent").field("config", config).finish()
            }
            Contender::Random => f.write_str("Random"),
        }
    }
}

/// How an evaluation runs.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Camera and frame size (the model's).
    pub render: RenderOptions,
    /// Where results go: `episodes.jsonl`, `summary.json`, GIFs and TensorBoard events.
    pub out: PathBuf,
    /// Episodes (the first ones) that get a rollout GIF.
    pub gifs: usize,
}

/// One episode's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeResult {
    /// Position in the evaluation.
    pub index: usize,
    /// The scene's episode seed.
    pub seed: u64,
    /// Whether the goal was reached.
    pub success: bool,
    /// Simulator steps taken.
    pub steps: u32,
    /// Distance to the goal at the start.
    pub start_distance: f32,
    /// Distance to the goal at the end.
    pub final_distance: f32,
    /// Plans made.
    pub plans: usize,
    /// Mean wall-clock milliseconds per plan (0 without a planner).
    pub plan_ms: f64,
}

/// What an evaluation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// The contender's name.
    pub name: String,
    /// Episodes run.
    pub episodes: usize,
    /// Episodes that reached the goal.
    pub successes: usize,
    /// `successes / episodes`.
    pub success_rate: f64,
    /// Wilson score 95% interval of the success rate.
    pub success_ci95: (f64, f64),
    /// Mean final distance to the goal.
    pub final_distance: f64,
    /// Mean steps to success over successful episodes (`None` without any).
    pub steps_to_success: Option<f64>,
    /// Mean milliseconds per plan.
    pub plan_ms: f64,
    /// Mean milliseconds of planning per simulator action.
    pub plan_ms_per_action: f64,
}

/// Wilson score interval for `successes` of `n` at 95%.
pub fn wilson_interval(successes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_964_f64;
    let (n, p) = (n as f64, successes as f64 / n as f64);
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Runs `contender` on `episodes`, writing results under `options.out`; `progress` hears
/// about every finished episode.
pub fn evaluate<B: Backend>(
    name: &str,
    scene: &Scene,
    contender: Contender<B>,
    episodes: &[EpisodeSpec],
    options: &EvalOptions,
    mut progress: impl FnMut(&EpisodeResult),
) -> Result<EvalSummary, AgentError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AgentError::Io { path, source }
    };
    std::fs::create_dir_all(&options.out).map_err(io(&options.out))?;
    let results_path = options.out.join("episodes.jsonl");
    let mut results_file = std::fs::File::create(&results_path).map_err(io(&results_path))?;
    let mut board = Board::create(&options.out)?;
    let mut runner = Runner::new(scene, contender, &options.render)?;
    let mut results = Vec::with_capacity(episodes.len());
    for episode in episodes {
        let (result, frames) = runner.run(episode)?;
        let step = episode.index as u64;
        let last = frames.last().expect("an episode has a first frame");
        board.image(
            "eval/reached_beside_goal",
            step,
            last.width,
            last.height,
            &last.pixels,
        )?;
        if episode.index < options.gifs {
            let (width, height) = (last.width, last.height);
            let gif = prefrontal_sim::frame::encode_gif(frames, scene.physics.control_hz)
                .map_err(io(&options.out))?;
            let path = options
                .out
                .join(format!("episode_{:03}.gif", episode.index));
            std::fs::write(&path, &gif).map_err(io(&path))?;
            board.encoded_image("eval/rollout", step, width, height, gif)?;
        }
        let line = serde_json::to_string(&result).expect("results serialise");
        writeln!(results_file, "{line}").map_err(io(&results_path))?;
        results.push(result);
        let summary = summarise(name, &results);
        board.scalar("eval/success_rate", summary.success_rate, step)?;
        let last = results.last().expect("pushed");
        board.scalar("eval/final_distance", f64::from(last.final_distance), step)?;
        if last.plans > 0 {
            board.scalar("perf/plan_ms", last.plan_ms, step)?;
        }
        board.flush()?;
        progress(last);
    }
    let summary = summarise(name, &results);
    let summary_path = options.out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).expect("summaries serialise");
    std::fs::write(&summary_path, text).map_err(io(&summary_path))?;
    Ok(summary)
}

fn summarise(name: &str, results: &[EpisodeResult]) -> EvalSummary {
    let n = results.len();
    let successes = results.iter().filter(|r| r.success).count();
    let mean = |values: &mut dyn Iterator<Item = f64>| {
        let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
        (count > 0).then(|| sum / count as f64)
    };
    let plans: usize = results.iter().map(|r| r.plans).sum();
    let steps: u32 = results.iter().map(|r| r.steps).sum();
    let plan_total: f64 = results.iter().map(|r| r.plan_ms * r.plans as f64).sum();
    EvalSummary {
        name: name.to_owned(),
        episodes: n,
        successes,
        success_rate: if n == 0 {
            0.0
        } else {
            successes as f64 / n as f64
        },
        success_ci95: wilson_interval(successes, n),
        final_distance: mean(&mut results.iter().map(|r| f64::from(r.final_distance)))
            .unwrap_or(f64::NAN),
        steps_to_success: mean(
            &mut results
                .iter()
                .filter(|r| r.success)
                .map(|r| f64::from(r.steps)),
        ),
        plan_ms: if plans == 0 {
            0.0
        } else {
            plan_total / plans as f64
        },
        plan_ms_per_action: if steps == 0 {
            0.0
        } else {
            plan_total / f64::from(steps)
        },
    }
}

/// A rendered environment and whoever acts in it.
enum Runner<B: Backend> {
    Agent(VecEnv),
    Random(VecEnv, std::marker::PhantomData<B>),
}

impl<B: Backend> Runner<B> {
    fn new(
        scene: &Scene,
        contender: Contender<B>,
        render: &RenderOptions,
    ) -> Result<Self, AgentError> {
        let (low, high) = (&scene.action_space.low, &scene.action_space.high);
        let mut runner = match contender {
            Contender::Agent {
                model,
                config,
                planner,
            } => {
                let mut planner = Some(planner);
                let agents = Agents::new(
                    AgentMode::Lockstep,
                    model,
                    1,
                    config.replan_every,
                    (low, high),
                    |_| planner.take().expect("one world"),
                );
                let plugin = AgentPlugin::new(agents);
                let env = VecEnv::with_plugins(scene.clone(), 1, Some(render.clone()), plugin)?;
                Runner::Agent(env)
            }
            Contender::Random => Runner::Random(
                VecEnv::with_rendering(scene.clone(), 1, render.clone())?,
                std::marker::PhantomData,
            ),
        };
        runner.env().set_auto_reset(false);
        Ok(runner)
    }

    fn env(&mut self) -> &mut VecEnv {
        match self {
            Runner::Agent(env) | Runner::Random(env, _) => env,
        }
    }

    /// Runs one episode; returns its result and its frames beside the goal frame.
    fn run(&mut self, episode: &EpisodeSpec) -> Result<(EpisodeResult, Vec<Frame>), AgentError> {
        let env = self.env();
        let (observation, _) = env.reset_to(0, episode.episode.clone())?;
        let goal = env.goal_observations()?.remove(0);
        let goal_frame = goal.frame.clone().ok_or(AgentError::NoFrame)?;
        let beside_goal = |frame: &Option<Frame>| {
            frame
                .as_ref()
                .map(|f| f.beside(&goal_frame))
                .ok_or(AgentError::NoFrame)
        };
        let mut frames = vec![beside_goal(&observation.frame)?];
        let mut random = RandomPolicy::new(&env.action_space(), episode.seed);
        let plans_before = match self {
            Runner::Agent(env) => {
                let mut agents = env.app_mut().world_mut().resource_mut::<Agents<B>>();
                agents.start_episode(0, goal, episode.seed);
                agents.plan_millis().len()
            }
            Runner::Random(..) => 0,
        };
        let last: Step = loop {
            let step = match self {
                Runner::Agent(env) => {
                    let step = env.step_driven()?.remove(0);
                    let mut agents = env.app_mut().world_mut().resource_mut::<Agents<B>>();
                    if let Some((_, error)) = agents.take_error() {
                        return Err(error);
                    }
                    step
                }
                Runner::Random(env, _) => env.step(&[random.act()])?.remove(0),
            };
            frames.push(beside_goal(&step.observation.frame)?);
            if step.terminated || step.truncated {
                break step;
            }
        };
        let plan_millis = match self {
            Runner::Agent(env) => {
                let agents = env.app_mut().world().resource::<Agents<B>>();
                agents.plan_millis()[plans_before..].to_vec()
            }
            Runner::Random(..) => Vec::new(),
        };
        let plans = plan_millis.len();
        let result = EpisodeResult {
            index: episode.index,
            seed: episode.seed,
            success: last.terminated,
            steps: last.info.episode_step,
            start_distance: episode.start_distance,
            final_distance: last.info.distance,
            plans,
            plan_ms: if plans == 0 {
                0.0
            } else {
                plan_millis.iter().sum::<f64>() / plans as f64
            },
        };
        Ok((result, frames))
    }
}
