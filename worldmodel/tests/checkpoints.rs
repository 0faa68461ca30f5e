//! Exact resume after an interruption, and clear errors for bad checkpoints, configs and data.

mod common;

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use common::{options, run, small_config, write_toy_dataset, write_toy_episodes};
use prefrontal_worldmodel::RonConfig;
use prefrontal_worldmodel::{Checkpoint, TrainEvent, WorldModelConfig, train};

#[test]
fn resume_after_an_interruption_continues_at_the_same_step_with_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6, 20, 2);
    let mut config = small_config(12);
    config.training.checkpoint_every = 4;
    let whole = run(&options(
        &data,
        &dir.path().join("whole"),
        Some(config.clone()),
    ))
    .unwrap();

    // Interrupted after step 6: only the checkpoint of step 4 counts, as after a kill.
    let out = dir.path().join("split");
    let mut first = options(&data, &out, Some(config.clone()));
    first.stop_after = Some(6);
    let stopped = run(&first).unwrap();
    assert!(stopped.stopped_early);
    std::fs::remove_dir_all(out.join("checkpoints/step-00000006")).unwrap();
    let mut second = options(&data, &out, None);
    second.resume = true;
    let resumed = run(&second).unwrap();
    assert_eq!(
        resumed.history.first().unwrap().0,
        5,
        "resumes after the step-4 checkpoint"
    );
    assert_eq!(resumed.step, 12);
    for ((step_a, losses_a, windows_a), (step_b, losses_b, windows_b)) in
        whole.history[4..].iter().zip(&resumed.history)
    {
        assert_eq!(step_a, step_b);
        assert_eq!(windows_a, windows_b, "data order at step {step_a}");
        assert_eq!(
            losses_a, losses_b,
            "every loss term at step {step_a}, to the bit"
        );
    }
    assert_eq!(whole.evaluation.probe, resumed.evaluation.probe);
}

#[test]
fn appended_episodes_are_left_out_and_changed_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 6, 12, 7);
    let out = dir.path().join("run");
    run(&options(&data, &out, Some(small_config(2)))).unwrap();
    let checkpoint = Checkpoint::open(&out).unwrap();
    let recorded = checkpoint
        .state
        .data
        .clone()
        .expect("new runs record their data");
    assert_eq!(recorded.episodes, 6);
    assert_eq!(recorded.validation.len(), 2, "ceil(6 × 0.2) held out");

    // Three episodes appended: the run's six are used, split as in training, and a note says so.
    write_toy_episodes(&data, 6..9, 12, 7);
    let (episodes, note) = checkpoint.load_data(&data).unwrap();
    assert_eq!(episodes.fingerprint(), &recorded);
    let note = note.expect("a note about the appended episodes");
    assert!(
        note.contains("3 episodes appended") && note.contains("first 6"),
        "{note}"
    );
    let mut resume = options(&data, &out, None);
    resume.resume = true;
    resume.steps = Some(4);
    let mut notices = Vec::new();
    let summary = train::<Autodiff<Flex>>(&resume, &Default::default(), &mut |event| {
        if let TrainEvent::Notice(note) = event {
            notices.push(note.clone());
        }
    })
    .unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        summary
            .history
            .iter()
            .flat_map(|(_, _, windows)| windows)
            .all(|window| window.episode < 6),
        "the resumed steps train on the run's episodes only"
    );
    assert_eq!(Checkpoint::open(&out).unwrap().state.data, Some(recorded));

    // Collected again with other contents, or fewer episodes: refused, naming both folders.
    let again = dir.path().join("again");
    write_toy_dataset(&again, 6, 12, 8);
    let error = checkpoint.load_data(&again).unwrap_err().to_string();
    assert!(
        error.contains("does not fit the data in")
            && error.contains("again")
            && error.contains("first 6 episodes are not the ones the run trained on"),
        "{error}"
    );
    let fewer = dir.path().join("fewer");
    write_toy_dataset(&fewer, 4, 12, 7);
    let error = checkpoint.load_data(&fewer).unwrap_err().to_string();
    assert!(
        error.contains("trained on 6 episodes and the dataset now holds 4"),
        "{error}"
    );
}

