//! Closed-loop evaluation of a planning agent and its baselines, on any backend.

use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::eval::{EvalSummary, Protocol, pick_episodes};
use prefrontal_agent::{AgentConfig, Baseline, PlannerKind, RonConfig, Suite};
use prefrontal_sim::Scene;
use prefrontal_worldmodel::{Checkpoint, Device};

use crate::backend::{BackendTask, on_device};
use crate::events::{Event, Observer};
use crate::{ResultExt, RuntimeError};

/// An evaluation of a checkpoint's agent in a scene, against baselines.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    /// A run folder (its latest checkpoint) or a `step-N` folder.
    pub checkpoint: PathBuf,
    /// The `*.scene.ron` file to act in.
    pub scene: PathBuf,
    /// An agent config file; without one, `planner` with its default settings.
    pub agent: Option<PathBuf>,
    /// The planner when no agent config is given.
    pub planner: PlannerKind,
    /// Start/goal pairs to evaluate.
    pub episodes: usize,
    /// Seed of the episode sequence.
    pub seed: u64,
    /// How goals are chosen.
    pub protocol: Protocol,
    /// Smallest and largest start-to-goal distance.
    pub distance: (f32, f32),
    /// Baselines run on the same episodes.
    pub baselines: Vec<Baseline>,
    /// One subfolder per contender, and the agent's config as `agent.ron`.
    pub out: PathBuf,
    /// Episodes that get a rollout GIF.
    pub gifs: usize,
    /// The camera rendered (the scene's first when `None`).
    pub camera: Option<String>,
    /// Where the model runs.
    pub device: Device,
}

/// Picks the episodes, then runs the agent and each baseline on them.
pub fn evaluate(
    request: &EvalRequest,
    observe: Observer,
) -> Result<Vec<EvalSummary>, RuntimeError> {
    if request.episodes == 0 {
        return Err(RuntimeError::invalid("--episodes must be at least 1"));
    }
    let (low, high) = request.distance;
    if (low..=high).is_empty() {
        return Err(RuntimeError::invalid(
            "--min-distance must not exceed --max-distance",
        ));
    }
    let checkpoint = Checkpoint::open(&request.checkpoint)?;
    let scene = Scene::load(&request.scene)?;
    let config = match &request.agent {
        Some(path) => AgentConfig::load(path)?,
        None => AgentConfig {
            planner: request.planner.default_config(),
            ..AgentConfig::default()
        },
    };
    request.protocol.validate().map_err(RuntimeError::Invalid)?;
    let episodes = pick_episodes(
        &scene,
        request.episodes,
        request.seed,
        request.distance,
        request.protocol,
    )?;
    let out = &request.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let config_path = out.join("agent.ron");
    std::fs::write(&config_path, config.to_ron())
        .with_context(|| format!("writing {}", config_path.display()))?;
    let suite = Suite {
        scene: &scene,
        checkpoint: &checkpoint,
        config: &config,
        baselines: &request.baselines,
        episodes: &episodes,
        protocol: request.protocol,
        out: out.clone(),
        gifs: request.gifs,
        camera: request.camera.clone(),
    };
    run_suite(&suite, request.device, observe)
}

/// Runs `suite` (the agent, then its baselines) on `device`.
pub fn run_suite(
    suite: &Suite,
    device: impl Into<Device>,
    observe: Observer,
) -> Result<Vec<EvalSummary>, RuntimeError> {
    struct RunSuite<'a, 'o> {
        suite: &'a Suite<'a>,
        observe: Observer<'o>,
    }
    impl BackendTask for RunSuite<'_, '_> {
        type Output = Result<Vec<EvalSummary>, RuntimeError>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
            run_suite_on::<B>(self.suite, device, self.observe)
        }
    }
    on_device(device, RunSuite { suite, observe })?
}

/// [`run_suite`] with the backend chosen.
pub(crate) fn run_suite_on<B: AutodiffBackend>(
    suite: &Suite,
    device: &B::Device,
    observe: Observer,
) -> Result<Vec<EvalSummary>, RuntimeError> {
    let summaries = suite
        .run::<B>(device, &mut |event| observe(Event::Suite(event)))
        .with_context(|| "evaluating the agent and its baselines")?;
    observe(Event::Evaluated(&summaries));
    Ok(summaries)
}
