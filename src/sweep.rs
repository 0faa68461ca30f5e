//! `prefrontal sweep`: an experiment over a grid of values, each run a `prefrontal run` of
//! its resolved file, here N at a time or as the tasks of a Slurm job array; unfinished runs
//! are named with their logs, finished ones compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use prefrontal_runtime::experiment::compare;
use prefrontal_runtime::{Axis, Sweep};

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The `*.experiment.ron` file.
    file: PathBuf,
    /// A swept field and its values, e.g.
    /// `--grid 'world_model.objective.anti_collapse.Sigreg.weight=[0.05,0.2]'` (repeatable:
    /// every combination runs; values as `--set` takes them).
    #[arg(long = "grid", value_name = "PATH=[V1,V2,…]", required = true)]
    grid: Vec<Axis>,
    /// Overrides a field in every run, as `prefrontal run --set` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Where runs go: OUT/<name>.<field>-<value>…/seed-<s>/; the sweep's resolved files and
    /// logs go to OUT/.sweeps/<name>/.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Runs at once: local processes, or the array's task limit with --slurm.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: u32,
    /// Submit the unfinished runs as one Slurm job array (`sbatch`) and wait for it,
    /// instead of running them here.
    #[arg(long)]
    slurm: bool,
    /// An option for sbatch, e.g. `--sbatch=--partition=gpu --sbatch=--time=2:00:00`
    /// (repeatable; with --slurm).
    #[arg(
        long = "sbatch",
        value_name = "OPTION",
        allow_hyphen_values = true,
        requires = "slurm"
    )]
    sbatch: Vec<String>,
    /// List the runs and which are unfinished, and stop without writing anything.
    #[arg(long)]
    dry_run: bool,
}

pub fn run_sweep(args: &SweepArgs) -> Result<()> {
    let sweep = Sweep::expand(&args.file, &args.set, &args.grid, &args.out)?;
    let pending = sweep.pending()?;
    if args.dry_run {
        for (index, run) in sweep.runs.iter().enumerate() {
            let state = if pending.contains(&index) {
                "to run"
            } else {
                "finished"
            };
            println!("{} ({}): {state}", run.name, run.assignments.join(" "));
        }
        println!("dry run: nothing was written");
        return Ok(());
    }
    sweep.write_files()?;
    let total = sweep.runs.len();
    let unfinished = if pending.is_empty() {
        eprintln!("sweep {}: all {total} runs are finished", sweep.name);
        pending
    } else {
        eprintln!(
            "sweep {}: {} of {total} runs to run ({} finished); logs in {}",
            sweep.name,
            pending.len(),
            total - pending.len(),
            sweep.logs().display()
        );
        if args.slurm {
            submit_to_slurm(&sweep, &pending, args)?;
        } else {
            run_here(&sweep, &pending, args.jobs as usize)?;
        }
        sweep.pending()?
    };
    report(&sweep, &unfinished)
}

