//! Experiment files: configs by path or inline, overrides, seeds, fingerprints, HParams.

use std::path::Path;

use prefrontal_board::HParam;
use prefrontal_runtime::experiment::{
    Experiment, ExperimentError, Exploration, Fingerprints, Stage,
};
use prefrontal_sim::policy::PolicyKind;

/// Writes an experiment beside the repository's configs and loads it.
fn load(text: &str, set: &[&str]) -> Result<Experiment, ExperimentError> {
    let dir = tempfile::tempdir().unwrap();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let file = dir.path().join("x.experiment.ron");
    let text = text.replace("CONFIGS", configs.to_str().unwrap());
    std::fs::write(&file, text).unwrap();
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    Experiment::load(&file, &set)
}

const BY_PATH: &str = r#"(
    name: "reach-test",
    scene: "../scenes/reach.scene.ron",
    world_model: "CONFIGS/reach.worldmodel.ron",
    training: (steps: 7),
    agent: "CONFIGS/reach.agent.ron",
    seeds: [0, 3],
)"#;

#[test]
fn configs_load_by_path_or_inline_and_training_steps_replace_the_configs() {
    let by_path = load(BY_PATH, &[]).unwrap();
    assert_eq!(by_path.world_model.training.steps, 7);
    assert_eq!(by_path.agent.planner.name(), "cem");
    let inline = load(
        r#"(
            name: "inline",
            scene: "s.scene.ron",
            world_model: (model: (latent_dim: 32), training: (steps: 5)),
            agent: (planner: Mppi((samples: 10))),
        )"#,
        &[],
    )
    .unwrap();
    assert_eq!(inline.world_model.model.latent_dim, 32);
    assert_eq!(inline.world_model.training.steps, 5);
    assert_eq!(inline.agent.planner.name(), "mppi");
    assert_eq!(inline.seeds, [0]);
    // A resolved experiment written out reads back the same.
    let text = by_path.to_ron();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resolved.ron");
    std::fs::write(&file, &text).unwrap();
    let reread = Experiment::load(&file, &[]).unwrap();
    assert_eq!(reread.world_model, by_path.world_model);
    assert_eq!(reread.agent, by_path.agent);
}

#[test]
fn an_unknown_field_inside_an_inline_config_names_its_line() {
    let error = load(
        "(\n  name: \"x\",\n  scene: \"s\",\n  world_model: (\n    model: (latent_dimm: 3),\n  ),\n  agent: (),\n)",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("x.experiment.ron:5:") && error.contains("latent_dimm"),
        "{error}"
    );
}

#[test]
fn overrides_set_existing_fields_and_name_missing_ones() {
    let experiment = load(
        BY_PATH,
        &[
            "world_model.model.latent_dim=64",
            "agent.planner.Cem.samples=50",
            "data.policy=Scripted",
            "evaluation.max_distance=0.5",
            "training.steps=9",
        ],
    )
    .unwrap();
    assert_eq!(experiment.world_model.model.latent_dim, 64);
    assert_eq!(experiment.world_model.training.steps, 9);
    assert_eq!(
        experiment.data.policy,
        Exploration::Only(PolicyKind::Scripted)
    );
    assert_eq!(experiment.evaluation.max_distance, Some(0.5));
    let missing = load(BY_PATH, &["evaluation.episodez=3"])
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("--set evaluation.episodez=3")
            && missing.contains("`evaluation` has no field `episodez`")
            && missing.contains("episodes"),
        "{missing}"
    );
    let wrong = load(BY_PATH, &["evaluation.episodes=many"])
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("does not fit"), "{wrong}");
    let invalid = load(BY_PATH, &["evaluation.episodes=0"])
        .unwrap_err()
        .to_string();
    assert!(
        invalid.contains("evaluation.episodes: must be at least 1"),
        "{invalid}"
    );
    let named = load(BY_PATH, &["name=2024"]).unwrap();
    assert_eq!(named.name, "2024");
    let no_equals = load(BY_PATH, &["seeds"]).unwrap_err().to_string();
    assert!(no_equals.contains("path.to.field=value"), "{no_equals}");
}

#[test]
fn a_mix_splits_episodes_by_weight_and_keeps_the_total() {
    let mix = Exploration::Mix(vec![
        (PolicyKind::Smooth, 2.0),
        (PolicyKind::Scripted, 1.0),
        (PolicyKind::Random, 1.0),
    ]);
    assert_eq!(
        mix.split(10),
        [
            (PolicyKind::Smooth, 5),
            (PolicyKind::Scripted, 3),
            (PolicyKind::Random, 2)
        ]
    );
    assert_eq!(
        mix.split(4).iter().map(|(_, n)| n).sum::<usize>(),
        4,
        "{:?}",
        mix.split(4)
    );
    assert_eq!(
        Exploration::Only(PolicyKind::Smooth).split(7),
        [(PolicyKind::Smooth, 7)]
    );
}

#[test]
fn run_seeds_offset_data_training_and_evaluation_seeds() {
    let experiment = load(BY_PATH, &[]).unwrap();
    let (zero, three) = (experiment.seeded(0), experiment.seeded(3));
    assert_eq!(zero.collect_seed, experiment.data.seed);
    assert_eq!(three.collect_seed, experiment.data.seed + 3_000_000);
    assert_eq!(
        three.world_model.training.seed,
        experiment.world_model.training.seed + 3
    );
    assert_eq!(
        three.evaluation_seed,
        experiment.evaluation.seed + 3_000_000
    );
}

