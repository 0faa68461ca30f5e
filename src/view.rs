//! `prefrontal view`: the windowed viewer, on a scene alone or with a trained agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::tensor::backend::AutodiffBackend;
use prefrontal_agent::eval::Protocol;
use prefrontal_agent::{AgentConfig, JepaModel, LatentModel};
use prefrontal_experiment::spec::Experiment;
use prefrontal_sim::{RenderOptions, Scene};
use prefrontal_viewer::{AgentSetup, CaptureOptions, ViewerOptions};
use prefrontal_worldmodel::{Checkpoint, Device, LinearProbe, RonConfig};

use crate::train::with_backend;

#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// The `*.scene.ron` file (not with --run, which names its scene).
    #[arg(required_unless_present = "run", conflicts_with = "run")]
    scene: Option<PathBuf>,
    /// An experiment run folder (`runs/<name>/seed-<s>`, or `runs/<name>` for its first
    /// seed): its scene, world model, agent and goal protocol.
    #[arg(long)]
    run: Option<PathBuf>,
    /// A world-model checkpoint (a run folder or a `step-N` folder) for an agent in SCENE.
    #[arg(long, conflicts_with = "run")]
    checkpoint: Option<PathBuf>,
    /// The agent's config (`*.agent.ron`) with --checkpoint; CEM's defaults without.
    #[arg(long, requires = "checkpoint")]
    agent: Option<PathBuf>,
    /// Seed of the first episode; each next one uses the next seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Window size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: (u32, u32),
    /// Write a PNG of the window after --frames frames, then exit.
    #[arg(long, requires = "frames")]
    screenshot: Option<PathBuf>,
    /// Write a GIF of the window's first --frames frames, then exit.
    #[arg(long, requires = "frames")]
    record: Option<PathBuf>,
    /// Run unattended for this many frames (one control step each), then close the window.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    frames: Option<u32>,
    /// Where the agent's model runs: cpu, cuda, cuda:N, wgpu or wgpu:N.
    #[arg(long, default_value_t = Device::default())]
    device: Device,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (width, height) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT, e.g. 1280x720"))?;
    let parse = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|v| (64..=8192).contains(v))
            .ok_or_else(|| format!("{v:?} is not a size between 64 and 8192 pixels"))
    };
    Ok((parse(width)?, parse(height)?))
}

/// What the viewer's agent is made of, before the backend is chosen.
struct AgentSource {
    checkpoint: Checkpoint,
    config: AgentConfig,
    protocol: Protocol,
    camera: Option<String>,
}

pub fn run_view(args: &ViewArgs) -> Result<()> {
    if std::env::var_os("DISPLAY").is_none_or(|display| display.is_empty()) {
        bail!(
            "no X display (DISPLAY is not set): the viewer opens an X11 window; without a screen, run it under Xvfb: xvfb-run -s \"-screen 0 1280x800x24\" prefrontal view …"
        );
    }
    let (scene, agent) = match (&args.run, &args.scene) {
        (Some(run), _) => {
            let (scene, source) = from_run(run)?;
            (scene, Some(source))
        }
        (None, Some(scene)) => {
            let scene = Scene::load(scene)?;
            let source = match &args.checkpoint {
                Some(checkpoint) => Some(AgentSource {
                    checkpoint: Checkpoint::open(checkpoint)?,
                    config: match &args.agent {
                        Some(path) => AgentConfig::load(path)?,
                        None => AgentConfig::default(),
                    },
                    protocol: Protocol::RandomGoal,
                    camera: None,
                }),
                None => None,
            };
            (scene, source)
        }
        (None, None) => bail!("give a scene file or --run"),
    };
    let render = match &agent {
        Some(source) => {
            let spec = &source.checkpoint.state.spec;
            RenderOptions {
                camera: source.camera.clone(),
                resolution: Some((spec.width as u32, spec.height as u32)),
            }
        }
        None => RenderOptions::default(),
    };
    let options = ViewerOptions {
        scene,
        render,
        seed: args.seed,
        size: args.size,
        checkpoint: agent.as_ref().map(|a| a.checkpoint.dir.clone()),
        capture: CaptureOptions {
            screenshot: args.screenshot.clone(),
            record: args.record.clone(),
            frames: args.frames,
        },
    };
    let summary = with_backend!(args.device, |B, device| view_with::<B>(
        options, agent, &device
    ))?;
    println!("{summary}");
    Ok(())
}

/// The scene and agent of an experiment run folder.
fn from_run(run: &Path) -> Result<(Scene, AgentSource)> {
    let seed_dir = if run.join("experiment.ron").is_file() {
        run.to_owned()
    } else {
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(run)
            .with_context(|| format!("reading the run folder {}", run.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("experiment.ron").is_file())
            .collect();
        seeds.sort();
        seeds.into_iter().next().with_context(|| {
            format!(
                "{} is not a run folder: it holds no experiment.ron (nor does any seed-<s> folder in it)",
                run.display()
            )
        })?
    };
    let experiment = Experiment::load(&seed_dir.join("experiment.ron"), &[])?;
    let scene = Scene::load(&experiment.scene)?;
    let checkpoint = Checkpoint::open(seed_dir.join("model")).with_context(|| {
        format!(
            "{} has no trained model yet: run the experiment first",
            seed_dir.display()
        )
    })?;
    Ok((
        scene,
        AgentSource {
            checkpoint,
            config: experiment.agent,
            protocol: experiment.evaluation.protocol,
            camera: experiment.data.camera,
        },
    ))
}

fn view_with<B: AutodiffBackend>(
    options: ViewerOptions,
    agent: Option<AgentSource>,
    device: &B::Device,
) -> Result<prefrontal_viewer::ViewerSummary> {
    let setup = match agent {
        Some(source) => {
            let model = JepaModel::<B>::load_differentiable(&source.checkpoint, device)?;
            model.check_scene(&options.scene, options.render.camera.as_deref())?;
            let model: Arc<dyn LatentModel<B>> = Arc::new(model);
            Some(AgentSetup {
                model,
                config: source.config,
                probe: LinearProbe::load(&source.checkpoint.dir)?,
                protocol: source.protocol,
            })
        }
        None => None,
    };
    Ok(prefrontal_viewer::run::<B>(options, setup)?)
}
