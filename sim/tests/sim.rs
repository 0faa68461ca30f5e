//! Behaviour of the simulation through its public API: scenes, physics, determinism,
//! actions and errors.

use std::path::{Path, PathBuf};

use prefrontal_sim::policy::{RandomPolicy, offset_episode};
use prefrontal_sim::world::ActionError;
use prefrontal_sim::{Action, Env, Observation, Scene, SceneError, SimError, Step, VecEnv};

fn scenes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes")
}

fn scene(name: &str) -> Scene {
    Scene::load(scenes_dir().join(format!("{name}.scene.ron"))).expect("shipped scenes load")
}

/// The names of the shipped scenes (`scenes/NAME.scene.ron`), sorted; there is at least one.
fn shipped_scenes() -> Vec<String> {
    Scene::names_in(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenes")).expect("the shipped scenes")
}

/// Positions `[x, y, z]` of every dynamic body in a state vector.
fn positions(observation: &Observation) -> Vec<[f32; 3]> {
    observation
        .state
        .chunks(13)
        .map(|b| [b[0], b[1], b[2]])
        .collect()
}

fn random_actions(env: &Env, seed: u64, count: usize) -> Vec<Action> {
    let mut policy = RandomPolicy::new(&env.action_space(), seed);
    (0..count).map(|_| policy.act()).collect()
}

/// Runs `actions` from `seed`, resetting whenever an episode ends, and returns every state.
fn trajectory(scene: &Scene, seed: u64, actions: &[Action]) -> Vec<Vec<f32>> {
    let mut env = Env::new(scene.clone()).unwrap();
    let (first, _) = env.reset(seed).unwrap();
    let mut states = vec![first.state];
    let mut episode = 0;
    for action in actions {
        let step = env.step(action).unwrap();
        states.push(step.observation.state);
        if step.terminated || step.truncated {
            episode += 1;
            let (obs, _) = env.reset(seed + 1000 * episode).unwrap();
            states.push(obs.state);
        }
    }
    states
}

#[test]
fn every_shipped_scene_parses_builds_and_steps() {
    for name in shipped_scenes() {
        let scene = Scene::load(scenes_dir().join(format!("{name}.scene.ron")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut env = VecEnv::new(scene, 2).unwrap();
        env.reset(&[1, 2]).unwrap();
        let space = env.action_space();
        let actions = vec![Action(space.low.clone()), Action(space.high.clone())];
        for _ in 0..10 {
            let steps = env.step(&actions).unwrap();
            assert!(steps.iter().all(|s| s.reward.is_finite()), "{name}");
            assert!(
                steps
                    .iter()
                    .all(|s| s.observation.state.iter().all(|v| v.is_finite())),
                "{name}"
            );
        }
    }
}

#[test]
fn same_seed_and_actions_give_bit_identical_states_over_500_steps() {
    for task in shipped_scenes() {
        let scene = scene(&task);
        let probe = Env::new(scene.clone()).unwrap();
        let actions = random_actions(&probe, 7, 500);
        let first = trajectory(&scene, 3, &actions);
        let second = trajectory(&scene, 3, &actions);
        assert_eq!(first.len(), second.len());
        for (t, (a, b)) in first.iter().zip(&second).enumerate() {
            let bits = |s: &Vec<f32>| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b), "{task}: states differ at step {t}");
        }
    }
}

#[test]
fn different_seeds_give_different_starts_and_goals() {
    for task in shipped_scenes() {
        let mut env = Env::new(scene(&task)).unwrap();
        let (a, _) = env.reset(1).unwrap();
        let goal_a = env.goal().unwrap().clone();
        let (b, _) = env.reset(2).unwrap();
        let goal_b = env.goal().unwrap().clone();
        assert_ne!(a.state, b.state, "{task}: same start for seeds 1 and 2");
        assert_ne!(goal_a, goal_b, "{task}: same goal for seeds 1 and 2");
        // The goal is not already reached at the start.
        let (_, info) = env.reset(3).unwrap();
        assert!(!info.success && info.distance > 0.0, "{task}: {info:?}");
    }
}

#[test]
fn vec_env_worlds_match_single_envs_with_the_same_seed() {
    for task in shipped_scenes() {
        let scene = scene(&task);
        let seeds = [11_u64, 12, 13, 14];
        let mut vec_env = VecEnv::new(scene.clone(), seeds.len()).unwrap();
        let first = vec_env.reset(&seeds).unwrap();
        let mut singles: Vec<VecEnv> = seeds
            .iter()
            .map(|&seed| {
                let mut env = VecEnv::new(scene.clone(), 1).unwrap();
                env.reset(&[seed]).unwrap();
                env
            })
            .collect();
        let mut policies: Vec<RandomPolicy> = seeds
            .iter()
            .map(|&s| RandomPolicy::new(&vec_env.action_space(), s))
            .collect();
        let mut plain = Env::new(scene.clone()).unwrap();
        let (plain_first, _) = plain.reset(seeds[2]).unwrap();
        assert_eq!(plain_first, first[2].0);
        let mut plain_running = true;
        let mut resets = 0;
        for t in 0..500 {
            let actions: Vec<Action> = policies.iter_mut().map(RandomPolicy::act).collect();
            let together = vec_env.step(&actions).unwrap();
            for (i, single) in singles.iter_mut().enumerate() {
                let alone = single.step(&actions[i..=i]).unwrap().remove(0);
                assert_eq!(together[i], alone, "{task}: env {i} differs at step {t}");
                resets += usize::from(alone.info.final_observation.is_some());
            }
            if plain_running {
                let step = plain.step(&actions[2]).unwrap();
                let expected = together[2]
                    .info
                    .final_observation
                    .as_deref()
                    .unwrap_or(&together[2].observation);
                assert_eq!(
                    &step.observation, expected,
                    "{task}: Env differs at step {t}"
                );
                plain_running = !(step.terminated || step.truncated);
            }
        }
        assert!(resets > 0, "{task}: 500 steps should span an auto-reset");
    }
}

#[test]
fn free_fall_matches_half_g_t_squared() {
    let text = r#"(
        name: "free_fall",
        physics: (control_hz: 10.0, substeps: 40),
        arena: (half_extent: 2.0, wall_height: 0.0),
        bodies: [(name: "ball", shape: Sphere(radius: 0.1), position: (0.0, 10.0, 0.0))],
        embodiment: (actuators: [PlanarForce(body: "ball", scale: 1.0)]),
        action_space: (low: [-1.0, -1.0], high: [1.0, 1.0]),
        task: (max_steps: 100, start: (), goal: (bodies: [(body: "ball", x: (1.0, 1.0), z: (0.0, 0.0))]),
               targets: [(body: "ball", position_tolerance: 0.1)]),
    )"#;
    let mut env = Env::new(Scene::parse(text, "free_fall.scene.ron").unwrap()).unwrap();
    env.reset(0).unwrap();
    let g = 9.81_f32;
    for step in 1..=10 {
        let state = env.step(&Action(vec![0.0, 0.0])).unwrap().observation.state;
        let t = step as f32 / 10.0;
        let expected = g * t * t / 2.0;
        let fallen = 10.0 - state[1];
        assert!(
            (fallen - expected).abs() <= 0.01 * expected,
            "after {t} s fell {fallen} m, expected {expected} m"
        );
        let speed = -state[8];
        assert!(
            (speed - g * t).abs() <= 0.01 * g * t,
            "speed {speed} at {t} s"
        );
    }
}

