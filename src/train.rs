//! `prefrontal train` and `prefrontal probe`: the world model from the command line.

use std::path::PathBuf;

use anyhow::Result;
use prefrontal_runtime::Device;
use prefrontal_worldmodel::{Checkpoint, RonConfig, TrainOptions, WorldModelConfig};

use crate::interrupt;
use crate::progress::{Reporter, describe};

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
    /// Data-parallel workers sharing each batch (overrides `training.workers`): threads on
    /// the CPU, GPUs N, N+1, … on `cuda:N`. The losses and gradients are those of one worker
    /// up to float rounding; a resumed run may change it.
    #[arg(long, value_parser = crate::choices::workers())]
    workers: Option<usize>,
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
        workers: args.workers,
    };
    let mut reporter = Reporter::default();
    let summary =
        prefrontal_runtime::train(&options, args.device, &mut |event| reporter.observe(event))?;
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
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let mut reporter = Reporter::default();
    let (report, data) =
        prefrontal_runtime::probe(&checkpoint, &args.data, args.device, &mut |event| {
            reporter.observe(event)
        })?;
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
