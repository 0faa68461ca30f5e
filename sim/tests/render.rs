//! Camera frames: alignment with the simulated state, determinism, content. These run on
//! whatever Vulkan device Bevy finds: Mesa's lavapipe on machines without a GPU.

use std::path::{Path, PathBuf};

use bevy::math::Vec3;
use prefrontal_sim::{Action, Env, Frame, RenderOptions, Scene, VecEnv};

fn scenes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes")
}

fn scene(name: &str) -> Scene {
    Scene::load(scenes_dir().join(format!("{name}.scene.ron"))).expect("shipped scenes load")
}

/// The names of the shipped scenes (`scenes/NAME.scene.ron`), sorted; there is at least one.
fn shipped_scenes() -> Vec<String> {
    Scene::names_in(scenes_dir()).expect("the shipped scenes")
}

/// Centroid, in pixels, of the pixels that `matches` picks (`None` when none do).
fn centroid(frame: &Frame, matches: impl Fn([u8; 3]) -> bool) -> Option<(f32, f32, usize)> {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0);
    for y in 0..frame.height {
        for x in 0..frame.width {
            if matches(frame.pixel(x, y)) {
                sx += x as f32 + 0.5;
                sy += y as f32 + 0.5;
                n += 1;
            }
        }
    }
    (n > 0).then(|| (sx / n as f32, sy / n as f32, n))
}

fn reddish([r, g, b]: [u8; 3]) -> bool {
    r > 150 && r as i32 - g as i32 > 60 && r as i32 - b as i32 > 60
}

fn bluish([r, g, b]: [u8; 3]) -> bool {
    b > 120 && b as i32 - r as i32 > 50 && b as i32 - g as i32 > 30
}

fn greenish([r, g, b]: [u8; 3]) -> bool {
    g > 120 && g as i32 - r as i32 > 50 && g as i32 - b as i32 > 40
}

/// The pixel test for the colour of the body the task moves to the goal (its first
/// target's), by the colour's strongest channel, with that body's name.
fn target_colour(scene: &Scene) -> (String, fn([u8; 3]) -> bool) {
    let name = &scene.task.targets[0].body;
    let body = scene.bodies.iter().find(|b| &b.name == name).unwrap();
    let [r, g, b] = body.material.color;
    let test: fn([u8; 3]) -> bool = if r > g.max(b) {
        reddish
    } else if g > r.max(b) {
        greenish
    } else if b > r.max(g) {
        bluish
    } else {
        panic!("{}: {name} has no strongest colour channel", scene.name)
    };
    (name.clone(), test)
}

#[test]
fn the_agent_appears_where_the_camera_projects_it_at_every_step() {
    let mut env = Env::with_rendering(scene("reach"), RenderOptions::default()).unwrap();
    let camera = env.camera().unwrap().clone();
    let (mut observation, _) = env.reset(3).unwrap();
    // Swing the agent around at full force so a one-step lag would show as pixels of error.
    for step in 0..40 {
        let frame = observation
            .frame
            .as_ref()
            .expect("rendering envs return frames");
        assert_eq!((frame.width, frame.height), (64, 64));
        let agent = Vec3::new(
            observation.state[0],
            observation.state[1],
            observation.state[2],
        );
        let expected = camera.project(agent).unwrap();
        let (x, y, n) = centroid(frame, reddish).expect("the agent is visible");
        assert!(n >= 8, "step {step}: only {n} agent pixels");
        let error = (x - expected.x).hypot(y - expected.y);
        assert!(
            error < 0.75,
            "step {step}: agent drawn at ({x:.2}, {y:.2}), projects to ({:.2}, {:.2})",
            expected.x,
            expected.y
        );
        let action = Action(vec![(step as f32 * 0.7).cos(), (step as f32 * 0.5).sin()]);
        let result = env.step(&action).unwrap();
        assert!(!result.truncated);
        observation = result.observation;
    }
}

#[test]
fn frames_are_byte_identical_for_the_same_seed() {
    let run = || {
        let mut env = VecEnv::with_rendering(scene("push"), 3, RenderOptions::default()).unwrap();
        let mut frames = Vec::new();
        for (observation, _) in env.reset(&[5, 6, 7]).unwrap() {
            frames.push(observation.frame.unwrap());
        }
        for t in 0..20 {
            let actions: Vec<Action> = (0..3)
                .map(|i| Action(vec![((t + i) as f32).sin(), ((t * i) as f32).cos()]))
                .collect();
            for step in env.step(&actions).unwrap() {
                frames.push(step.observation.frame.unwrap());
            }
        }
        frames.extend(env.goal_frames().unwrap());
        frames
    };
    let first = run();
    let second = run();
    assert_eq!(first.len(), second.len());
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        assert!(a == b, "frame {i} differs between two runs");
    }
}

