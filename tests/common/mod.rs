//! Running the `prefrontal` binary from tests. Each test binary uses a subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `prefrontal ARGS` in the repository root and waits for it.
pub fn prefrontal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prefrontal"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn run_ok(args: &[&str]) -> String {
    let output = prefrontal(args);
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
