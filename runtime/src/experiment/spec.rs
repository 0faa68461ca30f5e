//! The experiment file: its schema, loading (with referenced configs resolved), `--set`
//! overrides and validation.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use prefrontal_agent::eval::{EpisodeSpec, Protocol, pick_episodes};
use prefrontal_agent::{AgentConfig, AgentError, Baseline};
use prefrontal_ronfile::{ConfigError, RonConfig, parse_ron};
use prefrontal_sim::policy::PolicyKind;
use prefrontal_worldmodel::{DeviceKind, WorldModelConfig};
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::experiment::ExperimentError;

/// Collection and evaluation seeds of run seed `s` are offset by `s` times this.
pub const SEED_STRIDE: u64 = 1_000_000;

/// An experiment: the scene, the data, the world model and its training, the agent, the
/// evaluation protocol and the seeds that repeat it all. `W` and `A` are the world-model and
/// agent configs: [`Source`]s as written in a file, the configs themselves once resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec<W, A> {
    /// Names the run folder `runs/<name>/`; letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// A sentence for the report.
    #[serde(default)]
    pub description: String,
    /// The `*.scene.ron` file (relative to the experiment file).
    pub scene: PathBuf,
    /// Where the training data come from.
    #[serde(default)]
    pub data: DataConfig,
    /// The world model: a `*.worldmodel.ron` path or the config inline.
    pub world_model: W,
    /// How long and where the world model trains.
    #[serde(default)]
    pub training: TrainingStage,
    /// The planning agent: a `*.agent.ron` path or the config inline.
    pub agent: A,
    /// The closed-loop evaluation protocol.
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    /// Each seed repeats the whole run in `seed-<s>/`.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// An experiment file as written: configs by path or inline.
pub type ExperimentFile = Spec<Source<WorldModelConfig>, Source<AgentConfig>>;

/// A resolved experiment: every config loaded, overrides applied, paths resolved.
pub type Experiment = Spec<WorldModelConfig, AgentConfig>;

/// A config given by path (`"../configs/reach.agent.ron"`) or inline (`(planner: …)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Source<T> {
    /// A file, relative to the experiment file.
    File(PathBuf),
    /// The config itself.
    Inline(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Source<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for SourceVisitor<T> {
            type Value = Source<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a config file path (a string) or an inline config `( … )`")
            }

            fn visit_str<E: de::Error>(self, path: &str) -> Result<Source<T>, E> {
                Ok(Source::File(PathBuf::from(path)))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Source<T>, E> {
                // `()`: every field at its default.
                let empty = de::value::MapDeserializer::<_, E>::new(std::iter::empty::<((), ())>());
                T::deserialize(empty).map(Source::Inline)
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Source<T>, M::Error> {
                // Field errors inside keep the parser's position: the map is read by RON.
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Source::Inline)
            }
        }
        deserializer.deserialize_any(SourceVisitor(PhantomData))
    }
}

/// Where the world model's training data come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// An existing dataset folder to train on (relative to the experiment file); when
    /// set, nothing is collected and the collection fields below are not used.
    pub dataset: Option<PathBuf>,
    /// Episodes to record.
    pub episodes: usize,
    /// Most actions per episode (episodes also end at success or the task's step limit).
    pub steps: usize,
    /// The exploration policy, or a weighted mix of policies.
    pub policy: Exploration,
    /// Worlds recording together.
    pub envs: usize,
    /// Episode `e` uses seed `seed + e` (plus the run seed's offset).
    pub seed: u64,
    /// Frame width and height (the camera's when `None`).
    pub size: Option<u32>,
    /// The scene camera to render (the first when `None`).
    pub camera: Option<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: None,
            episodes: 64,
            steps: 100,
            policy: Exploration::Only(PolicyKind::Smooth),
            envs: 16,
            seed: 0,
            size: None,
            camera: None,
        }
    }
}

/// Which actions the data collection takes: one policy of the registry
/// ([`PolicyKind`], written by its name: `Smooth`), or several (`Mix([(Smooth, 2.0),
/// (Random, 1.0)])`).
#[derive(Debug, Clone, PartialEq)]
pub enum Exploration {
    /// One policy for every episode.
    Only(PolicyKind),
    /// Several policies, each for a share of the episodes proportional to its weight.
    Mix(Vec<(PolicyKind, f64)>),
}

