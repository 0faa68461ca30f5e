//! The planner itself, with the simulator as its model (the oracle): on `two_rooms` it
//! must find the door, on `reacher_post` swing the arm the long way round the post, neither
//! of which a one-step (greedy) planner does.

use std::sync::Arc;

use bevy::math::{Quat, Vec3};
use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use prefrontal_agent::eval::{
    Contender, EvalOptions, EvalSummary, Protocol, evaluate, pick_episodes,
};
use prefrontal_agent::oracle::{LATENT_PER_BODY, VELOCITY_WEIGHT};
use prefrontal_agent::{
    AgentConfig, Bounds, LatentModel, RonConfig, SimulatorModel, sampling_planner,
};
use prefrontal_sim::policy::RandomPolicy;
use prefrontal_sim::{Action, RenderOptions, Scene, VecEnv};

type B = Flex;

const FRAMESKIP: usize = 5;

fn scene(name: &str) -> Scene {
    Scene::load(format!(
        "{}/../scenes/{name}.scene.ron",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The names of the shipped scenes (`scenes/NAME.scene.ron`), sorted; there is at least one.
fn shipped_scenes() -> Vec<String> {
    Scene::names_in(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenes")).expect("the shipped scenes")
}

fn two_rooms() -> Scene {
    scene("two_rooms")
}

#[test]
fn the_simulator_model_imagines_what_the_simulator_does() {
    let steps = 4;
    for task in shipped_scenes() {
        let scene = scene(&task);
        let model =
            SimulatorModel::<B>::new(Arc::new(scene.clone()), FRAMESKIP, &Default::default());
        let mut env = VecEnv::new(scene.clone(), 1).unwrap();
        env.set_auto_reset(false);
        env.set_endless(true);
        env.reset(&[8]).unwrap();
        let mut policy = RandomPolicy::new(&env.action_space(), 3);
        let mut observation = None;
        for _ in 0..7 {
            observation = Some(env.step(&[policy.act()]).unwrap().remove(0).observation);
        }
        let observation = observation.unwrap();
        // Latents are states with each rotation quaternion written as the body's x and y
        // axes, and velocities down-weighted.
        let latent = model.encode(&[&observation]).unwrap(); // [1, S]
        let values = latent.clone().into_data().to_vec::<f32>().unwrap();
        assert_eq!(values.len() / LATENT_PER_BODY, observation.state.len() / 13);
        for (body, (values, state)) in values
            .chunks_exact(LATENT_PER_BODY)
            .zip(observation.state.chunks_exact(13))
            .enumerate()
        {
            let rotation = Quat::from_slice(&state[3..7]);
            let x = rotation * Vec3::X;
            let y = rotation * Vec3::Y;
            let expected: Vec<f32> = state[0..3]
                .iter()
                .copied()
                .chain(x.to_array())
                .chain(y.to_array())
                .chain(state[7..13].iter().map(|v| v * VELOCITY_WEIGHT))
                .collect();
            for (i, (value, expected)) in values.iter().zip(&expected).enumerate() {
                assert!(
                    (value - expected).abs() <= 1e-5,
                    "{task}: body {body}, component {i}: {value} against {expected}"
                );
            }
        }
        let actions: Vec<Action> = (0..steps * FRAMESKIP).map(|_| policy.act()).collect();
        let flat: Vec<f32> = actions.iter().flat_map(|a| a.0.clone()).collect();
        let width = flat.len() / steps;
        let imagined = model
            .rollout(
                latent.unsqueeze_dim(1),
                Tensor::from_data(
                    TensorData::new(flat, [1, steps, width]),
                    &Default::default(),
                ),
            )
            .unwrap(); // [1, K, S]
        let imagined = imagined.into_data().to_vec::<f32>().unwrap();
        let latent_dim = values.len();
        for (k, chunk) in actions.chunks(FRAMESKIP).enumerate() {
            let mut state = Vec::new();
            for action in chunk {
                state = env
                    .step(std::slice::from_ref(action))
                    .unwrap()
                    .remove(0)
                    .observation
                    .state;
            }
            let expected = model
                .encode(&[&prefrontal_sim::Observation {
                    state,
                    ..observation.clone()
                }])
                .unwrap();
            let expected = expected.into_data().to_vec::<f32>().unwrap();
            let got = &imagined[k * latent_dim..(k + 1) * latent_dim];
            let worst = expected
                .iter()
                .zip(got)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            // A restored world starts without Rapier's contact caches (warm-start impulses,
            // here of the floor contact): states agree to well under a millimetre.
            assert!(
                worst <= 1e-3,
                "{task}: model step {k} differs by {worst}:\n{expected:?}\n{got:?}"
            );
        }
    }
}

fn run(scene: &Scene, config: &AgentConfig, episodes: usize, out: &std::path::Path) -> EvalSummary {
    let model = Arc::new(SimulatorModel::<B>::new(
        Arc::new(scene.clone()),
        FRAMESKIP,
        &Default::default(),
    ));
    let (low, high) = (&scene.action_space.low, &scene.action_space.high);
    let planner = sampling_planner::<B>(config, Bounds::tiled(low, high, FRAMESKIP), 0).unwrap();
    let contender = Contender::Agent {
        model,
        config: config.clone(),
        planner,
    };
    let picked = pick_episodes(
        scene,
        episodes,
        7,
        (0.0, f32::INFINITY),
        Protocol::RandomGoal,
    )
    .unwrap();
    let options = EvalOptions {
        render: RenderOptions {
            camera: None,
            resolution: Some(
                std::env::var("ORACLE_RESOLUTION")
                    .map_or((32, 32), |v| (v.parse().unwrap(), v.parse().unwrap())),
            ),
        },
        out: out.to_owned(),
        gifs: std::env::var("ORACLE_GIFS").map_or(0, |v| v.parse().unwrap()),
    };
    evaluate("oracle", scene, contender, &picked, &options, |_| {}).unwrap()
}

/// The planner of `configs/NAME.agent.ron`.
fn configured(name: &str) -> AgentConfig {
    AgentConfig::load(format!(
        "{}/../configs/{name}.agent.ron",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The planner of `config` reaches at least 90% of 20 goals of `scene` with the simulator as
/// its model, and the same planner looking one model step ahead (greedy) fewer than half.
fn assert_planning_beats_a_greedy_step(scene: &Scene, config: &AgentConfig) {
    let out = tempfile::tempdir().unwrap();
    let greedy = AgentConfig {
        planner: config.planner.clone().with_horizon(1),
        replan_every: 1,
        ..config.clone()
    };
    let episodes = 20;
    let planned = run(scene, config, episodes, &out.path().join("planner"));
    let greedy = run(scene, &greedy, episodes, &out.path().join("greedy"));
    let name = &scene.name;
    eprintln!(
        "{name}: planner {}/{episodes}, greedy {}/{episodes}",
        planned.successes, greedy.successes
    );
    assert!(
        planned.success_rate >= 0.9,
        "{name}: the planner reached {} of {episodes} goals",
        planned.successes
    );
    assert!(
        greedy.success_rate < 0.5,
        "{name}: greedy reached {} of {episodes} goals",
        greedy.successes
    );
}

/// Start and goal lie in opposite rooms: success means the door was passed.
#[test]
fn the_planner_passes_the_door_where_a_greedy_step_does_not() {
    assert_planning_beats_a_greedy_step(&two_rooms(), &configured("two_rooms"));
}

/// Start and goal lie on either side of the post: success means the arm swung the long way
/// round.
#[test]
fn the_planner_swings_the_arm_round_the_post_where_a_greedy_step_does_not() {
    assert_planning_beats_a_greedy_step(&scene("reacher_post"), &configured("reacher_post"));
}

/// Tuning aid: `ORACLE_SWEEP='(planner: …)|(planner: …)' cargo test --test oracle sweep --
/// --ignored --nocapture` runs each agent config on `ORACLE_EPISODES` episodes of
/// `ORACLE_SCENE` (default `two_rooms`); `ORACLE_GIFS=N` writes the first N episodes'
/// GIFs into `ORACLE_OUT`, at `ORACLE_RESOLUTION` pixels square (default 32).
#[test]
#[ignore]
fn sweep() {
    let scene = scene(&std::env::var("ORACLE_SCENE").unwrap_or_else(|_| "two_rooms".into()));
    let out = std::path::PathBuf::from(std::env::var("ORACLE_OUT").unwrap());
    let episodes = std::env::var("ORACLE_EPISODES").map_or(20, |v| v.parse().unwrap());
    for (i, text) in std::env::var("ORACLE_SWEEP")
        .unwrap()
        .split('|')
        .enumerate()
    {
        let config: AgentConfig = ron::from_str(text).unwrap();
        let start = std::time::Instant::now();
        let summary = run(&scene, &config, episodes, &out.join(i.to_string()));
        println!(
            "SWEEP {text}: {}/{} steps {:?} plan_ms {:.0} ({:.0} s)",
            summary.successes,
            summary.episodes,
            summary.steps_to_success,
            summary.plan_ms,
            start.elapsed().as_secs_f64()
        );
    }
}