/// Largest per-channel difference between two frames of the same size.
fn worst_pixel(a: &Frame, b: &Frame) -> u8 {
    a.pixels
        .iter()
        .zip(&b.pixels)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

#[test]
fn a_world_put_into_a_state_renders_as_one_that_stepped_there() {
    for name in shipped_scenes() {
        let mut source = VecEnv::with_rendering(scene(&name), 1, RenderOptions::default()).unwrap();
        source.set_auto_reset(false);
        source.set_endless(true);
        source.reset(&[21]).unwrap();
        let mut last = None;
        for t in 0..12 {
            let action = Action(vec![(t as f32).sin(), (t as f32 * 0.7).cos()]);
            last = Some(source.step(&[action]).unwrap().remove(0));
        }
        let reached = last.unwrap().observation;

        let mut copy = VecEnv::with_rendering(scene(&name), 1, RenderOptions::default()).unwrap();
        copy.reset(&[99]).unwrap();
        let (placed, _) = copy.set_state(0, &reached.state).unwrap();
        let (want, got) = (reached.frame.unwrap(), placed.frame.unwrap());
        let worst = worst_pixel(&want, &got);
        assert!(
            worst <= 2,
            "{name}: the placed world's frame differs by {worst} levels"
        );
        assert_eq!(placed.proprio, reached.proprio, "{name}: proprioception");

        // Its goal set to that state: the goal image is the frame (up to edge pixels: a goal
        // is a configuration, rebuilt through the kinematic chain), and it is at its goal.
        copy.set_goal_state(0, &reached.state).unwrap();
        let goal = copy.goal_observations().unwrap().remove(0).frame.unwrap();
        let off = want
            .pixels
            .iter()
            .zip(&goal.pixels)
            .filter(|(a, b)| a.abs_diff(**b) > 8)
            .count();
        assert!(
            off * 500 <= want.pixels.len(),
            "{name}: {off} of the goal image's {} values differ",
            want.pixels.len()
        );
        let (_, info) = copy.set_state(0, &reached.state).unwrap();
        assert!(info.success, "{name}: {info:?}");
        assert!(copy.set_goal_state(0, &reached.state[1..]).is_err());
    }
}

#[test]
fn frames_show_the_objects_and_change_with_actions() {
    let mut env = Env::with_rendering(scene("push"), RenderOptions::default()).unwrap();
    let (start, _) = env.reset(11).unwrap();
    let start_frame = start.frame.unwrap();
    assert!(
        centroid(&start_frame, bluish).is_some(),
        "the blue pusher is visible"
    );
    assert!(
        centroid(&start_frame, greenish).is_some(),
        "the green block is visible"
    );
    let goal = env.goal_frame().unwrap();
    assert_ne!(
        goal, start_frame,
        "the goal image differs from the start image"
    );
    assert!(
        centroid(&goal, greenish).is_some(),
        "the goal image shows the block"
    );
    let mut previous = start_frame;
    for _ in 0..5 {
        let frame = env
            .step(&Action(vec![0.8, -0.6]))
            .unwrap()
            .observation
            .frame
            .unwrap();
        assert_ne!(
            frame, previous,
            "consecutive frames under a non-zero action differ"
        );
        previous = frame;
    }
}

#[test]
fn every_task_renders_at_the_requested_resolution() {
    for task in shipped_scenes() {
        let scene = scene(&task);
        let (target, colour) = target_colour(&scene);
        let options = RenderOptions {
            camera: None,
            resolution: Some((96, 80)),
        };
        let mut env = VecEnv::with_rendering(scene, 2, options).unwrap();
        let observations = env.reset(&[1, 2]).unwrap();
        for (observation, _) in &observations {
            let frame = observation.frame.as_ref().unwrap();
            assert_eq!(
                (frame.width, frame.height, frame.pixels.len()),
                (96, 80, 96 * 80 * 3)
            );
            assert!(
                centroid(frame, colour).is_some(),
                "{task}: the {target} is visible"
            );
        }
        assert_ne!(
            observations[0].0.frame, observations[1].0.frame,
            "{task}: seeds 1 and 2 look alike"
        );
    }
}

#[test]
fn rendering_options_are_checked() {
    let unknown = RenderOptions {
        camera: Some("side".into()),
        resolution: None,
    };
    let err = Env::with_rendering(scene("reach"), unknown).unwrap_err();
    assert!(
        err.to_string().contains("no camera called \"side\""),
        "{err}"
    );
    let huge = RenderOptions {
        camera: None,
        resolution: Some((4096, 64)),
    };
    let err = Env::with_rendering(scene("reach"), huge).unwrap_err();
    assert!(err.to_string().contains("outside 1..=1024"), "{err}");
    let mut plain = Env::new(scene("reach")).unwrap();
    plain.reset(0).unwrap();
    assert!(plain.goal_frame().is_err());
}

// Recording datasets.

use prefrontal_dataset::Dataset;
use prefrontal_sim::collect::{CollectConfig, collect};
use prefrontal_sim::policy::PolicyKind;

fn config(policy: PolicyKind, episodes: usize, seed: u64) -> CollectConfig {
    CollectConfig {
        episodes,
        steps: if policy == PolicyKind::Scripted {
            100
        } else {
            12
        },
        seed,
        policy,
        envs: 3,
        render: RenderOptions::default(),
    }
}

fn scene_source(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenes/{name}.scene.ron")),
    )
    .unwrap()
}

