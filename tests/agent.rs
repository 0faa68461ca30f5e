//! The whole loop on `reach` through the binary: collect exploration data, train the world
//! model, probe it, then plan toward goal images in closed loop against baselines.

mod common;

use std::path::Path;

use common::{collect, number_after, run_failing, run_ok, scratch};

/// `(successes, episodes)` of `name` in the evaluation's summary.
fn successes(eval_dir: &Path, name: &str) -> (u64, u64) {
    let path = eval_dir.join(name).join("summary.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        summary["successes"].as_u64().unwrap(),
        summary["episodes"].as_u64().unwrap(),
    )
}

#[test]
fn reach_end_to_end_the_model_learns_and_the_planner_reaches_goals() {
    let dir = scratch("reach-loop");
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

    // What the latents know.
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

    // Planning toward goal images, on episodes the data never started from.
    let eval = dir.join("eval");
    let table = run_ok(&[
        "eval",
        "--checkpoint",
        run,
        "--scene",
        "scenes/reach.scene.ron",
        "--episodes",
        "20",
        "--agent",
        "configs/reach.agent.ron",
        "--seed",
        "100",
        "--baselines",
        "random",
        "--gifs",
        "1",
        "--out",
        eval.to_str().unwrap(),
    ]);
    let (cem, n) = successes(&eval, "cem");
    let (random, _) = successes(&eval, "random");
    assert_eq!(n, 20);
    assert!(cem >= 16, "CEM reached {cem} of 20 goals:\n{table}");
    assert!(
        random <= 6 && random + 10 <= cem,
        "random reached {random} of 20, CEM {cem}:\n{table}"
    );
    let lines = std::fs::read_to_string(eval.join("cem/episodes.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 20);
    assert!(eval.join("cem/episode_000.gif").exists());
    assert!(eval.join("agent.ron").exists());
    let events = std::fs::read_dir(eval.join("cem"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().contains("tfevents")
        })
        .count();
    assert_eq!(events, 1, "one TensorBoard event file per contender");

    // The papers' protocol: goals 25 scripted steps along, 50 steps to reach them.
    let offset = dir.join("offset");
    let offset_args = [
        "eval",
        "--checkpoint",
        run,
        "--scene",
        "scenes/reach.scene.ron",
        "--episodes",
        "4",
        "--agent",
        "configs/reach.agent.ron",
        "--baselines",
        "random",
        "--gifs",
        "0",
        "--protocol",
        "trajectory-offset",
        "--out",
        offset.to_str().unwrap(),
    ];
    run_ok(&offset_args);
    let lines = std::fs::read_to_string(offset.join("cem/episodes.jsonl")).unwrap();
    for line in lines.lines() {
        let episode: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(episode["steps"].as_u64().unwrap() <= 50, "{line}");
    }
    let (cem, _) = successes(&offset, "cem");
    assert!(cem >= 3, "CEM reached {cem} of 4 trajectory-offset goals");
    let zero = run_failing(&[&offset_args[..], &["--offset", "0"]].concat());
    assert!(zero.contains("offset must be at least 1"), "{zero}");

    // A goal from another scene, and a missing or corrupt checkpoint, are clear errors.
    let other = run_failing(&[
        "eval",
        "--checkpoint",
        run,
        "--scene",
        "scenes/two_rooms.scene.ron",
        "--episodes",
        "1",
        "--out",
        dir.join("other").to_str().unwrap(),
    ]);
    assert!(
        other.contains("cannot plan here") && other.contains("trained on scene \"reach\""),
        "{other}"
    );
    let missing = run_failing(&[
        "eval",
        "--checkpoint",
        dir.join("nothing").to_str().unwrap(),
        "--scene",
        "scenes/reach.scene.ron",
        "--out",
        dir.join("missing").to_str().unwrap(),
    ]);
    assert!(missing.contains("does not exist"), "{missing}");
    let latest = std::fs::read_dir(Path::new(run).join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    std::fs::write(latest.join("model.mpk"), b"not a model").unwrap();
    let corrupt = run_failing(&[
        "eval",
        "--checkpoint",
        run,
        "--scene",
        "scenes/reach.scene.ron",
        "--out",
        dir.join("corrupt").to_str().unwrap(),
    ]);
    assert!(
        corrupt.contains("model.mpk") && corrupt.contains("cannot be loaded"),
        "{corrupt}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
