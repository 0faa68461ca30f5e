//! `prefrontal eval`: closed-loop evaluation of a planning agent and its baselines.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::config::{CemConfig, GradientConfig, MppiConfig};
use prefrontal_agent::eval::{EvalSummary, Protocol, pick_episodes};
use prefrontal_agent::{AgentConfig, Baseline, PlannerConfig, Suite, SuiteEvent};
use prefrontal_sim::Scene;
use prefrontal_worldmodel::Checkpoint;
use prefrontal_worldmodel::RonConfig;

use crate::progress::Progress;
use crate::train::with_backend;
use prefrontal_worldmodel::Device;

/// Which planner searches the world model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlannerKind {
    /// Cross-entropy method (default settings: 300 samples × 30 iterations, horizon 5).
    Cem,
    /// MPPI (300 samples × 30 iterations, horizon 5).
    Mppi,
    /// Adam on the actions through the predictor (8 sequences × 30 steps, horizon 5).
    Gd,
}

impl PlannerKind {
    /// The planner's default settings.
    pub fn default_config(self) -> PlannerConfig {
        match self {
            PlannerKind::Cem => PlannerConfig::Cem(CemConfig::default()),
            PlannerKind::Mppi => PlannerConfig::Mppi(MppiConfig::default()),
            PlannerKind::Gd => PlannerConfig::Gradient(GradientConfig::default()),
        }
    }
}

/// How evaluation goals are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolKind {
    /// The task samples start and goal; the budget is the task's step limit.
    RandomGoal,
    /// The goal is the scripted controller's state --offset steps after the start; the
    /// budget is --budget steps (the papers' protocol).
    TrajectoryOffset,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A world-model checkpoint: a run folder (its latest checkpoint) or a `step-N` folder.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The `*.scene.ron` file to act in (the one the model was trained on).
    #[arg(long)]
    scene: PathBuf,
    /// Start/goal pairs to evaluate.
    #[arg(long, default_value_t = 20)]
    episodes: usize,
    /// The planner, with its default settings.
    #[arg(long, value_enum, default_value_t = PlannerKind::Cem, conflicts_with = "agent")]
    planner: PlannerKind,
    /// An agent config (`*.agent.ron`: planner, energy, replan_every) instead of --planner.
    #[arg(long)]
    agent: Option<PathBuf>,
    /// Seed of the episode sequence.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How goals are chosen.
    #[arg(long, value_enum, default_value_t = ProtocolKind::RandomGoal)]
    protocol: ProtocolKind,
    /// trajectory-offset: simulator steps from the start to the goal.
    #[arg(long, default_value_t = 25)]
    offset: u32,
    /// trajectory-offset: simulator steps an episode may take.
    #[arg(long, default_value_t = 50)]
    budget: u32,
    /// Easiest episode: smallest start-to-goal distance.
    #[arg(long, default_value_t = 0.0)]
    min_distance: f32,
    /// Hardest episode: largest start-to-goal distance.
    #[arg(long, default_value_t = f32::INFINITY)]
    max_distance: f32,
    /// Baselines run on the same episodes, comma-separated: random, greedy, oracle
    /// (`--baselines` alone: none).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "random,greedy")]
    baselines: Vec<Baseline>,
    /// Run folder: one subfolder per contender with episodes.jsonl, summary.json, GIFs and
    /// TensorBoard events.
    #[arg(long)]
    out: PathBuf,
    /// Episodes that get a rollout GIF (frame beside goal).
    #[arg(long, default_value_t = 4)]
    gifs: usize,
    /// Camera to render (the scene's first when omitted; use the dataset's).
    #[arg(long)]
    camera: Option<String>,
    /// Where the model runs: cpu, cuda, cuda:N, wgpu or wgpu:N.
    #[arg(long, default_value_t = Device::default())]
    device: Device,
}

pub fn run_eval(args: &EvalArgs) -> Result<()> {
    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let range = args.min_distance..=args.max_distance;
    if range.is_empty() {
        bail!("--min-distance must not exceed --max-distance");
    }
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let scene = Scene::load(&args.scene)?;
    let config = match &args.agent {
        Some(path) => AgentConfig::load(path)?,
        None => AgentConfig {
            planner: args.planner.default_config(),
            ..AgentConfig::default()
        },
    };
    let protocol = match args.protocol {
        ProtocolKind::RandomGoal => Protocol::RandomGoal,
        ProtocolKind::TrajectoryOffset => Protocol::TrajectoryOffset {
            offset: args.offset,
            budget: args.budget,
        },
    };
    protocol.validate().map_err(anyhow::Error::msg)?;
    let episodes = pick_episodes(
        &scene,
        args.episodes,
        args.seed,
        (args.min_distance, args.max_distance),
        protocol,
    )?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let config_path = args.out.join("agent.ron");
    std::fs::write(&config_path, config.to_ron())
        .with_context(|| format!("writing {}", config_path.display()))?;
    let suite = Suite {
        scene: &scene,
        checkpoint: &checkpoint,
        config: &config,
        baselines: &args.baselines,
        episodes: &episodes,
        protocol,
        out: args.out.clone(),
        gifs: args.gifs,
        camera: args.camera.clone(),
    };
    let summaries = with_backend!(args.device, |B, device| run_suite::<B>(&suite, &device))?;
    print!(
        "{}",
        prefrontal_experiment::report::contender_table(&summaries)
    );
    Ok(())
}

/// Runs `suite` with a progress bar per contender.
pub fn run_suite<B: AutodiffBackend>(
    suite: &Suite,
    device: &B::Device,
) -> Result<Vec<EvalSummary>> {
    let mut progress: Option<(Progress, usize, usize)> = None;
    let mut observe = |event: SuiteEvent| match event {
        SuiteEvent::Started { name, episodes } => {
            progress = Some((Progress::new(name, episodes as u64, "episodes"), 0, 0));
        }
        SuiteEvent::Episode { result, .. } => {
            if let Some((bar, done, reached)) = progress.as_mut() {
                *done += 1;
                *reached += usize::from(result.success);
                bar.set(*done as u64, format!("{reached} reached"));
            }
        }
        SuiteEvent::Finished { .. } => {
            if let Some((bar, _, _)) = progress.take() {
                bar.finish();
            }
        }
        SuiteEvent::Skipped { name, reason } => eprintln!("{name}: skipped ({reason})"),
    };
    suite
        .run::<B>(device, &mut observe)
        .context("evaluating the agent and its baselines")
}