#[test]
fn the_pusher_moves_the_block() {
    let mut env = Env::new(scene("push")).unwrap();
    let (mut obs, _) = env.reset(5).unwrap();
    let tee_start = positions(&obs)[1];
    // Drive the pusher through the block's centre for three seconds.
    for _ in 0..30 {
        let [px, _, pz] = positions(&obs)[0];
        let [tx, _, tz] = positions(&obs)[1];
        let (dx, dz) = (tx - px, tz - pz);
        let norm = dx.hypot(dz).max(1e-6);
        obs = env
            .step(&Action(vec![dx / norm, dz / norm]))
            .unwrap()
            .observation;
    }
    let tee_end = positions(&obs)[1];
    let moved = (tee_end[0] - tee_start[0]).hypot(tee_end[2] - tee_start[2]);
    assert!(moved > 0.1, "the block moved only {moved} m");
    // The block stays on the ground and flat.
    assert!((tee_end[1] - tee_start[1]).abs() < 1e-4);
}

#[test]
fn arm_joints_respect_their_limits() {
    let mut env = Env::new(scene("reacher")).unwrap();
    let actions = random_actions(&env, 9, 600);
    env.reset(9).unwrap();
    let mut max_elbow = 0.0_f32;
    for action in &actions {
        // Push the elbow hard against its limits, half the time each way.
        let action = Action(vec![action.0[0], action.0[1].signum()]);
        let step = env.step(&action).unwrap();
        let elbow = step.observation.proprio[2];
        max_elbow = max_elbow.max(elbow.abs());
        assert!(elbow.abs() <= 2.6 + 0.02, "elbow at {elbow} rad, limit 2.6");
        if step.terminated || step.truncated {
            env.reset(step.info.seed + 1).unwrap();
        }
    }
    assert!(
        max_elbow > 2.5,
        "the test never reached the limit ({max_elbow})"
    );
}

