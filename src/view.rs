//! `prefrontal view`: the windowed viewer, on a scene alone or with a trained agent.

use std::path::PathBuf;

use anyhow::{Result, bail};
use prefrontal_runtime::{AgentSource, Device};
use prefrontal_sim::Scene;
use prefrontal_viewer::{CaptureOptions, ViewRequest};

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

pub fn run_view(args: &ViewArgs) -> Result<()> {
    if std::env::var_os("DISPLAY").is_none_or(|display| display.is_empty()) {
        bail!(
            "no X display (DISPLAY is not set): the viewer opens an X11 window; without a screen, run it under Xvfb: xvfb-run -s \"-screen 0 1280x800x24\" prefrontal view …"
        );
    }
    let scene = args.scene.as_deref().map(Scene::load).transpose()?;
    let (scene, agent) = AgentSource::resolve(
        args.run.as_deref(),
        scene,
        args.checkpoint.as_deref(),
        args.agent.as_deref(),
    )?;
    let summary = prefrontal_viewer::open(ViewRequest {
        scene,
        agent,
        seed: args.seed,
        size: args.size,
        capture: CaptureOptions {
            screenshot: args.screenshot.clone(),
            record: args.record.clone(),
            frames: args.frames,
        },
        device: args.device,
    })?;
    println!("{summary}");
    Ok(())
}
