//! `prefrontal train` and `prefrontal probe`: the world model from the command line.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use prefrontal_worldmodel::RonConfig;
use prefrontal_worldmodel::{
    Checkpoint, Device, EpisodeSet, EvalReport, TrainEvent, TrainOptions, TrainSummary,
    WorldModelConfig, evaluate, train,
};

use crate::interrupt;
use crate::progress::Progress;

/// Runs `$body` with `$B` bound to the autodiff backend of `$device` (a
/// [`prefrontal_worldmodel::Device`]) and `$dev` to its device.
macro_rules! with_backend {
    ($device:expr, |$B:ident, $dev:ident| $body:expr) => {
        match prefrontal_worldmodel::Device::from($device) {
            prefrontal_worldmodel::Device {
                kind: prefrontal_worldmodel::DeviceKind::Cpu,
                ..
            } => {
                type $B = burn::backend::Autodiff<burn::backend::Flex>;
                let $dev = burn::backend::flex::FlexDevice;
                $body
            }
            #[cfg(feature = "cuda")]
            prefrontal_worldmodel::Device {
                kind: prefrontal_worldmodel::DeviceKind::Cuda,
                index,
            } => {
                type $B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $dev = burn::backend::cuda::CudaDevice {
                    index: index.unwrap_or(0),
                };
                $body
            }
            #[cfg(feature = "wgpu")]
            prefrontal_worldmodel::Device {
                kind: prefrontal_worldmodel::DeviceKind::Wgpu,
                index,
            } => {
                type $B = burn::backend::Autodiff<burn::backend::Wgpu>;
                let $dev = match index {
                    Some(index) => burn::backend::wgpu::WgpuDevice::DiscreteGpu(index),
                    None => burn::backend::wgpu::WgpuDevice::default(),
                };
                $body
            }
            #[allow(unreachable_patterns)]
            other => anyhow::bail!(
                "this binary was built without the {} backend; rebuild with `cargo build --release --features {}`",
                other.kind,
                other.kind
            ),
        }
    };
}
pub(crate) use with_backend;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Dataset folder written by `prefrontal collect`.
    #[arg(long)]
    data: PathBuf,
    /// World-model config (`*.ron`); a new run without one uses the defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder: config, checkpoints, TensorBoard events.
    #[arg(long)]
    out: PathBuf,
    /// Where to train: cpu, cuda, cuda:N (the Nth GPU), wgpu or wgpu:N.
    #[arg(long, default_value_t = Device::default())]
    device: Device,
    /// Optimiser steps of the whole run (overrides `training.steps`).
    #[arg(long)]
    steps: Option<u64>,
    /// Continue the run in `--out` from its latest checkpoint.
    #[arg(long)]
    resume: bool,
}

pub fn run_train(args: &TrainArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => Some(WorldModelConfig::load(path)?),
        None if args.resume => None,
        None => {
            eprintln!("no --config given: using the default world-model config");
            Some(WorldModelConfig::default())
        }
    };
    let training = interrupt::Training::start()?;
    let options = TrainOptions {
        data: args.data.clone(),
        out: args.out.clone(),
        config,
        steps: args.steps,
        resume: args.resume,
        stop_after: None,
        interrupt: Some(training.flag()),
    };
    let summary = with_backend!(args.device, |B, device| train_with::<B>(&options, &device))?;
    if summary.stopped_early {
        eprintln!(
            "interrupted at step {}; continue with --resume (checkpoint {})",
            summary.step,
            summary.checkpoint.display()
        );
    } else {
        eprintln!(
            "done: step {}, checkpoint {}",
            summary.step,
            summary.checkpoint.display()
        );
    }
    Ok(())
}

