//! `prefrontal bench sim`: physics-only throughput of every scene.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prefrontal_sim::policy::RandomPolicy;
use prefrontal_sim::{Action, Scene, VecEnv};

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

/// Env-steps per second of `envs` environments under random actions (auto-reset on).
fn measure(scene: &Scene, envs: usize, seconds: f64) -> Result<f64> {
    let mut env = VecEnv::new(scene.clone(), envs)?;
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

pub fn run_sim_bench(args: &SimBenchArgs) -> Result<()> {
    let files = scene_files(&args.scenes)?;
    print!("| scene |");
    for envs in &args.envs {
        print!(
            " {envs} env{} (env-steps/s) |",
            if *envs == 1 { "" } else { "s" }
        );
    }
    println!();
    println!("|---|{}", "---:|".repeat(args.envs.len()));
    for file in files {
        let scene = Scene::load(&file)?;
        print!("| {} |", scene.name);
        for &envs in &args.envs {
            let rate = measure(&scene, envs, args.seconds)?;
            print!(" {rate:.0} |");
        }
        println!();
    }
    Ok(())
}
