//! The runtime's entry points as a front end calls them: backend selection, collection with
//! progress events, and clear refusals.

use std::path::PathBuf;

use prefrontal_agent::eval::Protocol;
use prefrontal_agent::{Baseline, PlannerKind};
use prefrontal_dataset::Dataset;
use prefrontal_runtime::{
    BackendTask, CollectRequest, Device, DeviceKind, EvalRequest, Event, check_device, on_device,
};
use prefrontal_sim::RenderOptions;
use prefrontal_sim::policy::PolicyKind;

fn reach() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenes/reach.scene.ron"
    ))
}

#[test]
fn the_cpu_backend_runs_generic_work() {
    struct Double(f32);
    impl BackendTask for Double {
        type Output = f32;
        fn run<B: burn::tensor::backend::AutodiffBackend>(self, device: &B::Device) -> f32 {
            let value = burn::tensor::Tensor::<B, 1>::from_floats([self.0], device)
                .mul_scalar(2.0)
                .into_scalar();
            burn::tensor::ElementConversion::elem(value)
        }
    }
    assert_eq!(on_device(DeviceKind::Cpu, Double(1.5)).unwrap(), 3.0);
    check_device(DeviceKind::Cpu).unwrap();
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_backend_left_out_of_the_build_is_named_with_the_feature_to_add() {
    struct Nothing;
    impl BackendTask for Nothing {
        type Output = ();
        fn run<B: burn::tensor::backend::AutodiffBackend>(self, _: &B::Device) {}
    }
    let error = on_device("cuda:1".parse::<Device>().unwrap(), Nothing)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("without the cuda backend") && error.contains("--features cuda"),
        "{error}"
    );
}

#[test]
fn a_collection_reports_progress_and_continues_seeds_across_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let request = CollectRequest {
        policies: vec![(PolicyKind::Random, 2), (PolicyKind::Scripted, 1)],
        steps: 8,
        seed: 5,
        envs: 2,
        render: RenderOptions {
            camera: None,
            resolution: Some((16, 16)),
        },
        out: out.clone(),
    };
    let mut events = Vec::new();
    let summary = prefrontal_runtime::collect(&reach(), &request, &mut |event| {
        events.push(match event {
            Event::CollectStarted { total } => format!("started {total}"),
            Event::Collected { done, policy } => format!("{policy} {done}"),
            Event::CollectFinished => "finished".to_owned(),
            other => panic!("a collection reports nothing else: {other:?}"),
        })
    })
    .unwrap();
    assert_eq!(summary.episodes, 3);
    assert_eq!(events.first().unwrap(), "started 3");
    assert_eq!(events.last().unwrap(), "finished");
    assert!(events.contains(&"random 2".to_owned()), "{events:?}");
    assert!(events.contains(&"scripted 3".to_owned()), "{events:?}");
    let dataset = Dataset::open(&out).unwrap();
    let entries = &dataset.index().episodes;
    let seeds: Vec<(u64, &str)> = entries
        .iter()
        .map(|e| (e.seed, e.policy.as_str()))
        .collect();
    assert_eq!(seeds, [(5, "random"), (6, "random"), (7, "scripted")]);
}

#[test]
fn an_evaluation_of_nothing_and_a_comparison_of_nothing_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let request = EvalRequest {
        checkpoint: dir.path().join("missing"),
        scene: reach(),
        agent: None,
        planner: PlannerKind::Cem,
        episodes: 0,
        seed: 0,
        protocol: Protocol::RandomGoal,
        distance: (0.0, f32::INFINITY),
        baselines: vec![Baseline::Random],
        out: dir.path().join("eval"),
        gifs: 0,
        camera: None,
        device: Device::default(),
    };
    let error = prefrontal_runtime::evaluate(&request, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert_eq!(error, "--episodes must be at least 1");
    let missing = prefrontal_runtime::evaluate(
        &EvalRequest {
            episodes: 1,
            ..request
        },
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("missing"), "{missing}");
    let pattern = dir.path().display().to_string();
    let error = prefrontal_runtime::compare_runs(&[pattern])
        .unwrap_err()
        .to_string();
    assert!(error.contains("holds no finished run"), "{error}");
}
