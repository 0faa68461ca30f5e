//! `prefrontal run`: one experiment file, every stage, per run seed (the runtime's
//! [`PreparedExperiment`]); and `prefrontal compare`: a table of finished runs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use prefrontal_runtime::experiment::report::{tallies, versus_line};
use prefrontal_runtime::experiment::{RunSummary, compare};
use prefrontal_runtime::{Event, Experiment, PreparedExperiment, RunOptions, Stage};

use crate::interrupt;
use crate::progress::Reporter;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The `*.experiment.ron` file.
    file: PathBuf,
    /// Where runs go: OUT/<experiment name>/seed-<s>/.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Overrides a field of the resolved experiment, e.g. `--set evaluation.episodes=50`
    /// or `--set world_model.model.latent_dim=64` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Validate the experiment, every file and reference, the evaluation protocol and the
    /// device, say which stages would run, and stop without writing anything.
    #[arg(long)]
    dry_run: bool,
}

pub fn run_experiment(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let experiment = Experiment::load(&args.file, &args.set)?;
    let prepared = PreparedExperiment::prepare(experiment, &args.out, &args.file)?;
    if args.dry_run {
        return describe(&prepared);
    }
    let options = RunOptions {
        stop: Some(interrupt::install()?),
    };
    let mut reporter = Reporter::default();
    // Ctrl-C stops training with a checkpoint; elsewhere it exits at once.
    let summaries = prepared.run(&options, &mut |event| {
        match &event {
            Event::StageStarted(stage) => interrupt::listen(*stage == Stage::Train),
            Event::StageFinished { .. } => interrupt::listen(false),
            _ => {}
        }
        reporter.observe(event)
    })?;
    if summaries.len() > 1 {
        print!("{}", compare(&summaries));
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    println!(
        "{}: {} in {minutes:.1} min; runs in {}",
        prepared.experiment().name,
        pooled_line(&summaries),
        prepared.dir().display()
    );
    Ok(())
}

/// The agent's success pooled over seeds, against each baseline's.
fn pooled_line(summaries: &[RunSummary]) -> String {
    format!(
        "{} over {} seed(s)",
        versus_line(&tallies(summaries)),
        summaries.len()
    )
}

/// The dry run's account: what is valid and which stages would run.
fn describe(prepared: &PreparedExperiment) -> Result<()> {
    let e = prepared.experiment();
    println!(
        "{}: ok — scene \"{}\", {} seed(s), {} on {}",
        e.name,
        prepared.scene().name,
        e.seeds.len(),
        e.agent.planner.name(),
        e.training.device
    );
    println!(
        "  evaluation: {} goals per seed, {}",
        e.evaluation.episodes,
        e.evaluation.protocol.describe(prepared.scene())
    );
    for &seed in &e.seeds {
        let stages: Vec<String> = prepared
            .pending_stages(seed)?
            .into_iter()
            .map(|(stage, runs)| {
                format!("{} {}", stage.name(), if runs { "runs" } else { "skipped" })
            })
            .collect();
        println!(
            "  seed {seed} → {}: {}",
            prepared.layout(seed).dir.display(),
            stages.join(", ")
        );
    }
    println!("dry run: nothing was written");
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Run folders, experiment folders or globs (`runs/reach-*`): every run below them
    /// that finished (has `summary.json` beside `experiment.ron`).
    #[arg(required = true)]
    runs: Vec<String>,
}

pub fn run_compare(args: &CompareArgs) -> Result<()> {
    let summaries = prefrontal_runtime::compare_runs(&args.runs)?;
    print!("{}", compare(&summaries));
    Ok(())
}
