//! The README's Rust examples, verbatim between the `README` markers below: they compile and
//! run here, and `the_readme_shows_these_examples` fails when the README's code differs.

mod common;

use std::error::Error;

use common::{collect, scratch, train};

#[test]
fn the_simulation_example_runs() -> Result<(), Box<dyn Error>> {
    // README begin
    use prefrontal_sim::{Action, Scene, VecEnv};

    let scene = Scene::load("scenes/push.scene.ron")?;
    let mut env = VecEnv::new(scene, 16)?; // 16 worlds in one Bevy App
    let first = env.reset(&(0..16).collect::<Vec<u64>>())?; // per-env seeds
    let steps = env.step(&vec![Action(vec![0.5, -0.2]); 16])?;
    for step in &steps {
        // step.observation.{proprio, state}, step.terminated, step.truncated,
        // step.info.{distance, final_observation, action_clipped, ...}
        println!("reward {:.3}, success {}", step.reward, step.info.success);
    }
    // README end
    assert_eq!((first.len(), steps.len()), (16, 16));
    Ok(())
}

#[test]
fn the_agent_example_runs() -> Result<(), Box<dyn Error>> {
    let dir = scratch("readme-agent");
    let data = collect(&dir, "2");
    let run = dir.join("run");
    train(
        &data,
        "configs/reach.worldmodel.ron",
        run.to_str().unwrap(),
        Some("1"),
    );
    let checkpoint = prefrontal_worldmodel::Checkpoint::open(&run)?;
    let device = burn::backend::flex::FlexDevice;
    let scene = prefrontal_sim::Scene::load("scenes/reach.scene.ron")?;
    let spec = &checkpoint.state.spec;
    let render = prefrontal_sim::RenderOptions {
        camera: None,
        resolution: Some((spec.width as u32, spec.height as u32)),
    };
    let seed = 3;
    use prefrontal_sim::VecEnv;
    // README begin
    use prefrontal_agent::{
        AgentConfig, AgentMode, AgentPlugin, Agents, Bounds, JepaModel, LatentModel, RonConfig,
        sampling_planner,
    };
    use std::sync::Arc;

    let model = Arc::new(JepaModel::<burn::backend::Flex>::load(
        &checkpoint,
        &device,
    )?);
    let config = AgentConfig::load("configs/reach.agent.ron")?;
    let (low, high) = (&scene.action_space.low, &scene.action_space.high);
    let bounds = Bounds::tiled(low, high, model.spec().frameskip);
    let agents = Agents::new(
        AgentMode::Lockstep,
        model,
        1,
        config.replan_every,
        (low, high),
        |_| sampling_planner(&config, bounds.clone(), 0).unwrap(),
    );
    let mut env = VecEnv::with_plugins(scene, 1, Some(render), AgentPlugin::new(agents))?;
    env.reset(&[seed])?;
    let goal = env.goal_observations()?.remove(0);
    env.app_mut()
        .world_mut()
        .resource_mut::<Agents<burn::backend::Flex>>()
        .start_episode(0, goal, seed);
    let step = env.step_driven()?; // the agent chose the action
    // README end
    assert_eq!(step.len(), 1);
    let agents = env
        .app_mut()
        .world_mut()
        .resource::<Agents<burn::backend::Flex>>();
    assert_eq!(agents.plans(), 1, "the agent planned the step it took");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn the_runtime_example_runs() -> Result<(), Box<dyn Error>> {
    let dir = scratch("readme-runtime");
    let data = collect(&dir, "2");
    let run = dir.join("run");
    // README begin
    use prefrontal_runtime::{Device, Event};
    use prefrontal_worldmodel::{RonConfig, TrainEvent, TrainOptions, WorldModelConfig};

    let options = TrainOptions {
        data: data.into(), // a dataset folder, e.g. from `prefrontal collect`
        out: run.clone(),
        config: Some(WorldModelConfig::load("configs/reach.worldmodel.ron")?),
        steps: Some(2),
        resume: false,
        stop_after: None,
        interrupt: None, // an Arc<AtomicBool> that stops training with a checkpoint
        workers: None,   // overrides training.workers (data-parallel workers)
    };
    let mut losses = Vec::new();
    let summary = prefrontal_runtime::train(&options, Device::default(), &mut |event| {
        if let Event::Train(TrainEvent::Step { losses: step, .. }) = event {
            losses.push(step.total);
        }
    })?;
    // README end
    assert_eq!((summary.step, losses.len()), (2, 2));
    assert!(losses.iter().all(|loss| loss.is_finite()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Field names in a RON text: identifiers directly followed by a colon.
fn field_names(ron: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in ron
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
    {
        for part in line.split(':').rev().skip(1) {
            let word: String = part
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                names.insert(word.chars().rev().collect());
            }
        }
    }
    names
}

#[test]
fn the_reach_configs_write_out_every_field_as_the_readme_says() {
    use prefrontal_agent::AgentConfig;
    use prefrontal_worldmodel::{RonConfig, WorldModelConfig};
    let world_model = WorldModelConfig::default().to_ron();
    let agent = AgentConfig::default().to_ron();
    for (file, every_field) in [
        ("configs/reach.worldmodel.ron", world_model),
        ("configs/reach.agent.ron", agent),
    ] {
        let written = field_names(&std::fs::read_to_string(file).unwrap());
        let expected = field_names(&every_field);
        assert!(expected.len() > 5, "{every_field}");
        let missing: Vec<_> = expected.difference(&written).collect();
        assert!(missing.is_empty(), "{file} lacks {missing:?}");
    }
}

/// The blocks between `// README begin` and `// README end` in this file, de-indented.
fn blocks_here() -> Vec<String> {
    let source = include_str!("readme.rs");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in source.lines() {
        match (line.trim(), &mut current) {
            ("// README begin", None) => current = Some(Vec::new()),
            ("// README end", Some(lines)) => {
                blocks.push(
                    lines
                        .iter()
                        .map(|l| l.strip_prefix("    ").unwrap_or(l))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                current = None;
            }
            (_, Some(lines)) => lines.push(line),
            _ => {}
        }
    }
    blocks
}

/// The README's ```rust blocks.
fn readme_blocks() -> Vec<String> {
    let readme = include_str!("../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in readme.lines() {
        match (line, &mut current) {
            ("```rust", None) => current = Some(Vec::new()),
            ("```", Some(lines)) => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (_, Some(lines)) => lines.push(line),
            _ => {}
        }
    }
    blocks
}

#[test]
fn the_readme_shows_these_examples() {
    let (here, readme) = (blocks_here(), readme_blocks());
    assert_eq!(here.len(), 3);
    assert_eq!(
        readme, here,
        "the README's Rust blocks must be the tested code in tests/readme.rs"
    );
}
