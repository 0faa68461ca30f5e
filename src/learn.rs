//! `prefrontal train` and `prefrontal probe`: the world model from the command line.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};
use prefrontal_worldmodel::RonConfig;
use prefrontal_worldmodel::{
    Checkpoint, EpisodeSet, EvalReport, TrainEvent, TrainOptions, WorldModelConfig, evaluate, train,
};

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// Burn's `flex` CPU backend (always built).
    Cpu,
    /// NVIDIA GPU through burn-cuda (cargo feature `cuda`).
    Cuda,
    /// Any GPU through wgpu (cargo feature `wgpu`).
    Wgpu,
}

/// Runs `$body` with `$B` bound to the autodiff backend of `$device` and `$dev` to its device.
macro_rules! with_backend {
    ($device:expr, |$B:ident, $dev:ident| $body:expr) => {
        match $device {
            $crate::learn::DeviceKind::Cpu => {
                type $B = burn::backend::Autodiff<burn::backend::Flex>;
                let $dev = burn::backend::flex::FlexDevice;
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::learn::DeviceKind::Cuda => {
                type $B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $dev = burn::backend::cuda::CudaDevice::default();
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::learn::DeviceKind::Wgpu => {
                type $B = burn::backend::Autodiff<burn::backend::Wgpu>;
                let $dev = burn::backend::wgpu::WgpuDevice::default();
                $body
            }
            #[allow(unreachable_patterns)]
            other => anyhow::bail!(
                "this binary was built without the {other:?} backend; rebuild with `cargo build --release --features {}`",
                format!("{other:?}").to_lowercase()
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
    /// Where to train.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
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
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;
    let options = TrainOptions {
        data: args.data.clone(),
        out: args.out.clone(),
        config,
        steps: args.steps,
        resume: args.resume,
        stop_after: None,
        interrupt: Some(interrupt),
    };
    with_backend!(args.device, |B, device| train_with::<B>(&options, &device))
}

fn train_with<B: AutodiffBackend>(options: &TrainOptions, device: &B::Device) -> Result<()> {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps {elapsed_precise} (eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    let mut observe = |event: &TrainEvent| match event {
        TrainEvent::Started {
            step,
            total,
            train_windows,
            validation_windows,
        } => {
            eprintln!(
                "{} at step {step} of {total}: {train_windows} training windows, {validation_windows} validation windows",
                if *step == 0 { "training" } else { "resuming" }
            );
            bar.set_length(*total);
            bar.set_position(*step);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        TrainEvent::Step {
            step,
            losses,
            samples_per_s,
            ..
        } => {
            bar.set_position(*step);
            let message = format!(
                "loss {:.4} (pred {:.4} vs no-change {:.4}, rollout {:.4}, sigreg {:.3}) {samples_per_s:.1} samples/s",
                losses.total, losses.prediction, losses.no_change, losses.rollout, losses.sigreg
            );
            // Without a terminal, a plain line every 5% of the run.
            if bar.is_hidden() && *step % (bar.length().unwrap_or(1) / 20).max(1) == 0 {
                eprintln!("step {step}: {message}");
            }
            bar.set_message(message);
        }
        TrainEvent::Evaluated(report) => say(&bar, describe(report)),
        TrainEvent::Checkpointed(dir) => say(&bar, format!("checkpoint {}", dir.display())),
    };
    let summary = train::<B>(options, device, &mut observe)?;
    bar.finish_and_clear();
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

/// Prints a line above the progress bar, or plainly when the bar is not drawn.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
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
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
}

pub fn run_probe(args: &ProbeArgs) -> Result<()> {
    with_backend!(args.device, |B, device| probe_with::<B>(args, &device))
}

fn probe_with<B: AutodiffBackend>(args: &ProbeArgs, device: &B::Device) -> Result<()> {
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let training = &checkpoint.config.training;
    let data = EpisodeSet::load(&args.data, training.validation_fraction, training.seed)?;
    checkpoint.check_compatible(data.spec(), &args.data)?;
    let model = checkpoint.load_model::<B::InnerBackend>(device)?;
    let report = evaluate(
        &model,
        &data,
        &checkpoint.config,
        checkpoint.state.step,
        device,
    );
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