#[test]
fn no_body_leaves_the_arena_under_random_actions() {
    for task in shipped_scenes() {
        let scene = scene(&task);
        let reach = scene.arena.half_extent;
        let mut env = VecEnv::new(scene, 4).unwrap();
        env.reset(&[1, 2, 3, 4]).unwrap();
        let mut policies: Vec<RandomPolicy> = (0..4)
            .map(|s| RandomPolicy::new(&env.action_space(), s))
            .collect();
        for _ in 0..1000 {
            // Saturated random actions: the hardest pushes against the walls.
            let actions: Vec<Action> = policies
                .iter_mut()
                .map(|p| Action(p.act().0.iter().map(|a| a.signum()).collect()))
                .collect();
            for step in env.step(&actions).unwrap() {
                let observations = [
                    Some(&step.observation),
                    step.info.final_observation.as_deref(),
                ];
                for observation in observations.into_iter().flatten() {
                    for [x, y, z] in positions(observation) {
                        assert!(
                            x.abs() < reach && z.abs() < reach,
                            "{task}: body at ({x}, {z})"
                        );
                        assert!((0.0..1.0).contains(&y), "{task}: body at height {y}");
                    }
                }
            }
        }
    }
}

#[test]
fn reach_is_solved_by_a_privileged_controller() {
    let mut env = Env::new(scene("reach")).unwrap();
    for seed in 0..5 {
        let (mut obs, _) = env.reset(seed).unwrap();
        let goal = env.goal().unwrap().targets[0].position;
        let mut last: Option<Step> = None;
        for _ in 0..100 {
            let [x, z, vx, vz] = obs.proprio[..4] else {
                unreachable!()
            };
            let action = Action(vec![4.0 * (goal.x - x) - vx, 4.0 * (goal.z - z) - vz]);
            let step = env.step(&action).unwrap();
            obs = step.observation.clone();
            let done = step.terminated || step.truncated;
            last = Some(step);
            if done {
                break;
            }
        }
        let last = last.unwrap();
        assert!(
            last.terminated && last.info.success,
            "seed {seed}: {:?}",
            last.info
        );
        assert!(last.info.distance <= 0.1);
        assert!(matches!(
            env.step(&Action(vec![0.0, 0.0])),
            Err(SimError::EpisodeOver(0))
        ));
    }
}

