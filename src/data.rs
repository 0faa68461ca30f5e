//! `prefrontal collect` and `prefrontal dataset …`: recording and inspecting datasets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::RgbImage;
use prefrontal_dataset::{ComponentStats, Dataset};
use prefrontal_runtime::CollectRequest;
use prefrontal_sim::policy::PolicyKind;
use prefrontal_sim::{Frame, RenderOptions};

use crate::choices;
use crate::progress::{Progress, Reporter};

#[derive(Debug, clap::Args)]
pub struct CollectArgs {
    /// The `*.scene.ron` file.
    #[arg(long)]
    scene: PathBuf,
    /// Episodes to record (added to what the dataset holds).
    #[arg(long, default_value_t = 100)]
    episodes: usize,
    /// Most actions per episode; episodes also end at success or the task's step limit.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Episode e of this collection uses seed + e.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The action source.
    #[arg(long, value_parser = choices::policy(), default_value = PolicyKind::Smooth.name())]
    policy: PolicyKind,
    /// Worlds stepping (and rendering) together.
    #[arg(long, default_value_t = 16)]
    envs: usize,
    /// The dataset folder (created, or appended to).
    #[arg(long)]
    out: PathBuf,
    /// The scene camera to render (default: the first).
    #[arg(long)]
    camera: Option<String>,
    /// Frame width and height in pixels (default: the camera's).
    #[arg(long)]
    size: Option<u32>,
}

pub fn run_collect(args: &CollectArgs) -> Result<()> {
    let request = CollectRequest {
        policies: vec![(args.policy, args.episodes)],
        steps: args.steps,
        seed: args.seed,
        envs: args.envs,
        render: RenderOptions {
            camera: args.camera.clone(),
            resolution: args.size.map(|s| (s, s)),
        },
        out: args.out.clone(),
    };
    let mut reporter = Reporter::default();
    let summary =
        prefrontal_runtime::collect(&args.scene, &request, &mut |event| reporter.observe(event))?;
    let dataset = Dataset::open(&args.out)?;
    println!(
        "{}: added {} episodes ({} steps, {} reached the goal); the dataset holds {} episodes",
        args.out.display(),
        summary.episodes,
        summary.steps,
        summary.successes,
        dataset.index().episodes.len()
    );
    Ok(())
}

fn folder_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => folder_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn print_stats(title: &str, names: &[String], stats: &ComponentStats) {
    println!("{title}");
    println!(
        "  {:<24} {:>10} {:>10} {:>10} {:>10}",
        "component", "mean", "std", "min", "max"
    );
    for (i, name) in names.iter().enumerate() {
        println!(
            "  {:<24} {:>10.4} {:>10.4} {:>10.4} {:>10.4}",
            name,
            stats.mean[i],
            stats.std()[i],
            stats.min[i],
            stats.max[i]
        );
    }
}

pub fn run_info(dir: &Path) -> Result<()> {
    let dataset = Dataset::open(dir)?;
    let index = dataset.index();
    let header = &index.header;
    let episodes = &index.episodes;
    let steps: usize = episodes.iter().map(|e| e.steps).sum();
    let successes = episodes.iter().filter(|e| e.success).count();
    println!("{}: format version {}", dir.display(), index.format_version);
    println!(
        "  scene        {} ({} Hz control)",
        header.scene, header.control_hz
    );
    println!(
        "  frames       {}×{} RGB from camera \"{}\"",
        header.frame.width, header.frame.height, header.frame.camera
    );
    println!(
        "  episodes     {} ({} steps, {} frames)",
        episodes.len(),
        steps,
        steps + episodes.len()
    );
    println!(
        "  success      {} of {} episodes end at the goal",
        successes,
        episodes.len()
    );
    let mut policies: Vec<&str> = episodes.iter().map(|e| e.policy.as_str()).collect();
    policies.sort_unstable();
    policies.dedup();
    println!("  policies     {}", policies.join(", "));
    println!(
        "  size         {:.1} MiB on disk",
        folder_size(dir) as f64 / (1024.0 * 1024.0)
    );
    let mut actions = ComponentStats::new(header.action.names.len());
    let mut state = ComponentStats::new(header.state_names.len());
    let mut broken = Vec::new();
    for position in 0..episodes.len() {
        match dataset.read_episode(position) {
            Ok(episode) => {
                actions.add_rows(&episode.actions);
                state.add_rows(&episode.state);
            }
            Err(err) => broken.push(err.to_string()),
        }
    }
    if actions.count > 0 {
        print_stats("actions", &header.action.names, &actions);
        print_stats("state", &header.state_names, &state);
    }
    if !broken.is_empty() {
        println!("{} unreadable shards (the others were read):", broken.len());
        for err in &broken {
            println!("  {err}");
        }
        anyhow::bail!(
            "{} of {} shards are unreadable",
            broken.len(),
            episodes.len()
        );
    }
    Ok(())
}