#[test]
fn a_changed_input_changes_its_stage_and_every_later_one() {
    let experiment = load(BY_PATH, &[]).unwrap();
    let base = Fingerprints::new(&experiment, 0, "scene", None);
    let changed = |other: &Fingerprints| -> Vec<Stage> {
        Stage::ALL
            .into_iter()
            .filter(|&s| base.of(s) != other.of(s))
            .collect()
    };
    let mut evaluation = experiment.clone();
    evaluation.evaluation.seed += 1;
    assert_eq!(
        changed(&Fingerprints::new(&evaluation, 0, "scene", None)),
        [Stage::Evaluate, Stage::Report]
    );
    let mut model = experiment.clone();
    model.world_model.model.latent_dim = 7;
    assert_eq!(
        changed(&Fingerprints::new(&model, 0, "scene", None)),
        [Stage::Train, Stage::Probe, Stage::Evaluate, Stage::Report]
    );
    assert_eq!(
        changed(&Fingerprints::new(&experiment, 0, "other scene", None)).len(),
        5
    );
    assert_eq!(
        changed(&Fingerprints::new(&experiment, 1, "scene", None)).len(),
        5
    );
    assert_eq!(
        changed(&Fingerprints::new(&experiment, 0, "scene", None)).len(),
        0
    );
}

#[test]
fn hparams_flatten_every_field_with_readable_numbers() {
    let experiment = load(BY_PATH, &[]).unwrap();
    let hparams = prefrontal_runtime::experiment::hparams(&experiment, 3);
    let get = |name: &str| {
        hparams
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in {hparams:?}"))
            .1
            .clone()
    };
    assert_eq!(get("seed"), HParam::Number(3.0));
    assert_eq!(get("name"), HParam::Text("reach-test".into()));
    assert_eq!(get("world_model.model.latent_dim"), HParam::Number(128.0));
    assert_eq!(
        get("world_model.objective.anti_collapse.Sigreg.weight"),
        HParam::Number(0.01)
    );
    assert_eq!(get("world_model.model.use_proprio"), HParam::Bool(false));
    assert!(hparams.iter().all(|(n, _)| n != "seeds"));
}

#[test]
fn a_set_of_either_step_count_wins_and_contradicting_sets_are_refused() {
    let config = load(BY_PATH, &["world_model.training.steps=11"]).unwrap();
    assert_eq!(config.world_model.training.steps, 11);
    assert_eq!(config.training.steps, Some(11));
    let stage = load(BY_PATH, &["training.steps=13"]).unwrap();
    assert_eq!(stage.world_model.training.steps, 13);
    let both = load(
        BY_PATH,
        &["training.steps=13", "world_model.training.steps=11"],
    )
    .unwrap_err()
    .to_string();
    assert!(
        both.contains("training.steps") && both.contains("set one"),
        "{both}"
    );
}

#[test]
fn a_baseline_listed_twice_is_refused_wherever_it_repeats() {
    let error = load(
        BY_PATH,
        &[r#"evaluation.baselines=["Random","Greedy","Random"]"#],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("evaluation.baselines: lists Random twice"),
        "{error}"
    );
}

#[test]
fn the_evaluation_protocol_is_read_and_checked() {
    use prefrontal_agent::eval::Protocol;
    let default = load(BY_PATH, &[]).unwrap();
    assert_eq!(default.evaluation.protocol, Protocol::RandomGoal);
    let offset = BY_PATH.replace(
        "seeds: [0, 3],",
        "evaluation: (protocol: TrajectoryOffset(offset: 25, budget: 50)),\n    seeds: [0, 3],",
    );
    assert_eq!(
        load(&offset, &[]).unwrap().evaluation.protocol,
        Protocol::PAPERS
    );
    let zero = offset.replace("offset: 25", "offset: 0");
    let error = load(&zero, &[]).unwrap_err().to_string();
    assert!(
        error.contains("evaluation.protocol") && error.contains("offset must be at least 1"),
        "{error}"
    );
}

#[test]
fn exploration_is_written_as_the_policy_or_a_mix_in_ron_and_json() {
    for kind in PolicyKind::ALL {
        let only = Exploration::Only(kind);
        let ron = ron::to_string(&only).unwrap();
        assert!(!ron.contains("Only"), "{ron}");
        assert_eq!(ron::from_str::<Exploration>(&ron).unwrap(), only);
        let json = serde_json::to_string(&only).unwrap();
        assert_eq!(serde_json::from_str::<Exploration>(&json).unwrap(), only);
    }
    let mix = Exploration::Mix(vec![(PolicyKind::Smooth, 2.0), (PolicyKind::Random, 1.0)]);
    let ron = ron::to_string(&mix).unwrap();
    assert_eq!(ron, "Mix([(Smooth,2.0),(Random,1.0)])");
    assert_eq!(ron::from_str::<Exploration>(&ron).unwrap(), mix);
    let json = serde_json::to_string(&mix).unwrap();
    assert_eq!(serde_json::from_str::<Exploration>(&json).unwrap(), mix);
    let error = ron::from_str::<Exploration>("Wander")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Wander") && error.contains("Smooth") && error.contains("Mix"),
        "{error}"
    );
}