/// Trains with a progress bar; validation reports and checkpoints print above it.
pub fn train_with<B: AutodiffBackend>(
    options: &TrainOptions,
    device: &B::Device,
) -> Result<TrainSummary> {
    let mut bar = Progress::new("train", 0, "steps");
    let mut observe = |event: &TrainEvent| match event {
        TrainEvent::Started {
            step,
            total,
            train_windows,
            validation_windows,
        } => {
            bar.say(format!(
                "{} at step {step} of {total}: {train_windows} training windows, {validation_windows} validation windows",
                if *step == 0 { "training" } else { "resuming" }
            ));
            bar.reset(*step, *total);
        }
        TrainEvent::Step {
            step,
            losses,
            samples_per_s,
            ..
        } => {
            let message = format!(
                "loss {:.4} (pred {:.4} vs no-change {:.4}, rollout {:.4}, sigreg {:.3}) {samples_per_s:.1} samples/s",
                losses.total, losses.prediction, losses.no_change, losses.rollout, losses.sigreg
            );
            bar.set(*step, message);
        }
        TrainEvent::Evaluated(report) => bar.say(describe(report)),
        TrainEvent::Checkpointed(dir) => bar.say(format!("checkpoint {}", dir.display())),
        TrainEvent::Notice(note) => bar.say(note),
    };
    let summary = train::<B>(options, device, &mut observe)?;
    bar.finish();
    Ok(summary)
}

/// One line per validation report.
fn describe(report: &EvalReport) -> String {
    let rollout: Vec<String> = report
        .rollout_error
        .iter()
        .map(|(h, e)| format!("h{h} {e:.4}"))
        .collect();
    format!(
        "step {}: val loss_pred {:.4} (no-change {:.4}), rollout {}, latent std {:.3}, eff. rank {:.1}, probe R² {:.3}",
        report.step,
        report.loss_pred,
        report.loss_no_change,
        rollout.join(" "),
        report.latent_std,
        report.effective_rank,
        report.probe.mean()
    )
}

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// A run folder (its latest checkpoint) or a `checkpoints/step-N` folder.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Dataset folder; split into train and validation episodes as in training.
    #[arg(long)]
    data: PathBuf,
    /// Where to run the model: cpu, cuda, cuda:N, wgpu or wgpu:N.
    #[arg(long, default_value_t = Device::default())]
    device: Device,
}

pub fn run_probe(args: &ProbeArgs) -> Result<()> {
    with_backend!(args.device, |B, device| probe_with::<B>(args, &device))
}

/// Validation losses, latent statistics and the probe of a checkpoint on a dataset split
/// as in training.
pub fn probe_checkpoint<B: Backend>(
    checkpoint: &Checkpoint,
    data: &Path,
    device: &B::Device,
) -> Result<(EvalReport, EpisodeSet)> {
    let (episodes, note) = checkpoint.load_data(data)?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let model = checkpoint.load_model::<B>(device)?;
    let report = evaluate(
        &model,
        &episodes,
        &checkpoint.config,
        checkpoint.state.step,
        device,
    );
    // The fitted probe stays with the checkpoint: the viewer decodes imagined latents with it.
    match &report.probe_fit {
        Some(probe) => probe.save(&checkpoint.dir)?,
        None => bail!(
            "{}: the latents of the training episodes are not finite; no probe can be fitted",
            checkpoint.dir.display()
        ),
    }
    Ok((report, episodes))
}

fn probe_with<B: AutodiffBackend>(args: &ProbeArgs, device: &B::Device) -> Result<()> {
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let (report, data) = probe_checkpoint::<B::InnerBackend>(&checkpoint, &args.data, device)?;
    println!(
        "checkpoint {} (step {}), {} train / {} validation episodes",
        checkpoint.dir.display(),
        checkpoint.state.step,
        data.train_episodes().len(),
        data.validation_episodes().len()
    );
    println!("| target | validation R² |\n|---|---|");
    for (name, r2) in &report.probe.per_target {
        println!("| {name} | {r2:.3} |");
    }
    println!("| mean | {:.3} |", report.probe.mean());
    println!("{}", describe(&report));
    Ok(())
}