#[test]
fn a_new_run_never_overwrites_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4, 12, 3);
    let out = dir.path().join("run");
    run(&options(&data, &out, Some(small_config(2)))).unwrap();
    let error = run(&options(&data, &out, Some(small_config(2))))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("already holds a run") && error.contains("--resume"),
        "{error}"
    );
    // Resuming with a different model is refused; with more steps it continues.
    let mut other = small_config(2);
    other.model.latent_dim = 16;
    let mut resume = options(&data, &out, Some(other));
    resume.resume = true;
    let error = run(&resume).unwrap_err().to_string();
    assert!(error.contains("differs from the one in"), "{error}");
    let mut longer = options(&data, &out, None);
    longer.resume = true;
    longer.steps = Some(4);
    assert_eq!(run(&longer).unwrap().step, 4);
}

#[test]
fn corrupt_or_missing_checkpoints_give_errors_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4, 12, 4);
    let out = dir.path().join("run");
    let summary = run(&options(&data, &out, Some(small_config(2)))).unwrap();
    let model_file = summary.checkpoint.join("model.mpk");
    let bytes = std::fs::read(&model_file).unwrap();
    std::fs::write(&model_file, &bytes[..bytes.len() / 2]).unwrap();
    let error = Checkpoint::open(&out)
        .unwrap()
        .load_model::<Flex>(&Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("model.mpk") && error.contains("cannot be loaded"),
        "{error}"
    );
    std::fs::remove_file(&model_file).unwrap();
    let error = Checkpoint::open(&out)
        .unwrap()
        .load_model::<Flex>(&Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("model.mpk") && error.contains("missing"),
        "{error}"
    );
    std::fs::write(summary.checkpoint.join("state.json"), "{ not json").unwrap();
    let error = Checkpoint::open(&out).unwrap_err().to_string();
    assert!(
        error.contains("state.json") && error.contains("unreadable"),
        "{error}"
    );
    let error = Checkpoint::open(dir.path().join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nowhere") && error.contains("does not exist"),
        "{error}"
    );
    let error = Checkpoint::open(&data).unwrap_err().to_string();
    assert!(error.contains("holds no checkpoint"), "{error}");
}

#[test]
fn a_checkpoint_refuses_data_of_another_shape() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 4, 12, 5);
    let summary = run(&options(
        &data,
        &dir.path().join("run"),
        Some(small_config(2)),
    ))
    .unwrap();
    let checkpoint = Checkpoint::open(&summary.checkpoint).unwrap();
    let mut other = checkpoint.state.spec.clone();
    other.width = 64;
    other.action_dim = 3;
    let error = checkpoint
        .check_compatible(&other, Path::new("elsewhere"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("does not fit the data in elsewhere"),
        "{error}"
    );
    assert!(
        error.contains("frames are 32×32 there, 64×32 here")
            && error.contains("actions have 2 components there, 3 here"),
        "{error}"
    );
}

#[test]
fn config_errors_name_the_file_and_the_place() {
    let file = Path::new("configs/bad.ron");
    let error = WorldModelConfig::parse("(model: (latent_dimm: 3))", file)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("configs/bad.ron:1:") && error.contains("latent_dimm"),
        "{error}"
    );
    let error = WorldModelConfig::parse("(training: (batch_size: 0))", file)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "configs/bad.ron: training.batch_size: must be at least 1"
    );
    let error = WorldModelConfig::parse(
        "(model: (predictor: Transformer(width: 30, depth: 1, heads: 4)))",
        file,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("model.predictor.width") && error.contains("multiple of heads"),
        "{error}"
    );
    let error = WorldModelConfig::parse("(model: (fuse_velocities: false))", file)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("model.fuse_velocities") && error.contains("use_proprio: true"),
        "{error}"
    );
    let config = WorldModelConfig::parse(
        "(objective: (anti_collapse: Vicreg(variance: 1.0, covariance: 0.04)))",
        file,
    )
    .unwrap();
    assert_eq!(
        WorldModelConfig::parse(&config.to_ron(), file).unwrap(),
        config
    );
}

#[test]
fn too_little_data_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 1, 12, 6);
    let error = run(&options(
        &data,
        &dir.path().join("a"),
        Some(small_config(2)),
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("has 1 episode(s)"), "{error}");
    let short = dir.path().join("short");
    write_toy_dataset(&short, 4, 2, 6);
    let error = run(&options(
        &short,
        &dir.path().join("b"),
        Some(small_config(2)),
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("episodes are too short"), "{error}");
}