/// Runs `pending` as child processes, `jobs` at a time, each writing its log.
fn run_here(sweep: &Sweep, pending: &[usize], jobs: usize) -> Result<()> {
    let exe = std::env::current_exe().context("finding the prefrontal binary")?;
    let bar = ProgressBar::new(pending.len() as u64).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} runs {elapsed} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("sweep {}", sweep.name));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(pending.len()) {
            scope.spawn(|| {
                while let Some(&index) = pending.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let run = &sweep.runs[index];
                    bar.set_message(run.name.clone());
                    let outcome = run_one(&exe, sweep, &run.file, &sweep.log(run));
                    if let Err(error) = outcome {
                        bar.println(format!("{}: {error:#}", run.name));
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    Ok(())
}

/// One `prefrontal run FILE --out OUT`, its output in `log`.
fn run_one(exe: &Path, sweep: &Sweep, file: &Path, log: &Path) -> Result<()> {
    let output =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = Command::new(exe)
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(&sweep.out)
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        bail!("{status}; see {}", log.display());
    }
    Ok(())
}

/// Writes the array job's script, submits the `pending` runs as its tasks and waits until
/// the job has left the queue.
fn submit_to_slurm(sweep: &Sweep, pending: &[usize], args: &SweepArgs) -> Result<()> {
    let job_name = format!("prefrontal-{}", sweep.name);
    let queued = squeue(&["--name", &job_name])?;
    if let Some(ids) = queued.filter(|ids| !ids.is_empty()) {
        bail!(
            "Slurm still holds job(s) of this sweep ({}): wait for them or cancel them (scancel --name={job_name}) before submitting again",
            ids.join(", ")
        );
    }
    let exe = std::env::current_exe().context("finding the prefrontal binary")?;
    let script = sweep.dir.join("slurm.sh");
    let names: Vec<String> = sweep
        .runs
        .iter()
        .map(|run| shell_quote(&run.name))
        .collect();
    let text = format!(
        "#!/bin/bash\n\
         # Written by `prefrontal sweep`: array task i runs the sweep's i-th resolved experiment.\n\
         runs=({names})\n\
         run=\"${{runs[$SLURM_ARRAY_TASK_ID]}}\"\n\
         exec {exe} run {dir}/\"$run.experiment.ron\" --out {out} >{logs}/\"$run.log\" 2>&1\n",
        names = names.join(" "),
        exe = shell_quote(&exe.display().to_string()),
        dir = shell_quote(&sweep.dir.display().to_string()),
        out = shell_quote(&sweep.out.display().to_string()),
        logs = shell_quote(&sweep.logs().display().to_string()),
    );
    std::fs::write(&script, text).with_context(|| format!("writing {}", script.display()))?;
    for &index in pending {
        // A log left by an earlier attempt would be read as this one's.
        let _ = std::fs::remove_file(sweep.log(&sweep.runs[index]));
    }
    let tasks: Vec<String> = pending.iter().map(usize::to_string).collect();
    // `%` starts a file-name pattern in sbatch's --output: `%%` is a literal one.
    let logs = sweep.logs().display().to_string().replace('%', "%%");
    let submitted = Command::new("sbatch")
        .arg("--parsable")
        .arg(format!("--job-name={job_name}"))
        .arg(format!("--array={}%{}", tasks.join(","), args.jobs))
        .arg(format!("--output={logs}/slurm-%A_%a.out"))
        .args(&args.sbatch)
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .context("running sbatch: is Slurm installed and on PATH?")?;
    if !submitted.status.success() {
        bail!(
            "sbatch refused the job array ({}): {}",
            submitted.status,
            String::from_utf8_lossy(&submitted.stderr).trim()
        );
    }
    // `--parsable` prints `id` or `id;cluster`.
    let stdout = String::from_utf8_lossy(&submitted.stdout);
    let job = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    eprintln!(
        "job {job}: {} array task(s) submitted ({}); waiting for them",
        pending.len(),
        script.display()
    );
    // Poll the queue rather than `sbatch --wait`, which looks only every 32 s; whether each
    // run finished is read from its folder afterwards, not from Slurm's exit codes.
    let bar = ProgressBar::new_spinner().with_message(format!("waiting for Slurm job {job}"));
    loop {
        match squeue(&["--jobs", &job])? {
            // The job has left slurmctld's memory: it ended.
            None => break,
            Some(lines) if lines.is_empty() => break,
            Some(lines) => {
                bar.set_message(format!(
                    "Slurm job {job}: {} task line(s) queued or running",
                    lines.len()
                ));
            }
        }
        bar.tick();
        std::thread::sleep(std::time::Duration::from_secs(POLL_SECONDS));
    }
    bar.finish_and_clear();
    Ok(())
}

/// Seconds between two looks at the queue.
const POLL_SECONDS: u64 = 5;

/// The job ids `squeue` lists for `filter`, or `None` when it says the job id is unknown
/// (the job has ended); other failures are retried a few times, then an error.
fn squeue(filter: &[&str]) -> Result<Option<Vec<String>>> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_secs(POLL_SECONDS));
        }
        let output = Command::new("squeue")
            .args(["--noheader", "--format=%i"])
            .args(filter)
            .stdin(Stdio::null())
            .output()
            .context("running squeue: is Slurm installed and on PATH?")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            let stdout = String::from_utf8_lossy(&output.stdout);
            return Ok(Some(stdout.lines().map(str::to_owned).collect()));
        }
        if stderr.contains("Invalid job id") {
            return Ok(None);
        }
        last = stderr.trim().to_owned();
    }
    bail!("squeue failed five times: {last}")
}

/// `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Names each run of `pending` (the unfinished ones) with its log's last line, compares the
/// others, and fails when any run is unfinished.
fn report(sweep: &Sweep, pending: &[usize]) -> Result<()> {
    let finished: Vec<String> = sweep
        .run_dirs()
        .iter()
        .enumerate()
        .filter(|(index, _)| !pending.contains(index))
        .map(|(_, dir)| dir.display().to_string())
        .collect();
    if !finished.is_empty() {
        let summaries = prefrontal_runtime::compare_runs(&finished)?;
        print!("{}", compare(&summaries));
    }
    if pending.is_empty() {
        return Ok(());
    }
    for &index in pending {
        let run = &sweep.runs[index];
        let log = sweep.log(run);
        let last = std::fs::read_to_string(&log)
            .ok()
            .and_then(|text| {
                text.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| {
                "no log yet (a Slurm task's own output is in slurm-*.out beside the logs)"
                    .to_owned()
            });
        eprintln!("unfinished: {} — {last} ({})", run.name, log.display());
    }
    bail!(
        "{} of {} runs did not finish; run the same command again to run only those",
        pending.len(),
        sweep.runs.len()
    )
}