/// The name of [`Exploration::Mix`] in experiment files.
const MIX: &str = "Mix";

/// A policy's variant name in experiment files (`Smooth`), as its serde form writes it.
fn policy_variant(kind: PolicyKind) -> String {
    ron::to_string(&kind).expect("a policy is a unit variant")
}

/// The names `Exploration` accepts: every policy's, then `Mix`.
fn exploration_variants() -> &'static [&'static str] {
    static VARIANTS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    VARIANTS.get_or_init(|| {
        PolicyKind::ALL
            .into_iter()
            .map(|kind| &*policy_variant(kind).leak())
            .chain([MIX])
            .collect()
    })
}

/// An enum variant's name, read as an identifier (RON writes variants bare, not quoted).
struct VariantName(String);

impl<'de> Deserialize<'de> for VariantName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = VariantName;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a variant name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<VariantName, E> {
                Ok(VariantName(name.to_owned()))
            }
        }
        deserializer.deserialize_identifier(NameVisitor)
    }
}

impl Serialize for Exploration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // A lone policy is written as the policy's own variant name.
            Exploration::Only(kind) => kind.serialize(serializer),
            Exploration::Mix(mix) => serializer.serialize_newtype_variant(
                "Exploration",
                PolicyKind::ALL.len() as u32,
                MIX,
                mix,
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Exploration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExplorationVisitor;
        impl<'de> Visitor<'de> for ExplorationVisitor {
            type Value = Exploration;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a policy (e.g. `Smooth`) or `Mix([(policy, weight), …])`")
            }

            fn visit_enum<E: de::EnumAccess<'de>>(self, data: E) -> Result<Exploration, E::Error> {
                use de::VariantAccess;
                let (VariantName(name), variant) = data.variant()?;
                if name == MIX {
                    return variant.newtype_variant().map(Exploration::Mix);
                }
                let kind = PolicyKind::ALL
                    .into_iter()
                    .find(|kind| policy_variant(*kind) == name)
                    .ok_or_else(|| de::Error::unknown_variant(&name, exploration_variants()))?;
                variant.unit_variant()?;
                Ok(Exploration::Only(kind))
            }
        }
        deserializer.deserialize_enum("Exploration", exploration_variants(), ExplorationVisitor)
    }
}

impl Exploration {
    /// Episodes per policy, in order: shares by weight, rounded by largest remainder so
    /// that they add up to `episodes`.
    pub fn split(&self, episodes: usize) -> Vec<(PolicyKind, usize)> {
        let mix = match self {
            Exploration::Only(kind) => return vec![(*kind, episodes)],
            Exploration::Mix(mix) => mix,
        };
        let total: f64 = mix.iter().map(|(_, w)| w).sum();
        let exact: Vec<f64> = mix
            .iter()
            .map(|(_, w)| episodes as f64 * w / total)
            .collect();
        let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
        let mut order: Vec<usize> = (0..mix.len()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
            rb.total_cmp(&ra).then(a.cmp(&b))
        });
        let missing = episodes - counts.iter().sum::<usize>();
        for &i in order.iter().take(missing) {
            counts[i] += 1;
        }
        mix.iter().zip(counts).map(|((p, _), n)| (*p, n)).collect()
    }
}

/// How long and where the world model trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingStage {
    /// Optimiser steps; replaces the world-model config's `training.steps` when set.
    pub steps: Option<u64>,
    /// Where training, probing and planning run.
    pub device: DeviceKind,
}

/// The closed-loop evaluation protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// How goals are chosen and the step budget: `RandomGoal` or
    /// `TrajectoryOffset(offset: 25, budget: 50)`.
    pub protocol: Protocol,
    /// Start/goal pairs, the same for the agent and every baseline.
    pub episodes: usize,
    /// Seed of the episode sequence (plus the run seed's offset).
    pub seed: u64,
    /// Easiest episode: smallest start-to-goal distance.
    pub min_distance: f32,
    /// Hardest episode: largest start-to-goal distance (`None`: no limit).
    pub max_distance: Option<f32>,
    /// Baselines run on the same episodes.
    pub baselines: Vec<Baseline>,
    /// Episodes (the first ones) that get a rollout GIF, per contender.
    pub gifs: usize,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            protocol: Protocol::default(),
            episodes: 20,
            seed: 1000,
            min_distance: 0.0,
            max_distance: None,
            baselines: vec![Baseline::Random, Baseline::Greedy, Baseline::Oracle],
            gifs: 4,
        }
    }
}

