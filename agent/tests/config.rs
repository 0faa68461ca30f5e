//! Agent configs: the shipped file loads, bad files name the file, place and problem.

use prefrontal_agent::{AgentConfig, PlannerConfig, RonConfig};
use prefrontal_ronfile::ConfigError;

#[test]
fn the_shipped_reach_config_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/reach.agent.ron");
    let config = AgentConfig::load(path).unwrap();
    assert!(matches!(config.planner, PlannerConfig::Cem(_)));
    assert_eq!(
        AgentConfig::parse(&config.to_ron(), "again.ron").unwrap(),
        config
    );
}

#[test]
fn unknown_fields_name_file_line_and_column() {
    let text = "(\n    planner: Cem((samples: 10, elitez: 2)),\n)";
    let error = AgentConfig::parse(text, "bad.agent.ron").unwrap_err();
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("bad.agent.ron:2:"), "{message}");
    assert!(message.contains("elitez"), "{message}");
}

#[test]
fn impossible_values_name_the_field() {
    let cases = [
        (
            "(planner: Cem((samples: 10, elites: 20)))",
            "planner.elites",
        ),
        ("(planner: Mppi((temperature: 0.0)))", "planner.temperature"),
        (
            "(planner: Gradient((learning_rate: -1.0)))",
            "planner.learning_rate",
        ),
        ("(replan_every: 9)", "replan_every"),
        ("(planner: Cem((momentum: 1.0)))", "planner.momentum"),
    ];
    for (text, field) in cases {
        let error = AgentConfig::parse(text, "x.ron").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("x.ron: {field}:")),
            "{text}: {message}"
        );
    }
}

#[test]
fn every_registered_planner_names_and_builds_itself() {
    use prefrontal_agent::PlannerKind;
    let mut names = Vec::new();
    for kind in PlannerKind::ALL {
        assert_eq!(kind.default_config().kind(), kind, "{kind:?}");
        assert_eq!(kind.quick_config().kind(), kind, "{kind:?}");
        assert_eq!(kind.default_config().name(), kind.name());
        assert_eq!(PlannerKind::from_name(kind.name()), Some(kind));
        assert!(!kind.about().is_empty() && !kind.label().is_empty());
        // The quick settings are smaller than the defaults in every dimension.
        let (quick, default) = (kind.quick_config(), kind.default_config());
        assert!(quick.samples() <= default.samples() && quick.iterations() < default.iterations());
        // Every config survives its RON form.
        let config = AgentConfig {
            planner: quick,
            ..AgentConfig::default()
        };
        assert_eq!(
            AgentConfig::parse(&config.to_ron(), "x.ron").unwrap(),
            config
        );
        names.push(kind.name());
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PlannerKind::ALL.len(), "names are unique");
    assert_eq!(PlannerKind::from_name("nope"), None);
}

#[test]
fn every_registered_protocol_keeps_its_kind() {
    use prefrontal_agent::eval::ProtocolKind;
    for kind in ProtocolKind::ALL {
        let protocol = kind.with(25, 50);
        assert_eq!(protocol.kind(), kind);
        assert!(protocol.validate().is_ok(), "{kind:?}");
    }
}
