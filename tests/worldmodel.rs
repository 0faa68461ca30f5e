//! The world model through the binary: kill or Ctrl-C and resume, mismatched data, other
//! backends.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::{
    collect, command, events_in, number_after, run_failing, run_ok, scalars, scratch, train,
    train_args, wait_for_file,
};

/// Resumes the run in `run` to its end and returns the output.
fn resume(data: &str, config: &str, run: &Path) -> String {
    let mut args = train_args(data, config, run.to_str().unwrap());
    args.push("--resume");
    run_ok(&args)
}

/// Starts `train` and waits for its step-3 checkpoint.
fn start_training(data: &str, config: &str, run: &Path) -> Child {
    let child = command(&train_args(data, config, run.to_str().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&run.join("checkpoints/step-00000003/state.json"), 120);
    child
}

/// Starts `train`, waits for its step-3 checkpoint, then sends `signal` (`KILL` or `INT`).
fn train_until_signalled(data: &str, config: &str, run: &Path, signal: &str) -> Output {
    let child = start_training(data, config, run);
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
    child.wait_with_output().unwrap()
}

/// Every `train/loss` a run wrote must equal, to the bit, the uninterrupted run's at the same
/// step (steps run twice, before a kill and after the resume, both count), and every step
/// after `resumed_at` must be there (a kill loses the events not yet flushed before it).
fn assert_same_losses(run: &Path, resumed_at: f64, reference: &BTreeMap<i64, f32>) {
    let losses = scalars(&events_in(run), "train/loss");
    for step in resumed_at as i64 + 1..=40 {
        assert!(
            losses.iter().any(|(s, _)| *s == step),
            "{}: no loss at step {step}: {losses:?}",
            run.display()
        );
    }
    for (step, loss) in losses {
        assert_eq!(
            loss.to_bits(),
            reference[&step].to_bits(),
            "{}: loss at step {step}: {loss} vs uninterrupted {}",
            run.display(),
            reference[&step]
        );
    }
}

#[test]
fn killed_or_interrupted_training_resumes_with_the_uninterrupted_losses() {
    let dir = scratch("reach-kill");
    let data = collect(&dir, "8");
    let config = dir.join("quick.ron");
    // Steps long enough (batch 16) that a signal lands long before step 40.
    std::fs::write(
        &config,
        "(model: (encoder: Cnn(channels: [8, 16, 16, 16]), latent_dim: 32, projector: Some(64)),
          training: (steps: 40, batch_size: 16, checkpoint_every: 3, eval_every: 1000, log_every: 1))",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let whole = dir.join("whole");
    train(&data, config, whole.to_str().unwrap(), None);
    let reference: BTreeMap<i64, f32> = scalars(&events_in(&whole), "train/loss")
        .into_iter()
        .collect();
    assert_eq!(reference.len(), 40);

    // Killed: the run resumes from its last checkpoint.
    let killed = dir.join("killed");
    let output = train_until_signalled(&data, config, &killed, "KILL");
    assert!(
        !output.status.success(),
        "the kill landed before the run ended"
    );
    let out = resume(&data, config, &killed);
    let resumed_at = number_after(&out, "resuming at step");
    assert!(resumed_at >= 3.0 && resumed_at % 3.0 == 0.0, "{out}");
    assert!(out.contains("done: step 40"), "{out}");
    assert_same_losses(&killed, resumed_at, &reference);

    // Ctrl-C: a checkpoint at the step it stopped, a clean exit, the same losses after resume.
    let interrupted = dir.join("interrupted");
    let output = train_until_signalled(&data, config, &interrupted, "INT");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stopped = number_after(&stderr, "interrupted at step");
    assert!((3.0..40.0).contains(&stopped), "{stderr}");
    let checkpoint = interrupted.join(format!("checkpoints/step-{:08}/model.mpk", stopped as u64));
    assert!(checkpoint.exists(), "{stderr}");
    let out = resume(&data, config, &interrupted);
    assert_eq!(number_after(&out, "resuming at step"), stopped, "{out}");
    assert_same_losses(&interrupted, stopped, &reference);

    // The run folder removed under a running training: its TensorBoard events cannot be
    // written, which ends the run with one line naming the event file, after the last
    // checkpoint landed in the folder the checkpoint writer made again.
    let removed = dir.join("removed");
    let child = start_training(&data, config, &removed);
    std::fs::remove_dir_all(&removed).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(!output.status.success(), "{stderr}");
    assert!(
        last.starts_with("error: TensorBoard events")
            && last.contains(removed.to_str().unwrap())
            && last.contains("removed"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        removed.join("checkpoints/step-00000040/model.mpk").exists(),
        "{stderr}"
    );

    // A second fresh run into the same folder is refused, and nothing is lost.
    let refused = run_failing(&train_args(&data, config, killed.to_str().unwrap()));
    assert!(refused.contains("already holds a run"), "{refused}");
    assert!(killed.join("checkpoints/step-00000040/model.mpk").exists());
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

/// The GPU code path without a GPU: `scripts/gpu-check.sh` on the wgpu backend (Mesa's
/// lavapipe), with this build's binary: the backend trains and plans as the CPU does, and the
/// benches run (on the CPU: on lavapipe they would measure nothing of a GPU).
#[cfg(feature = "wgpu")]
#[test]
fn the_gpu_check_passes_on_the_wgpu_backend() {
    let output = std::process::Command::new("bash")
        .args(["scripts/gpu-check.sh", "wgpu"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PREFRONTAL_BIN", env!("CARGO_BIN_EXE_prefrontal"))
        .env("GPU_CHECK_SECONDS", "0.1")
        // Benches on lavapipe measure nothing of a GPU: the CPU's only.
        .env("GPU_CHECK_BENCH_DEVICES", "cpu")
        .output()
        .unwrap();
    let out = common::text(&output);
    assert!(output.status.success(), "{out}");
    for expected in [
        "| loss, step 5 |",
        "| cem plan energy |",
        "| mppi plan energy |",
        "| gd plan energy |",
        "wgpu agrees with the CPU",
        "| training samples/s (windows), 2 workers |",
        "## bench plan on cpu",
        "gpu-check: wgpu passed",
    ] {
        assert!(out.contains(expected), "{expected}:\n{out}");
    }
}

/// LibTorch's backend (`--features libtorch`, built by `scripts/test.sh`): it trains and plans
/// as the CPU backend does (`check-device`), and the same seed repeats its losses to the bit.
#[cfg(feature = "libtorch")]
#[test]
fn the_libtorch_backend_agrees_with_the_cpu_and_repeats_itself() {
    let checked = run_ok(&["check-device", "--device", "libtorch"]);
    assert!(
        checked.contains("| loss, step 5 |") && checked.contains("libtorch agrees with the CPU"),
        "{checked}"
    );
    let dir = scratch("reach-libtorch");
    let data = collect(&dir, "4");
    let config = dir.join("small.ron");
    std::fs::write(
        &config,
        "(model: (encoder: Cnn(channels: [8, 16, 16, 16]), latent_dim: 32, projector: Some(64)),
          training: (steps: 6, batch_size: 8, eval_every: 1000, log_every: 1))",
    )
    .unwrap();
    let losses = |name: &str| {
        let out = dir.join(name);
        let mut args = train_args(&data, config.to_str().unwrap(), out.to_str().unwrap());
        args.extend(["--device", "libtorch"]);
        run_ok(&args);
        scalars(&events_in(&out), "train/loss")
    };
    let (first, second) = (losses("first"), losses("second"));
    assert_eq!(first.len(), 6, "{first:?}");
    let bits = |losses: &[(i64, f32)]| losses.iter().map(|(_, l)| l.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&first), bits(&second), "{first:?} vs {second:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
