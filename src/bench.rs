//! `prefrontal bench sim`: physics-only throughput of every scene.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prefrontal_sim::policy::RandomPolicy;
use prefrontal_sim::{Action, RenderOptions, Scene, VecEnv};

#[derive(Debug, clap::Args)]
pub struct SimBenchArgs {
    /// Folder of `*.scene.ron` files to measure.
    #[arg(long, default_value = "scenes")]
    scenes: PathBuf,
    /// Environment counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    envs: Vec<usize>,
    /// Seconds of stepping per measurement, after a warm-up.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

/// Scene files in a folder, sorted by name.
fn scene_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".scene.ron"))
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no *.scene.ron files in {}",
        folder.display()
    );
    Ok(files)
}

#[derive(Debug, clap::Args)]
pub struct RenderBenchArgs {
    /// The scene to render.
    #[arg(long, default_value = "scenes/push.scene.ron")]
    scene: PathBuf,
    /// Environment counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    envs: Vec<usize>,
    /// Square frame sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "64,128")]
    sizes: Vec<u32>,
    /// Seconds of stepping per measurement, after a warm-up.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

/// Prints the head of a Markdown table with one column per environment count.
fn print_header(first: &str, unit: &str, envs: &[usize]) {
    print!("| {first} |");
    for n in envs {
        print!(" {n} env{} ({unit}) |", if *n == 1 { "" } else { "s" });
    }
    println!();
    println!("|---|{}", "---:|".repeat(envs.len()));
}

/// Env-steps per second of `env` under random actions (auto-reset on).
fn measure(mut env: VecEnv, seconds: f64) -> Result<f64> {
    let envs = env.num_envs();
    let seeds: Vec<u64> = (0..envs as u64).collect();
    env.reset(&seeds)?;
    let space = env.action_space();
    let mut policies: Vec<RandomPolicy> = seeds
        .iter()
        .map(|&s| RandomPolicy::new(&space, s))
        .collect();
    let mut act = || -> Vec<Action> { policies.iter_mut().map(RandomPolicy::act).collect() };
    for _ in 0..20 {
        env.step(&act())?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut steps = 0_u64;
    while start.elapsed() < budget {
        env.step(&act())?;
        steps += 1;
    }
    Ok((steps * envs as u64) as f64 / start.elapsed().as_secs_f64())
}

pub fn run_render_bench(args: &RenderBenchArgs) -> Result<()> {
    let scene = Scene::load(&args.scene)?;
    println!(
        "rendered, read-back frames/s of scene \"{}\", physics included",
        scene.name
    );
    print_header("frame", "frames/s", &args.envs);
    for &size in &args.sizes {
        print!("| {size}×{size} |");
        for &envs in &args.envs {
            let options = RenderOptions {
                camera: None,
                resolution: Some((size, size)),
            };
            let env = VecEnv::with_rendering(scene.clone(), envs, options)?;
            print!(" {:.0} |", measure(env, args.seconds)?);
        }
        println!();
    }
    Ok(())
}

pub fn run_sim_bench(args: &SimBenchArgs) -> Result<()> {
    let files = scene_files(&args.scenes)?;
    print_header("scene", "env-steps/s", &args.envs);
    for file in files {
        let scene = Scene::load(&file)?;
        print!("| {} |", scene.name);
        for &envs in &args.envs {
            let rate = measure(VecEnv::new(scene.clone(), envs)?, args.seconds)?;
            print!(" {rate:.0} |");
        }
        println!();
    }
    Ok(())
}
