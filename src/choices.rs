//! The CLI's value lists, derived from the registries (planners, collection policies,
//! evaluation protocols): a new entry there is a new value here, with its help line.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use prefrontal_agent::PlannerKind;
use prefrontal_agent::eval::ProtocolKind;
use prefrontal_sim::policy::PolicyKind;

/// A value parser accepting the names of `all`, each listed with its help line.
fn registry<T: Copy + Send + Sync + 'static, About: Into<String>>(
    all: &'static [T],
    name: fn(T) -> &'static str,
    about: fn(T) -> About,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(
        all.iter()
            .map(move |&entry| PossibleValue::new(name(entry)).help(about(entry).into())),
    )
    .map(move |text: String| {
        *all.iter()
            .find(|&&entry| name(entry) == text)
            .expect("clap accepts only the listed names")
    })
}

/// `--planner`: every planner of the agent's registry.
pub fn planner() -> impl TypedValueParser<Value = PlannerKind> {
    registry(&PlannerKind::ALL, PlannerKind::name, PlannerKind::about)
}

/// `--policy`: every collection policy of the simulation's registry.
pub fn policy() -> impl TypedValueParser<Value = PolicyKind> {
    registry(&PolicyKind::ALL, PolicyKind::name, PolicyKind::about)
}

/// `--protocol`: every evaluation protocol of the agent's registry.
pub fn protocol() -> impl TypedValueParser<Value = ProtocolKind> {
    registry(&ProtocolKind::ALL, ProtocolKind::name, ProtocolKind::about)
}

/// `--workers`: a count of data-parallel workers, at least 1.
pub fn workers() -> impl TypedValueParser<Value = usize> {
    clap::value_parser!(u16).range(1..).map(usize::from)
}
