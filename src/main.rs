//! The `prefrontal` command line: one binary for scenes, simulation and benchmarks.

mod bench;
mod choices;
mod data;
mod device_check;
mod eval;
mod interrupt;
mod progress;
mod run;
mod sweep;
mod train;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use prefrontal_sim::policy::{Policy, PolicyKind};
use prefrontal_sim::{Scene, VecEnv};

/// Prefrontal: embodied world-model research in one binary.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with scene files.
    Scene {
        #[command(subcommand)]
        command: SceneCommand,
    },
    /// Run a headless rollout and print reward and success statistics.
    Sim(SimArgs),
    /// Record rendered episodes into a dataset (created, or appended to).
    Collect(data::CollectArgs),
    /// Inspect datasets.
    Dataset {
        #[command(subcommand)]
        command: DatasetCommand,
    },
    /// Train an action-conditioned JEPA world model on a dataset (or resume a run).
    Train(train::TrainArgs),
    /// Fit a linear probe from a checkpoint's latents to privileged state; print R².
    Probe(train::ProbeArgs),
    /// Plan toward goals in closed loop with a trained world model; compare with baselines.
    Eval(eval::EvalArgs),
    /// Run an experiment file: collect → train → probe → evaluate → report, per seed;
    /// finished stages with unchanged inputs are skipped, killed training resumes.
    Run(run::RunArgs),
    /// Open a window on a scene: drive it by hand, or watch a trained agent imagine, plan
    /// and act (--run, or --checkpoint with --agent).
    View(view::ViewArgs),
    /// Compare finished runs: a Markdown table of their final metrics.
    Compare(run::CompareArgs),
    /// Run an experiment over a grid of values (here N at a time, or as a Slurm job array);
    /// only unfinished runs run again, finished ones are compared.
    Sweep(sweep::SweepArgs),
    /// Check a backend (a GPU's, LibTorch's) against the CPU's: train and plan a few steps on
    /// both from the same seeded model and compare (exit status 1 beyond the tolerances).
    CheckDevice(device_check::CheckDeviceArgs),
    /// Measure throughput and print a table.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SceneCommand {
    /// Validate a scene file and summarise it.
    Check {
        /// The `*.scene.ron` file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DatasetCommand {
    /// Counts, sizes, action and state statistics; names unreadable shards.
    Info {
        /// The dataset folder.
        dir: PathBuf,
    },
    /// Write one episode's frames as PNG files or a GIF.
    ExportFrames(data::ExportArgs),
    /// Write the whole dataset in another library's format (stable-worldmodel's HDF5, the
    /// data LeWorldModel trains on).
    Export(data::ExportDatasetArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Physics-only env-steps per second for every scene, with 1 and 16 environments.
    Sim(bench::SimBenchArgs),
    /// Rendered, read-back frames per second at several sizes and environment counts.
    Render(bench::RenderBenchArgs),
    /// World-model training samples/s and encoder/predictor forward latency.
    Train(bench::TrainBenchArgs),
    /// Milliseconds per planning call (CEM, MPPI, gradient) with the default model.
    Plan(bench::PlanBenchArgs),
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    /// The `*.scene.ron` file.
    file: PathBuf,
    /// Control steps per environment.
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    /// Seed of the first environment's first episode; environment i uses seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of environments stepping together.
    #[arg(long, default_value_t = 1)]
    envs: usize,
    /// The action source.
    #[arg(long, value_parser = choices::policy(), default_value = PolicyKind::Random.name())]
    policy: PolicyKind,
}

/// Tensor code allocates and frees large buffers at every operation; glibc's allocator
/// returns them to the system each time (page faults on every reuse), mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Mesa's software Vulkan (lavapipe) renders our small frames fastest on the calling
    // thread: handing tiles to worker threads costs more than it saves (measured: 1,965 vs
    // 957 frames/s at 64×64 with 16 envs on 2 cores). GPU drivers ignore the variable.
    if std::env::var_os("LP_NUM_THREADS").is_none() {
        // SAFETY: nothing else runs yet: main has started no thread.
        unsafe { std::env::set_var("LP_NUM_THREADS", "0") };
    }
    // Mesa's window-system code prints an error line for every renderer when
    // XDG_RUNTIME_DIR is unset, though headless rendering never uses it.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: as above, no other thread runs yet.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Scene {
            command: SceneCommand::Check { file },
        } => check_scene(&file),
        Command::Sim(args) => run_sim(&args),
        Command::Collect(args) => data::run_collect(&args),
        Command::Dataset {
            command: DatasetCommand::Info { dir },
        } => data::run_info(&dir),
        Command::Dataset {
            command: DatasetCommand::ExportFrames(args),
        } => data::run_export(&args),
        Command::Dataset {
            command: DatasetCommand::Export(args),
        } => data::run_export_dataset(&args),
        Command::Train(args) => train::run_train(&args),
        Command::Probe(args) => train::run_probe(&args),
        Command::Eval(args) => eval::run_eval(&args),
        Command::Run(args) => run::run_experiment(&args),
        Command::View(args) => view::run_view(&args),
        Command::Compare(args) => run::run_compare(&args),
        Command::Sweep(args) => sweep::run_sweep(&args),
        Command::CheckDevice(args) => device_check::run_check_device(&args),
        Command::Bench {
            command: BenchCommand::Plan(args),
        } => bench::run_plan_bench(&args),
        Command::Bench {
            command: BenchCommand::Sim(args),
        } => bench::run_sim_bench(&args),
        Command::Bench {
            command: BenchCommand::Train(args),
        } => bench::run_train_bench(&args),
        Command::Bench {
            command: BenchCommand::Render(args),
        } => bench::run_render_bench(&args),
    }
}

