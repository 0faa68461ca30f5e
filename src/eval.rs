//! `prefrontal eval`: closed-loop evaluation of a planning agent and its baselines.

use std::path::PathBuf;

use anyhow::Result;
use prefrontal_agent::eval::ProtocolKind;
use prefrontal_agent::{Baseline, PlannerKind};
use prefrontal_runtime::{Device, EvalRequest};

use crate::choices;
use crate::progress::Reporter;

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
    #[arg(long, value_parser = choices::planner(), default_value = PlannerKind::Cem.name(), conflicts_with = "agent")]
    planner: PlannerKind,
    /// An agent config (`*.agent.ron`: planner, energy, replan_every) instead of --planner.
    #[arg(long)]
    agent: Option<PathBuf>,
    /// Seed of the episode sequence.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How goals are chosen.
    #[arg(long, value_parser = choices::protocol(), default_value = ProtocolKind::RandomGoal.name())]
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
    let request = EvalRequest {
        checkpoint: args.checkpoint.clone(),
        scene: args.scene.clone(),
        agent: args.agent.clone(),
        planner: args.planner,
        episodes: args.episodes,
        seed: args.seed,
        protocol: args.protocol.with(args.offset, args.budget),
        distance: (args.min_distance, args.max_distance),
        baselines: args.baselines.clone(),
        out: args.out.clone(),
        gifs: args.gifs,
        camera: args.camera.clone(),
        device: args.device,
    };
    let mut reporter = Reporter::default();
    prefrontal_runtime::evaluate(&request, &mut |event| reporter.observe(event))?;
    Ok(())
}
