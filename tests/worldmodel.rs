//! The world model end to end on rendered `reach` data: collect, train, probe, kill and resume.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::prefrontal;
use std::time::{Duration, Instant};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_ok(args: &[&str]) -> String {
    let output = prefrontal(args);
    let text = text(&output);
    assert!(
        output.status.success(),
        "prefrontal {args:?} failed:\n{text}"
    );
    text
}

/// Runs `prefrontal ARGS`, which must fail, and returns its output.
fn run_failing(args: &[&str]) -> String {
    let output = prefrontal(args);
    let text = text(&output);
    assert!(
        !output.status.success(),
        "prefrontal {args:?} succeeded:\n{text}"
    );
    text
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prefrontal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn collect(dir: &Path, episodes: &str) -> String {
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
fn number_after(text: &str, label: &str) -> f64 {
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

#[test]
fn the_default_model_learns_reach_dynamics_and_agent_position() {
    let dir = scratch("reach-train");
    let data = collect(&dir, "64");
    let run = dir.join("run");
    let run = run.to_str().unwrap();
    run_ok(&[
        "train",
        "--data",
        &data,
        "--config",
        "configs/reach.worldmodel.ron",
        "--out",
        run,
        "--steps",
        "300",
    ]);
    let probe = run_ok(&["probe", "--checkpoint", run, "--data", &data]);
    for target in ["agent.pos.x", "agent.pos.z"] {
        let r2 = number_after(&probe, &format!("| {target} |"));
        assert!(r2 >= 0.9, "probe R² of {target} is {r2}:\n{probe}");
    }
    let predicted = number_after(&probe, "val loss_pred");
    let no_change = number_after(&probe, "(no-change");
    assert!(
        predicted < 0.6 * no_change,
        "prediction {predicted} vs no-change {no_change}:\n{probe}"
    );
    let std = number_after(&probe, "latent std");
    assert!(std > 0.3, "latent std {std}:\n{probe}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn training_killed_mid_run_resumes_from_its_last_checkpoint() {
    let dir = scratch("reach-kill");
    let data = collect(&dir, "8");
    let config = dir.join("quick.ron");
    std::fs::write(
        &config,
        "(model: (encoder: Cnn(channels: [8, 16, 16, 16]), latent_dim: 32, projector: Some(64)),
          training: (steps: 400, batch_size: 4, checkpoint_every: 3, eval_every: 1000))",
    )
    .unwrap();
    let run = dir.join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prefrontal"))
        .args([
            "train",
            "--data",
            &data,
            "--config",
            config.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = run.join("checkpoints/step-00000003");
    while !first.join("state.json").exists() {
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = run_ok(&[
        "train",
        "--data",
        &data,
        "--out",
        run.to_str().unwrap(),
        "--resume",
        "--steps",
        "12",
    ]);
    assert!(out.contains("resuming at step"), "{out}");
    let resumed_at = number_after(&out, "resuming at step");
    assert!(resumed_at >= 3.0 && resumed_at % 3.0 == 0.0, "{out}");
    assert!(out.contains("done: step 12"), "{out}");
    // A second fresh run into the same folder is refused, and nothing is lost.
    let refused = run_failing(&[
        "train",
        "--data",
        &data,
        "--config",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(refused.contains("already holds a run"), "{refused}");
    assert!(run.join("checkpoints/step-00000012/model.mpk").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn probing_a_checkpoint_with_data_of_another_shape_is_refused() {
    let dir = scratch("reach-mismatch");
    let data = collect(&dir, "4");
    let other = dir.join("other");
    run_ok(&[
        "collect",
        "--scene",
        "scenes/reacher.scene.ron",
        "--episodes",
        "4",
        "--steps",
        "40",
        "--seed",
        "1",
        "--size",
        "32",
        "--out",
        other.to_str().unwrap(),
    ]);
    let config = dir.join("tiny.ron");
    std::fs::write(&config, "(model: (encoder: Cnn(channels: [8]), latent_dim: 8, projector: None, history: 1, frameskip: 1), training: (steps: 1, batch_size: 2))").unwrap();
    let run = dir.join("run");
    run_ok(&[
        "train",
        "--data",
        &data,
        "--config",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    let message = run_failing(&[
        "probe",
        "--checkpoint",
        run.to_str().unwrap(),
        "--data",
        other.to_str().unwrap(),
    ]);
    assert!(
        message.contains("does not fit the data")
            && message.contains("frames are 64×64 there, 32×32 here"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