#[test]
fn trajectory_offset_goals_are_reached_by_replaying_the_scripted_actions() {
    for name in shipped_scenes() {
        let scene = scene(&name);
        let mut env = VecEnv::new(scene.clone(), 1).unwrap();
        for seed in 0..8 {
            let (episode, actions) = offset_episode(&mut env, seed, 25).unwrap();
            assert_eq!(actions.len(), 25);
            let (_, info) = env.reset_to(0, episode.clone()).unwrap();
            assert_eq!(info.seed, seed);
            // Replayed without ending at success, the actions bring the world to where the
            // controller was, to a couple of millimetres: the goal's target is placed by
            // forward kinematics from its joint angles, and an arm pressed against
            // `reacher_post`'s post stretches its (impulse) joints by about a millimetre.
            env.set_endless(true);
            let mut last = None;
            for action in &actions {
                last = Some(env.step(std::slice::from_ref(action)).unwrap().remove(0));
            }
            env.set_endless(false);
            let info = last.unwrap().info;
            assert!(
                info.success && info.distance < 2e-3,
                "{name} seed {seed}: replaying ends {} m from the goal",
                info.distance
            );
            // The goal is the world's state along the trajectory, not the task's own goal.
            let sampled = prefrontal_sim::task::sample_episode(
                &scene,
                &prefrontal_sim::kinematics::Kinematics::new(&scene),
                seed,
            )
            .unwrap();
            assert_eq!(episode.start, sampled.start);
        }
    }
}