fn check_scene(file: &PathBuf) -> Result<()> {
    let scene = Scene::load(file)?;
    let env = VecEnv::new(scene, 1)?;
    let scene = env.scene();
    let space = env.observation_space();
    println!("{}: ok", file.display());
    println!("  scene        {} — {}", scene.name, scene.description);
    println!(
        "  clock        {} Hz control, {} physics substeps ({} Hz)",
        scene.physics.control_hz,
        scene.physics.substeps,
        scene.physics.control_hz * scene.physics.substeps as f32
    );
    let bodies: Vec<String> = scene
        .bodies
        .iter()
        .map(|b| format!("{} ({:?})", b.name, b.kind))
        .collect();
    println!("  bodies       {}", bodies.join(", "));
    let joints: Vec<&str> = scene.joints.iter().map(|j| j.name.as_str()).collect();
    println!(
        "  joints       {}",
        if joints.is_empty() {
            "none".into()
        } else {
            joints.join(", ")
        }
    );
    let actions = env.action_space();
    println!(
        "  actions      {} dims: {}",
        actions.dim(),
        actions.names.join(", ")
    );
    println!(
        "  proprio      {} dims: {}",
        space.proprio.dim(),
        space.proprio.names.join(", ")
    );
    println!("  state        {} dims", space.state.dim());
    for camera in &scene.cameras {
        println!(
            "  camera       {} {}×{} fov {}°",
            camera.name, camera.width, camera.height, camera.fov_degrees
        );
    }
    let targets: Vec<String> = scene
        .task
        .targets
        .iter()
        .map(|t| match t.yaw_tolerance {
            Some(yaw) => format!(
                "{} within {} m and {} rad",
                t.body, t.position_tolerance, yaw
            ),
            None => format!("{} within {} m", t.body, t.position_tolerance),
        })
        .collect();
    println!(
        "  task         {}; at most {} steps",
        targets.join(", "),
        scene.task.max_steps
    );
    Ok(())
}

fn run_sim(args: &SimArgs) -> Result<()> {
    anyhow::ensure!(args.envs >= 1, "--envs must be at least 1");
    let scene = Scene::load(&args.file)?;
    let mut env = VecEnv::new(scene, args.envs)?;
    let seeds: Vec<u64> = (0..args.envs as u64).map(|i| args.seed + i).collect();
    env.reset(&seeds)?;
    let space = env.action_space();
    let mut policies: Vec<Policy> = seeds
        .iter()
        .map(|&s| Policy::new(args.policy, &space, s))
        .collect();
    let mut returns = vec![0.0_f64; args.envs];
    let (mut episodes, mut successes) = (0_u64, 0_u64);
    let mut final_distances = Vec::new();
    let mut completed_returns = Vec::new();
    let start = std::time::Instant::now();
    for _ in 0..args.steps {
        let actions: Vec<_> = policies
            .iter_mut()
            .enumerate()
            .map(|(i, policy)| policy.act(env.sim(), i))
            .collect();
        let steps = env.step(&actions).context("stepping the environments")?;
        for (env_index, step) in steps.iter().enumerate() {
            returns[env_index] += f64::from(step.reward);
            if step.terminated || step.truncated {
                policies[env_index].restart();
                episodes += 1;
                successes += u64::from(step.terminated);
                final_distances.push(f64::from(step.info.distance));
                completed_returns.push(std::mem::take(&mut returns[env_index]));
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let total = args.steps * args.envs as u64;
    println!(
        "{} env-steps in {elapsed:.2} s ({:.0} env-steps/s), {} envs, policy {:?}, seed {}",
        total,
        total as f64 / elapsed,
        args.envs,
        args.policy,
        args.seed
    );
    if episodes == 0 {
        println!(
            "no episode ended; raise --steps beyond the task's {} steps",
            env.scene().task.max_steps
        );
        return Ok(());
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    println!(
        "episodes {episodes}, success rate {:.3}, mean return {:.2}, mean final distance {:.3} m",
        successes as f64 / episodes as f64,
        mean(&completed_returns),
        mean(&final_distances)
    );
    Ok(())
}