/// How exported frames are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FrameFormat {
    /// One PNG per frame.
    Png,
    /// One animated GIF at the control rate.
    Gif,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The dataset folder.
    dir: PathBuf,
    /// Index of the episode to export.
    #[arg(long)]
    episode: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// PNG files or one GIF.
    #[arg(long, value_enum, default_value_t = FrameFormat::Png)]
    format: FrameFormat,
}

pub fn run_export(args: &ExportArgs) -> Result<()> {
    let dataset = Dataset::open(&args.dir)?;
    let index = dataset.index();
    let position = index
        .episodes
        .iter()
        .position(|e| e.index == args.episode)
        .with_context(|| {
            format!(
                "{}: no episode {} (the dataset holds {})",
                args.dir.display(),
                args.episode,
                index.episodes.len()
            )
        })?;
    let episode = dataset.read_episode(position)?;
    let (width, height) = (index.header.frame.width, index.header.frame.height);
    let frame_bytes = (width * height * 3) as usize;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let images = episode.frames.chunks_exact(frame_bytes).map(|pixels| {
        RgbImage::from_raw(width, height, pixels.to_vec()).expect("frame size matches the header")
    });
    match args.format {
        FrameFormat::Png => {
            let mut count = 0;
            for (t, image) in images.enumerate() {
                let path = args.out.join(format!("frame_{t:04}.png"));
                image
                    .save(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
                count += 1;
            }
            println!("wrote {count} PNG frames to {}", args.out.display());
        }
        FrameFormat::Gif => {
            let path = args.out.join(format!("episode_{:06}.gif", args.episode));
            let frames = episode
                .frames
                .chunks_exact(frame_bytes)
                .map(|pixels| Frame {
                    width,
                    height,
                    pixels: pixels.to_vec(),
                });
            prefrontal_sim::frame::write_gif(&path, frames, index.header.control_hz)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Formats a whole dataset can be exported to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetFormat {
    /// stable-worldmodel 0.1.1's HDF5 file: columns concatenated over episodes.
    SwmHdf5,
}

#[derive(Debug, clap::Args)]
pub struct ExportDatasetArgs {
    /// The dataset folder.
    dir: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    format: DatasetFormat,
    /// The file to write (e.g. `data.h5`).
    #[arg(long)]
    out: PathBuf,
    /// Resize frames to SIZE×SIZE pixels (bilinear); the dataset's size by default.
    #[arg(long)]
    size: Option<u32>,
}

pub fn run_export_dataset(args: &ExportDatasetArgs) -> Result<()> {
    let DatasetFormat::SwmHdf5 = args.format;
    let mut bar: Option<Progress> = None;
    let summary =
        prefrontal_export::write_swm_hdf5(&args.dir, &args.out, args.size, |done, total| {
            bar.get_or_insert_with(|| Progress::new("export", total as u64, "episodes"))
                .set(done as u64, String::new());
        })?;
    if let Some(bar) = bar {
        bar.finish();
    }
    println!(
        "wrote {}: {} episodes, {} rows, frames {}×{} (stable-worldmodel HDF5)",
        args.out.display(),
        summary.episodes,
        summary.rows,
        summary.frame.1,
        summary.frame.0
    );
    Ok(())
}
