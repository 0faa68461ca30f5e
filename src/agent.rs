//! `prefrontal eval`: closed-loop evaluation of a planning agent and its baselines.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use indicatif::{ProgressBar, ProgressStyle};
use prefrontal_agent::config::{CemConfig, GradientConfig, MppiConfig};
use prefrontal_agent::eval::{
    Contender, EpisodeSpec, EvalOptions, EvalSummary, evaluate, pick_episodes,
};
use prefrontal_agent::{
    AgentConfig, Bounds, JepaModel, LatentModel, PlannerConfig, SimulatorModel, build_planner,
    sampling_planner,
};
use prefrontal_sim::{RenderOptions, Scene};
use prefrontal_worldmodel::Checkpoint;
use prefrontal_worldmodel::RonConfig;

use crate::learn::{DeviceKind, with_backend};

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

/// A comparison run on the same episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Baseline {
    /// Uniform random actions.
    Random,
    /// The same planner looking one model step ahead.
    Greedy,
    /// The same planner with the simulator as its model, on the privileged state.
    Oracle,
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
    /// Easiest episode: smallest start-to-goal distance.
    #[arg(long, default_value_t = 0.0)]
    min_distance: f32,
    /// Hardest episode: largest start-to-goal distance.
    #[arg(long, default_value_t = f32::INFINITY)]
    max_distance: f32,
    /// Baselines run on the same episodes, comma-separated (`--baselines` alone: none).
    #[arg(long, value_enum, value_delimiter = ',', num_args = 0.., default_value = "random,greedy")]
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
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
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
    let episodes = pick_episodes(
        &scene,
        args.episodes,
        args.seed,
        (args.min_distance, args.max_distance),
    )?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let config_path = args.out.join("agent.ron");
    std::fs::write(&config_path, config.to_ron())
        .with_context(|| format!("writing {}", config_path.display()))?;
    let run = Run {
        args,
        scene: &scene,
        checkpoint: &checkpoint,
        config: &config,
        episodes: &episodes,
    };
    let summaries = with_backend!(args.device, |B, device| run.all::<B>(&device))?;
    print_table(&summaries);
    Ok(())
}

/// One evaluation's fixed inputs.
struct Run<'a> {
    args: &'a EvalArgs,
    scene: &'a Scene,
    checkpoint: &'a Checkpoint,
    config: &'a AgentConfig,
    episodes: &'a [EpisodeSpec],
}

impl Run<'_> {
    /// The planner, then each baseline.
    fn all<B: AutodiffBackend>(&self, device: &B::Device) -> Result<Vec<EvalSummary>> {
        let name = self.config.planner.name();
        let mut summaries = vec![self.planner::<B>(name, self.config, device)?];
        for baseline in &self.args.baselines {
            let summary = match baseline {
                Baseline::Random => {
                    self.contender::<B::InnerBackend>("random", Contender::Random)?
                }
                Baseline::Greedy => {
                    let greedy = AgentConfig {
                        planner: self.config.planner.clone().with_horizon(1),
                        replan_every: 1,
                        ..self.config.clone()
                    };
                    self.planner::<B>("greedy", &greedy, device)?
                }
                Baseline::Oracle => {
                    if matches!(self.config.planner, PlannerConfig::Gradient(_)) {
                        println!(
                            "oracle: skipped (the simulator gives the gradient planner no gradient)"
                        );
                        continue;
                    }
                    let frameskip = self.checkpoint.config.model.frameskip;
                    let scene = Arc::new(self.scene.clone());
                    let model = SimulatorModel::<B::InnerBackend>::new(scene, frameskip, device);
                    self.sampling("oracle", self.config, Arc::new(model))?
                }
            };
            summaries.push(summary);
        }
        Ok(summaries)
    }

    /// The world model with `config`'s planner: on the autodiff backend for the gradient
    /// planner, on its inner backend otherwise.
    fn planner<B: AutodiffBackend>(
        &self,
        name: &str,
        config: &AgentConfig,
        device: &B::Device,
    ) -> Result<EvalSummary> {
        if matches!(config.planner, PlannerConfig::Gradient(_)) {
            let model = JepaModel::<B>::load_differentiable(self.checkpoint, device)?;
            model.check_scene(self.scene)?;
            let contender = Contender::Agent {
                planner: build_planner::<B>(config, self.bounds(&model), 0),
                model: Arc::new(model),
                config: config.clone(),
            };
            self.contender(name, contender)
        } else {
            let model = JepaModel::<B::InnerBackend>::load(self.checkpoint, device)?;
            model.check_scene(self.scene)?;
            self.sampling(name, config, Arc::new(model))
        }
    }

    /// CEM or MPPI in `model`.
    fn sampling<B: Backend>(
        &self,
        name: &str,
        config: &AgentConfig,
        model: Arc<dyn LatentModel<B>>,
    ) -> Result<EvalSummary> {
        let planner = sampling_planner::<B>(config, self.bounds(model.as_ref()), 0)
            .expect("not the gradient planner");
        let contender = Contender::Agent {
            model,
            config: config.clone(),
            planner,
        };
        self.contender(name, contender)
    }

    fn bounds<B: Backend>(&self, model: &dyn LatentModel<B>) -> Bounds {
        let space = &self.scene.action_space;
        Bounds::tiled(&space.low, &space.high, model.spec().frameskip)
    }

    fn contender<B: Backend>(&self, name: &str, contender: Contender<B>) -> Result<EvalSummary> {
        let (width, height) = self.frame_size();
        let options = EvalOptions {
            render: RenderOptions {
                camera: self.args.camera.clone(),
                resolution: Some((width, height)),
            },
            out: self.args.out.join(name),
            gifs: self.args.gifs,
        };
        let bar = ProgressBar::new(self.episodes.len() as u64).with_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {pos}/{len} episodes {msg} ({elapsed})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_owned());
        let mut successes = 0;
        let summary = evaluate(
            name,
            self.scene,
            contender,
            self.episodes,
            &options,
            |result| {
                successes += usize::from(result.success);
                bar.set_message(format!("{successes} reached"));
                bar.inc(1);
                if bar.is_hidden() {
                    println!(
                        "{name}: episode {} {} in {} steps, final distance {:.3}",
                        result.index,
                        if result.success { "reached" } else { "failed" },
                        result.steps,
                        result.final_distance
                    );
                }
            },
        )
        .with_context(|| format!("evaluating {name}"))?;
        bar.finish_and_clear();
        Ok(summary)
    }

    fn frame_size(&self) -> (u32, u32) {
        let spec = &self.checkpoint.state.spec;
        (spec.width as u32, spec.height as u32)
    }
}

fn print_table(summaries: &[EvalSummary]) {
    println!(
        "| agent | success | 95% CI | final distance | steps to success | ms per plan | planning ms per action |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for s in summaries {
        let steps = s
            .steps_to_success
            .map_or_else(|| "–".to_owned(), |steps| format!("{steps:.1}"));
        // Baselines that never plan show a dash, not 0 ms.
        let (per_plan, per_action) = if s.plan_ms > 0.0 {
            (
                format!("{:.1}", s.plan_ms),
                format!("{:.1}", s.plan_ms_per_action),
            )
        } else {
            ("–".to_owned(), "–".to_owned())
        };
        println!(
            "| {} | {}/{} ({:.0}%) | {:.0}–{:.0}% | {:.3} | {steps} | {per_plan} | {per_action} |",
            s.name,
            s.successes,
            s.episodes,
            100.0 * s.success_rate,
            100.0 * s.success_ci95.0,
            100.0 * s.success_ci95.1,
            s.final_distance,
        );
    }
}
