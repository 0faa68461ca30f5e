//! How evaluations choose their episodes and report their rates.

use prefrontal_agent::eval::{Protocol, pick_episodes, wilson_interval};
use prefrontal_sim::{Scene, VecEnv};

fn scene(name: &str) -> Scene {
    Scene::load(format!(
        "{}/../scenes/{name}.scene.ron",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn the_wilson_interval_matches_its_formula_at_the_edges_and_inside() {
    let close =
        |(a, b): (f64, f64), (c, d): (f64, f64)| (a - c).abs() < 1e-4 && (b - d).abs() < 1e-4;
    assert!(close(wilson_interval(29, 50), (0.4423, 0.7062)));
    assert!(close(wilson_interval(1, 10), (0.0179, 0.4042)));
    assert!(close(wilson_interval(0, 50), (0.0, 0.0713)));
    assert!(close(wilson_interval(50, 50), (0.9287, 1.0)));
    assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    // Symmetric: s of n succeed as n − s fail.
    let (low, high) = wilson_interval(12, 40);
    let (low2, high2) = wilson_interval(28, 40);
    assert!((low - (1.0 - high2)).abs() < 1e-12 && (high - (1.0 - low2)).abs() < 1e-12);
}

#[test]
fn picked_episodes_are_seeded_within_the_difficulty_and_never_start_at_their_goal() {
    let reach = scene("reach");
    let picked = pick_episodes(&reach, 12, 5, (0.4, 0.9), Protocol::RandomGoal).unwrap();
    assert_eq!(picked.len(), 12);
    for (index, episode) in picked.iter().enumerate() {
        assert_eq!(episode.index, index);
        assert!((0.4..=0.9).contains(&episode.start_distance), "{episode:?}");
        assert_eq!(episode.seed, episode.episode.seed);
    }
    let again = pick_episodes(&reach, 12, 5, (0.4, 0.9), Protocol::RandomGoal).unwrap();
    assert_eq!(picked, again, "the same seed picks the same episodes");
    let other = pick_episodes(&reach, 12, 6, (0.4, 0.9), Protocol::RandomGoal).unwrap();
    assert_ne!(picked, other);

    // Trajectory-offset goals: the scripted controller moved the world, so none starts at
    // its goal either.
    let offset = Protocol::TrajectoryOffset {
        offset: 25,
        budget: 50,
    };
    let push = scene("push");
    let mut env = VecEnv::new(push.clone(), 1).unwrap();
    for episode in pick_episodes(&push, 4, 5, (0.0, f32::INFINITY), offset).unwrap() {
        let (_, info) = env.reset_to(0, episode.episode.clone()).unwrap();
        assert!(!info.success, "{episode:?}");
        assert_eq!(info.distance, episode.start_distance);
    }

    // A difficulty no episode has is an error that says what was asked.
    let error = pick_episodes(&reach, 2, 5, (50.0, 60.0), Protocol::RandomGoal)
        .unwrap_err()
        .to_string();
    assert!(error.contains("reach") && error.contains('2'), "{error}");
}