#[test]
fn non_finite_actions_are_refused_and_change_nothing() {
    let mut env = Env::new(scene("reach")).unwrap();
    env.reset(4).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let err = env.step(&Action(vec![0.5, bad])).unwrap_err();
        assert!(
            matches!(
                err,
                SimError::Action {
                    env: 0,
                    source: ActionError::NotFinite { index: 1, .. }
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("must be finite"), "{err}");
    }
    let err = env.step(&Action(vec![0.5])).unwrap_err();
    assert!(
        err.to_string()
            .contains("action has 1 components, the action space has 2"),
        "{err}"
    );
    // The refused actions did not advance the episode.
    let step = env.step(&Action(vec![0.0, 0.0])).unwrap();
    assert_eq!(step.info.episode_step, 1);
    // A refused action for one world of a VecEnv moves no world.
    let mut vec_env = VecEnv::new(scene("reach"), 2).unwrap();
    let before = vec_env.reset(&[1, 2]).unwrap();
    let err = vec_env
        .step(&[Action(vec![1.0, 1.0]), Action(vec![f32::NAN, 0.0])])
        .unwrap_err();
    assert!(matches!(err, SimError::Action { env: 1, .. }), "{err}");
    assert_eq!(vec_env.sim().slot(0).unwrap().observation, before[0].0);
}

#[test]
fn out_of_bound_actions_are_clipped_to_the_bounds() {
    let scene = scene("reach");
    let mut clipped = Env::new(scene.clone()).unwrap();
    let mut bounded = Env::new(scene).unwrap();
    clipped.reset(6).unwrap();
    bounded.reset(6).unwrap();
    for _ in 0..5 {
        let a = clipped.step(&Action(vec![7.0, -1e9])).unwrap();
        let b = bounded.step(&Action(vec![1.0, -1.0])).unwrap();
        assert!(a.info.action_clipped && !b.info.action_clipped);
        assert_eq!(a.observation, b.observation);
    }
}

#[test]
fn step_before_reset_and_mismatched_counts_are_errors() {
    let mut env = VecEnv::new(scene("reach"), 2).unwrap();
    let zero = Action(vec![0.0, 0.0]);
    assert!(matches!(
        env.step(&[zero.clone(), zero.clone()]),
        Err(SimError::NotReset(0))
    ));
    assert!(matches!(
        env.reset(&[1]),
        Err(SimError::SeedCount {
            expected: 2,
            got: 1
        })
    ));
    env.reset(&[1, 2]).unwrap();
    assert!(matches!(
        env.step(&[zero]),
        Err(SimError::ActionCount {
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        VecEnv::new(scene("reach"), 0),
        Err(SimError::NoEnvs)
    ));
}

#[test]
fn auto_reset_reports_the_final_observation_and_a_new_seed() {
    let mut scene = scene("reach");
    scene.task.max_steps = 3;
    let mut env = VecEnv::new(scene, 1).unwrap();
    env.reset(&[42]).unwrap();
    let zero = [Action(vec![0.0, 0.0])];
    env.step(&zero).unwrap();
    env.step(&zero).unwrap();
    let last = env.step(&zero).unwrap().remove(0);
    assert!(last.truncated && !last.terminated);
    let final_observation = last
        .info
        .final_observation
        .expect("auto-reset keeps the last observation");
    assert_ne!(*final_observation, last.observation);
    assert_ne!(last.info.seed, 42);
    let next = env.step(&zero).unwrap().remove(0);
    assert_eq!(next.info.episode_step, 1);
}

// Scene errors name the file, the place and the field.

fn parse_error(text: &str) -> String {
    Scene::parse(text, "scenes/bad.scene.ron")
        .unwrap_err()
        .to_string()
}

fn reach_text() -> String {
    std::fs::read_to_string(scenes_dir().join("reach.scene.ron")).unwrap()
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn malformed_ron_names_file_line_and_column() {
    let text = reach_text().replace("mass: 1.0,", "mass: 1.0,,");
    let line = line_of(&text, "mass: 1.0,,");
    let err = Scene::parse(&text, "scenes/bad.scene.ron").unwrap_err();
    assert!(
        matches!(err, SceneError::Parse { location, .. } if location.line == line),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("scenes/bad.scene.ron:{line}:")),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_refused_with_their_name() {
    let text = reach_text().replace("mass: 1.0,", "mas: 1.0,");
    let err = parse_error(&text);
    let line = line_of(&text, "mas: 1.0,");
    assert!(
        err.starts_with(&format!("scenes/bad.scene.ron:{line}:")),
        "{err}"
    );
    assert!(err.contains("mas"), "{err}");
}

#[test]
fn negative_mass_is_refused_at_its_line() {
    let text = reach_text().replace("mass: 1.0,", "mass: -2.0,");
    let err = parse_error(&text);
    let line = line_of(&text, "mass: -2.0");
    assert!(
        err.starts_with(&format!("scenes/bad.scene.ron:{line}:")),
        "{err}"
    );
    assert!(
        err.contains("bodies[0] \"agent\".mass: must be positive, got -2"),
        "{err}"
    );
}

#[test]
fn a_joint_naming_a_missing_body_is_refused() {
    let text = std::fs::read_to_string(scenes_dir().join("reacher.scene.ron"))
        .unwrap()
        .replace("parent: \"upper_arm\"", "parent: \"upper_arn\"");
    let err = parse_error(&text);
    assert!(
        err.contains("joints[1] \"elbow\".parent: no body is called \"upper_arn\""),
        "{err}"
    );
    let line = line_of(&text, "parent: \"upper_arn\"");
    assert!(
        err.starts_with(&format!("scenes/bad.scene.ron:{line}:")),
        "{err}"
    );
}

#[test]
fn other_invalid_scenes_are_refused_at_their_line_with_the_field() {
    // (text in reach.scene.ron, its replacement, expected message)
    let cases = [
        (
            "low: [-1.0, -1.0]",
            "low: [-1.0]",
            "action_space.low: has 1 entries but the actuators read 2",
        ),
        (
            "scale: 5.0",
            "scale: 0.0",
            "embodiment.actuators[0].scale: must be positive",
        ),
        (
            "control_hz: 10.0",
            "control_hz: -1.0",
            "physics.control_hz: must be positive",
        ),
        (
            "body: \"agent\", position_tolerance",
            "body: \"ghost\", position_tolerance",
            "task.targets[0].body: no body is called \"ghost\"",
        ),
        (
            "z: (-0.85, 0.85))]),\n        goal",
            "z: (-0.85, 3.0))]),\n        goal",
            "task.start.bodies[0].z: (-0.85, 3.0) reaches outside the arena",
        ),
        (
            "fov_degrees: 45.0",
            "fov_degrees: 200.0",
            "cameras[0] \"top\".fov_degrees: must be in (0, 180)",
        ),
        (
            "friction: 0.0",
            "friction: -1.0",
            "bodies[0] \"agent\".material.friction: must be ≥ 0",
        ),
    ];
    for (from, to, expected) in cases {
        let text = reach_text();
        assert!(
            text.contains(from),
            "test case {from:?} no longer matches reach.scene.ron"
        );
        let bad = text.replacen(from, to, 1);
        let err = parse_error(&bad);
        assert!(err.contains(expected), "{from} → {to}: {err}");
        let line = line_of(&bad, to.lines().next().unwrap());
        assert!(
            err.starts_with(&format!("scenes/bad.scene.ron:{line}:")),
            "expected line {line}: {err}"
        );
    }
}

#[test]
fn a_missing_file_is_named() {
    let err = Scene::load("scenes/nope.scene.ron")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("scenes/nope.scene.ron: cannot read scene"),
        "{err}"
    );
}

#[test]
fn joint_torque_turns_the_joint_it_drives() {
    let text = std::fs::read_to_string(scenes_dir().join("reacher.scene.ron"))
        .unwrap()
        .replace(", motor: (max_torque: 5.0, gain: 200.0)", "")
        .replace(
            "JointVelocity(joint: \"shoulder\", scale: 3.0)",
            "JointTorque(joint: \"shoulder\", scale: 0.5)",
        )
        .replace(
            "JointVelocity(joint: \"elbow\", scale: 3.0)",
            "JointTorque(joint: \"elbow\", scale: 0.5)",
        );
    let mut env = Env::new(Scene::parse(&text, "torque.scene.ron").unwrap()).unwrap();
    let (start, _) = env.reset(2).unwrap();
    let mut observation = start.clone();
    for _ in 0..3 {
        observation = env.step(&Action(vec![1.0, 0.0])).unwrap().observation;
    }
    let turned = prefrontal_sim::kinematics::wrap_angle(observation.proprio[0] - start.proprio[0]);
    assert!(
        turned > 0.05,
        "a positive shoulder torque turned the shoulder by {turned} rad"
    );
    assert!(
        observation.proprio[1] > 0.0,
        "shoulder rate {}",
        observation.proprio[1]
    );
}

#[test]
fn a_fixed_joint_carries_its_child_along() {
    let text = r#"(
        name: "carried",
        arena: (half_extent: 2.0),
        bodies: [
            (name: "cart", shape: Box(half_extents: (0.1, 0.05, 0.1)), position: (0.0, 0.05, 0.0), mass: 1.0,
             damping: (linear: 1.0), planar: true),
            (name: "flag", shape: Sphere(radius: 0.05), position: (0.3, 0.05, 0.0), mass: 0.1, gravity_scale: 0.0),
        ],
        joints: [(name: "weld", parent: "cart", child: "flag", anchor_parent: (0.3, 0.0, 0.0), kind: Fixed)],
        embodiment: (actuators: [PlanarForce(body: "cart", scale: 5.0)]),
        action_space: (low: [-1.0, -1.0], high: [1.0, 1.0]),
        task: (max_steps: 50, start: (), goal: (bodies: [(body: "cart", x: (-1.5, -1.5), z: (0.0, 0.0))]),
               targets: [(body: "cart", position_tolerance: 0.1)]),
    )"#;
    let mut env = Env::new(Scene::parse(text, "carried.scene.ron").unwrap()).unwrap();
    env.reset(0).unwrap();
    let mut observation = None;
    for _ in 0..10 {
        observation = Some(env.step(&Action(vec![1.0, 0.0])).unwrap().observation);
    }
    let [cart, flag] = positions(&observation.unwrap())[..] else {
        unreachable!()
    };
    assert!(cart[0] > 0.3, "the cart moved to x = {}", cart[0]);
    assert!(
        (flag[0] - cart[0] - 0.3).abs() < 0.01 && (flag[2] - cart[2]).abs() < 0.01,
        "cart {cart:?}, flag {flag:?}"
    );
}

#[test]
fn a_scene_variant_names_its_first_difference() {
    let text = std::fs::read_to_string(scenes_dir().join("reach.scene.ron")).unwrap();
    let reach = Scene::parse(&text, "reach.scene.ron").unwrap();
    let commented = format!("// A comment changes nothing.\n{text}");
    assert_eq!(
        reach.difference(&Scene::parse(&commented, "commented").unwrap()),
        None
    );
    let variant = |from: &str, to: &str| {
        let changed = Scene::parse(&text.replace(from, to), "variant").unwrap();
        reach.difference(&changed).expect("a variant differs")
    };
    assert_eq!(
        variant("linear: 4.0", "linear: 2.0"),
        "bodies › Body › damping: `linear: 4.0` there, `linear: 2.0` here"
    );
    assert_eq!(
        variant("max_steps: 100", "max_steps: 50"),
        "task: `max_steps: 100` there, `max_steps: 50` here"
    );
}

/// States of `env`'s first world over `actions`, after a restore or a plain run.
fn states_under(env: &mut VecEnv, actions: &[Action]) -> Vec<Vec<f32>> {
    actions
        .iter()
        .map(|action| {
            let step = env.step(std::slice::from_ref(action)).unwrap().remove(0);
            step.observation.state
        })
        .collect()
}

#[test]
fn a_restored_state_continues_as_the_world_it_came_from() {
    for task in shipped_scenes() {
        let scene = scene(&task);
        let mut source = VecEnv::new(scene.clone(), 1).unwrap();
        source.set_auto_reset(false);
        source.set_endless(true);
        source.reset(&[21]).unwrap();
        let mut policy = RandomPolicy::new(&source.action_space(), 4);
        let lead: Vec<Action> = (0..15).map(|_| policy.act()).collect();
        let state = states_under(&mut source, &lead).pop().unwrap();
        let next: Vec<Action> = (0..20).map(|_| policy.act()).collect();
        let expected = states_under(&mut source, &next);

        // Another world, from another seed, put into that state.
        let mut copy = VecEnv::new(scene.clone(), 1).unwrap();
        copy.set_auto_reset(false);
        copy.set_endless(true);
        copy.reset(&[99]).unwrap();
        copy.restore_state(0, &state).unwrap();
        let replayed = states_under(&mut copy, &next);
        for (t, (a, b)) in expected.iter().zip(&replayed).enumerate() {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(worst <= 1e-4, "{task}: step {t} differs by {worst}");
        }
        // A state of the wrong width, or not finite, is refused.
        assert!(copy.restore_state(0, &state[1..]).is_err());
        let mut bad = state.clone();
        bad[0] = f32::NAN;
        assert!(copy.restore_state(0, &bad).is_err());
    }
}

#[test]
fn scenes_are_listed_by_name_and_a_folder_without_any_is_an_error() {
    let names = shipped_scenes();
    assert!(names.iter().any(|name| name == "reach"), "{names:?}");
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
    let empty = std::env::temp_dir().join(format!("prefrontal-no-scenes-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let error = Scene::names_in(&empty).unwrap_err().to_string();
    assert!(
        error.contains(&empty.display().to_string()) && error.contains("no *.scene.ron"),
        "{error}"
    );
    std::fs::remove_dir_all(&empty).unwrap();
}
