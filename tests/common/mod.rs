//! Running the `prefrontal` binary from tests. Each test binary uses a subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `prefrontal ARGS`, to run in the repository root.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prefrontal"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs `prefrontal ARGS` in the repository root and waits for it.
pub fn prefrontal(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn run_ok(args: &[&str]) -> String {
    succeeded(args, prefrontal(args))
}

/// The output of `prefrontal ARGS`, which must have succeeded.
fn succeeded(args: &[&str], output: Output) -> String {
    let text = text(&output);
    assert!(
        output.status.success(),
        "prefrontal {args:?} failed:\n{text}"
    );
    text
}

/// Runs `prefrontal ARGS`, which must fail, and returns its output.
pub fn run_failing(args: &[&str]) -> String {
    let output = prefrontal(args);
    let text = text(&output);
    assert!(
        !output.status.success(),
        "prefrontal {args:?} succeeded:\n{text}"
    );
    text
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prefrontal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn collect(dir: &Path, episodes: &str) -> String {
    let data = dir.join("data");
    run_ok(&[
        "collect",
        "--scene",
        "scenes/reach.scene.ron",
        "--episodes",
        episodes,
        "--steps",
        "100",
        "--seed",
        "1",
        "--policy",
        "smooth",
        "--envs",
        "16",
        "--out",
        data.to_str().unwrap(),
    ]);
    data.to_str().unwrap().to_owned()
}

/// The number after `label` in `text`.
pub fn number_after(text: &str, label: &str) -> f64 {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        + label.len();
    text[start..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in:\n{text}"))
}

/// Waits until `path` exists (e.g. a checkpoint of a running child), at most `seconds`.
pub fn wait_for_file(path: &Path, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Runs `prefrontal ARGS` on a private virtual X display (Xvfb, installed by
/// `scripts/setup.sh`), as a window needs; the display ends with the command.
pub fn prefrontal_on_display(args: &[&str]) -> Output {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let number = 200 + (std::process::id() % 300) * 8 + NEXT.fetch_add(1, Ordering::Relaxed) % 8;
    let display = format!(":{number}");
    let mut server = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Xvfb runs (scripts/setup.sh installs it)");
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
    wait_for_file(&socket, 20);
    let output = command(args)
        .env("DISPLAY", &display)
        .output()
        .expect("the binary runs");
    let _ = server.kill();
    let _ = server.wait();
    output
}

/// Runs `prefrontal ARGS` on a virtual display; it must succeed.
pub fn run_on_display_ok(args: &[&str]) -> String {
    succeeded(args, prefrontal_on_display(args))
}

/// A PNG's size and RGB pixels.
pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let image = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    (image.width(), image.height(), image.into_raw())
}

/// Pixels of an RGB image (`width` wide) within the rectangle `[x0, x1) × [y0, y1)`.
pub fn region(pixels: &[u8], width: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Vec<[u8; 3]> {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (y * width + x) as usize * 3))
        .map(|i| [pixels[i], pixels[i + 1], pixels[i + 2]])
        .collect()
}

/// How many of `pixels` are within `tolerance` (per channel) of `color`.
pub fn count_near(pixels: &[[u8; 3]], color: [u8; 3], tolerance: u8) -> usize {
    pixels
        .iter()
        .filter(|p| (0..3).all(|c| p[c].abs_diff(color[c]) <= tolerance))
        .count()
}

/// `prefrontal train` on `data` with the world-model `config` into `out`, `steps` long
/// when given (the config's otherwise); it must succeed.
pub fn train(data: &str, config: &str, out: &str, steps: Option<&str>) -> String {
    let mut args = vec!["train", "--data", data, "--config", config, "--out", out];
    if let Some(steps) = steps {
        args.extend(["--steps", steps]);
    }
    run_ok(&args)
}
