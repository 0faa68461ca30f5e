//! The world model through the binary: kill and resume, mismatched data.

mod common;

use std::process::Stdio;

use common::{collect, command, number_after, run_failing, run_ok, scratch, train, wait_for_file};

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
    let mut child = command(&[
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
    wait_for_file(&run.join("checkpoints/step-00000003/state.json"), 120);
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
    train(&data, config.to_str().unwrap(), run.to_str().unwrap(), None);
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