/// Every file of a dataset folder, with its bytes, sorted by path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in [dir.to_owned(), dir.join("episodes")] {
        for entry in std::fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                out.push((
                    path.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_same_seed_collects_byte_identical_datasets() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let summary = collect(
            scene("push"),
            &scene_source("push"),
            &config(PolicyKind::Smooth, 5, 9),
            dir.path(),
            |_| {},
        )
        .unwrap();
        assert_eq!(summary.episodes, 5);
    }
    let (first, second) = (files(a.path()), files(b.path()));
    assert_eq!(first.len(), 6, "an index and five shards");
    assert!(first == second, "two collections with the same seed differ");
    // Frames line up with states and actions: T+1 frames for T actions, all in the shard.
    let dataset = Dataset::open(a.path()).unwrap();
    let episode = dataset.read_episode(0).unwrap();
    let steps = episode.steps();
    assert_eq!(steps, 12);
    assert_eq!(episode.frames.len(), (steps + 1) * 64 * 64 * 3);
    assert_eq!(episode.actions.len(), steps * 2);
    assert_eq!(episode.state.len(), (steps + 1) * 26);
    // The pusher moves between frames under smooth exploration.
    let frame_bytes = 64 * 64 * 3;
    assert_ne!(
        episode.frames[..frame_bytes],
        episode.frames[steps * frame_bytes..]
    );
}

#[test]
fn collections_append_and_refuse_a_different_scene_or_frame_size() {
    let dir = tempfile::tempdir().unwrap();
    collect(
        scene("reach"),
        &scene_source("reach"),
        &config(PolicyKind::Scripted, 4, 0),
        dir.path(),
        |_| {},
    )
    .unwrap();
    collect(
        scene("reach"),
        &scene_source("reach"),
        &config(PolicyKind::Random, 3, 100),
        dir.path(),
        |_| {},
    )
    .unwrap();
    let dataset = Dataset::open(dir.path()).unwrap();
    let entries = &dataset.index().episodes;
    assert_eq!(
        entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        (0..7).collect::<Vec<u64>>()
    );
    assert_eq!(entries[4].seed, 100);
    assert!(
        entries[..4]
            .iter()
            .all(|e| e.policy == "scripted" && e.success),
        "the scripted controller reaches its goals"
    );
    let err = collect(
        scene("push"),
        &scene_source("push"),
        &config(PolicyKind::Random, 1, 0),
        dir.path(),
        |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot append: the dataset holds scene \"reach\""),
        "{err}"
    );
    let mut bigger = config(PolicyKind::Random, 1, 0);
    bigger.render.resolution = Some((96, 96));
    let err = collect(
        scene("reach"),
        &scene_source("reach"),
        &bigger,
        dir.path(),
        |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("64×64 frames") && err.to_string().contains("96×96"),
        "{err}"
    );
    assert_eq!(
        Dataset::open(dir.path()).unwrap().index().episodes.len(),
        7,
        "refusals add nothing"
    );
}