impl EvaluationConfig {
    /// The difficulty range as (lowest, highest) start-to-goal distance.
    pub fn distance_range(&self) -> (f32, f32) {
        (
            self.min_distance,
            self.max_distance.unwrap_or(f32::INFINITY),
        )
    }
}

/// The values that one repetition (run seed) of an experiment uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeded {
    /// The run seed.
    pub seed: u64,
    /// First collection seed.
    pub collect_seed: u64,
    /// The world model with its training seed offset by the run seed.
    pub world_model: WorldModelConfig,
    /// Seed of the evaluation's episode sequence.
    pub evaluation_seed: u64,
}

impl Experiment {
    /// Loads an experiment file, resolves the configs it references, applies `--set`
    /// assignments (`path.to.field=value`) and validates the result.
    pub fn load(file: &Path, assignments: &[String]) -> Result<Experiment, ExperimentError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
            file: file.to_owned(),
            source,
        })?;
        let written: ExperimentFile =
            parse_ron(&text).map_err(|(location, message)| ConfigError::Syntax {
                file: file.to_owned(),
                location,
                message,
            })?;
        let base = file.parent().unwrap_or(Path::new("")).to_owned();
        let experiment = Spec {
            world_model: resolve(written.world_model, &base, file, "world_model")?,
            agent: resolve(written.agent, &base, file, "agent")?,
            name: written.name,
            description: written.description,
            scene: written.scene,
            data: written.data,
            training: written.training,
            evaluation: written.evaluation,
            seeds: written.seeds,
        };
        let (stage_steps, config_steps) = (
            experiment.training.steps,
            experiment.world_model.training.steps,
        );
        let mut experiment = crate::experiment::overrides::apply(experiment, assignments, file)?;
        // `training.steps` replaces the config's steps; a `--set` of either one wins, and
        // contradicting `--set`s of both are refused.
        if let Some(stage) = experiment.training.steps {
            let config = experiment.world_model.training.steps;
            let (set_stage, set_config) = (Some(stage) != stage_steps, config != config_steps);
            if set_config && !set_stage {
                experiment.training.steps = Some(config);
            } else if set_config && stage != config {
                return Err(ConfigError::Value {
                    file: file.to_owned(),
                    field: "training.steps".into(),
                    message: format!(
                        "--set gives {stage} here and {config} in world_model.training.steps; set one"
                    ),
                }
                .into());
            } else {
                experiment.world_model.training.steps = stage;
            }
        }
        experiment
            .validate()
            .map_err(|(field, message)| ConfigError::Value {
                file: file.to_owned(),
                field,
                message,
            })?;
        experiment.scene = base.join(&experiment.scene);
        if let Some(dataset) = &experiment.data.dataset {
            experiment.data.dataset = Some(base.join(dataset));
        }
        Ok(experiment)
    }

    /// Checks what the types allow but a run cannot use; returns the field and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |field: &str, message: String| Err((field.to_owned(), message));
        let name_ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if self.name.is_empty() || !self.name.chars().all(name_ok) || self.name.starts_with('.') {
            return fail(
                "name",
                format!(
                    "`{}` cannot name a folder: use letters, digits, `-`, `_` and `.`",
                    self.name
                ),
            );
        }
        if self.seeds.is_empty() {
            return fail("seeds", "must hold at least one seed".into());
        }
        let mut seeds = self.seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        if seeds.len() != self.seeds.len() {
            return fail("seeds", format!("{:?} repeats a seed", self.seeds));
        }
        let data = &self.data;
        if data.dataset.is_none() {
            if data.episodes < 2 {
                return fail(
                    "data.episodes",
                    format!(
                        "must be at least 2 (training and validation episodes), got {}",
                        data.episodes
                    ),
                );
            }
            if data.steps == 0 {
                return fail("data.steps", "must be at least 1".into());
            }
            if data.envs == 0 {
                return fail("data.envs", "must be at least 1".into());
            }
            if data.size == Some(0) {
                return fail("data.size", "must be at least 1 pixel".into());
            }
            if let Exploration::Mix(mix) = &data.policy {
                if mix.is_empty() {
                    return fail("data.policy", "Mix needs at least one policy".into());
                }
                if let Some((policy, weight)) =
                    mix.iter().find(|(_, w)| !(w.is_finite() && *w > 0.0))
                {
                    return fail(
                        "data.policy",
                        format!("the weight of {policy:?} must be positive, got {weight}"),
                    );
                }
            }
        }
        if self.training.steps == Some(0) {
            return fail("training.steps", "must be at least 1".into());
        }
        let evaluation = &self.evaluation;
        evaluation
            .protocol
            .validate()
            .map_err(|message| ("evaluation.protocol".to_owned(), message))?;
        if evaluation.episodes == 0 {
            return fail("evaluation.episodes", "must be at least 1".into());
        }
        let (low, high) = evaluation.distance_range();
        if low.is_nan() || low < 0.0 {
            return fail(
                "evaluation.min_distance",
                format!("must be at least 0, got {low}"),
            );
        }
        if high.is_nan() || high < low {
            return fail(
                "evaluation.max_distance",
                format!("must not be below min_distance ({low}), got {high}"),
            );
        }
        let baselines = &evaluation.baselines;
        if let Some(twice) = (1..baselines.len()).find(|&i| baselines[..i].contains(&baselines[i]))
        {
            return fail(
                "evaluation.baselines",
                format!("lists {:?} twice", baselines[twice]),
            );
        }
        self.world_model
            .validate()
            .map_err(|(field, message)| (format!("world_model.{field}"), message))?;
        self.agent
            .validate()
            .map_err(|(field, message)| (format!("agent.{field}"), message))?;
        Ok(())
    }

    /// The values run seed `seed` uses: collection and evaluation seeds offset by
    /// `seed × 1,000,000`, the training seed by `seed`.
    pub fn seeded(&self, seed: u64) -> Seeded {
        let mut world_model = self.world_model.clone();
        world_model.training.seed = world_model.training.seed.wrapping_add(seed);
        Seeded {
            seed,
            collect_seed: self.data.seed.wrapping_add(seed.wrapping_mul(SEED_STRIDE)),
            world_model,
            evaluation_seed: self
                .evaluation
                .seed
                .wrapping_add(seed.wrapping_mul(SEED_STRIDE)),
        }
    }

    /// The held-out episodes (start and goal) run seed `seed` is evaluated on in `scene`.
    pub fn evaluation_episodes(
        &self,
        scene: &prefrontal_sim::Scene,
        seed: u64,
    ) -> Result<Vec<EpisodeSpec>, AgentError> {
        let evaluation = &self.evaluation;
        pick_episodes(
            scene,
            evaluation.episodes,
            self.seeded(seed).evaluation_seed,
            evaluation.distance_range(),
            evaluation.protocol,
        )
    }

    /// This experiment restricted to one run seed, as written into that run's folder.
    pub fn for_seed(&self, seed: u64) -> Experiment {
        Experiment {
            seeds: vec![seed],
            ..self.clone()
        }
    }

    /// Pretty RON text (a valid experiment file: configs inline).
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .expect("an experiment always serialises")
    }
}

/// Loads a config given by path (relative to the experiment file) or validates one
/// given inline; errors name the file and the field.
fn resolve<T: RonConfig>(
    source: Source<T>,
    base: &Path,
    file: &Path,
    section: &str,
) -> Result<T, ExperimentError> {
    match source {
        Source::File(path) => {
            T::load(base.join(path)).map_err(|source| ExperimentError::Referenced {
                file: file.to_owned(),
                field: section.to_owned(),
                source,
            })
        }
        Source::Inline(config) => {
            config
                .validate()
                .map_err(|(field, message)| ConfigError::Value {
                    file: file.to_owned(),
                    field: format!("{section}.{field}"),
                    message,
                })?;
            Ok(config)
        }
    }
}
