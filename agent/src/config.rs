//! The agent's RON configuration: planner, energy and replanning.

use serde::{Deserialize, Serialize};

use prefrontal_ronfile::RonConfig;

/// How the agent plans and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The search over action sequences.
    #[serde(default)]
    pub planner: PlannerConfig,
    /// What a predicted latent trajectory costs.
    #[serde(default)]
    pub energy: Energy,
    /// Model steps (each `frameskip` simulator steps) executed between plans.
    #[serde(default = "one")]
    pub replan_every: usize,
    /// Sample one action per model step and hold it for its `frameskip` simulator steps:
    /// the search has `A` numbers per model step instead of `A·frameskip`, so candidates
    /// travel in a direction instead of averaging their noise away.
    #[serde(default)]
    pub hold_actions: bool,
}

fn one() -> usize {
    1
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            planner: PlannerConfig::default(),
            energy: Energy::default(),
            replan_every: 1,
            hold_actions: false,
        }
    }
}

/// One of the planners, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlannerConfig {
    /// Cross-entropy method.
    Cem(CemConfig),
    /// Model-predictive path integral control.
    Mppi(MppiConfig),
    /// Adam on the action sequence through the predictor.
    Gradient(GradientConfig),
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig::Cem(CemConfig::default())
    }
}

impl PlannerConfig {
    /// Which planner this is.
    pub fn kind(&self) -> PlannerKind {
        match self {
            PlannerConfig::Cem(_) => PlannerKind::Cem,
            PlannerConfig::Mppi(_) => PlannerKind::Mppi,
            PlannerConfig::Gradient(_) => PlannerKind::Gradient,
        }
    }

    /// Model steps planned ahead.
    pub fn horizon(&self) -> usize {
        match self {
            PlannerConfig::Cem(c) => c.horizon,
            PlannerConfig::Mppi(c) => c.horizon,
            PlannerConfig::Gradient(c) => c.horizon,
        }
    }

    /// Candidate sequences per iteration (one batch through the model).
    pub fn samples(&self) -> usize {
        match self {
            PlannerConfig::Cem(c) => c.samples,
            PlannerConfig::Mppi(c) => c.samples,
            PlannerConfig::Gradient(c) => c.samples,
        }
    }

    /// Iterations (refits, updates or Adam steps) per plan.
    pub fn iterations(&self) -> usize {
        match self {
            PlannerConfig::Cem(c) => c.iterations,
            PlannerConfig::Mppi(c) => c.iterations,
            PlannerConfig::Gradient(c) => c.iterations,
        }
    }

    /// The same planner looking `horizon` model steps ahead.
    pub fn with_horizon(mut self, horizon: usize) -> Self {
        match &mut self {
            PlannerConfig::Cem(c) => c.horizon = horizon,
            PlannerConfig::Mppi(c) => c.horizon = horizon,
            PlannerConfig::Gradient(c) => c.horizon = horizon,
        }
        self
    }

    /// The planner's short name: `cem`, `mppi` or `gd`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// The planner registry: every planner kind, the one list from which the CLI's `--planner`
/// values, the viewer's planner keys, `bench plan` and `check-device` are derived. A new
/// planner is a variant here and in [`PlannerConfig`] (with its settings struct) and its
/// search in `planner.rs` (built by `sampling_planner`, or by `build_planner` when it
/// differentiates through the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannerKind {
    /// Cross-entropy method.
    Cem,
    /// Model-predictive path integral control.
    Mppi,
    /// Adam on the action sequence through the predictor.
    Gradient,
}

impl PlannerKind {
    /// Every planner, in the order menus and tables list them.
    pub const ALL: [PlannerKind; 3] = [PlannerKind::Cem, PlannerKind::Mppi, PlannerKind::Gradient];

    /// The short name: the CLI's value, the evaluation's contender folder and table row.
    pub fn name(self) -> &'static str {
        match self {
            PlannerKind::Cem => "cem",
            PlannerKind::Mppi => "mppi",
            PlannerKind::Gradient => "gd",
        }
    }

    /// The name on screen and in benchmark tables.
    pub fn label(self) -> &'static str {
        match self {
            PlannerKind::Cem => "CEM",
            PlannerKind::Mppi => "MPPI",
            PlannerKind::Gradient => "gradient",
        }
    }

    /// One line on what it does with its default settings.
    pub fn about(self) -> String {
        let config = self.default_config();
        let (samples, iterations, horizon) =
            (config.samples(), config.iterations(), config.horizon());
        match self {
            PlannerKind::Cem => format!(
                "Cross-entropy method (default settings: {samples} samples × {iterations} iterations, horizon {horizon})"
            ),
            PlannerKind::Mppi => {
                format!("MPPI ({samples} samples × {iterations} iterations, horizon {horizon})")
            }
            PlannerKind::Gradient => format!(
                "Adam on the actions through the predictor ({samples} sequences × {iterations} steps, horizon {horizon})"
            ),
        }
    }

    /// The kind whose [`name`](Self::name) is `name`.
    pub fn from_name(name: &str) -> Option<PlannerKind> {
        PlannerKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// Its default settings.
    pub fn default_config(self) -> PlannerConfig {
        match self {
            PlannerKind::Cem => PlannerConfig::Cem(CemConfig::default()),
            PlannerKind::Mppi => PlannerConfig::Mppi(MppiConfig::default()),
            PlannerKind::Gradient => PlannerConfig::Gradient(GradientConfig::default()),
        }
    }

    /// Settings small enough to plan in seconds on a software GPU (device checks): a few
    /// candidates and iterations over three model steps.
    pub fn quick_config(self) -> PlannerConfig {
        let horizon = 3;
        match self {
            PlannerKind::Cem => PlannerConfig::Cem(CemConfig {
                samples: 64,
                elites: 8,
                iterations: 4,
                horizon,
                ..CemConfig::default()
            }),
            PlannerKind::Mppi => PlannerConfig::Mppi(MppiConfig {
                samples: 64,
                iterations: 4,
                horizon,
                ..MppiConfig::default()
            }),
            PlannerKind::Gradient => PlannerConfig::Gradient(GradientConfig {
                samples: 4,
                iterations: 10,
                horizon,
                ..GradientConfig::default()
            }),
        }
    }

    /// Whether it differentiates through the model: it needs an autodiff backend, and the
    /// simulator (the oracle baseline's model) gives it no gradient.
    pub fn differentiates(self) -> bool {
        self == PlannerKind::Gradient
    }
}

/// Cross-entropy method: sample around a Gaussian, refit it to the best samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CemConfig {
    /// Candidate sequences per iteration (one batch through the model).
    pub samples: usize,
    /// Best candidates the Gaussian is refitted to.
    pub elites: usize,
    /// Refits per plan.
    pub iterations: usize,
    /// Model steps planned ahead.
    pub horizon: usize,
    /// Initial standard deviation, as a fraction of each action component's half-range.
    pub initial_std: f32,
    /// Weight of the previous mean and std in each refit (0: replace them).
    pub momentum: f32,
}

impl Default for CemConfig {
    /// LeWorldModel's planning setting: 300 samples, 30 elites, 30 iterations, horizon 5.
    fn default() -> Self {
        CemConfig {
            samples: 300,
            elites: 30,
            iterations: 30,
            horizon: 5,
            initial_std: 1.0,
            momentum: 0.1,
        }
    }
}

/// MPPI: move the mean to the energy-weighted average of noisy candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MppiConfig {
    /// Candidate sequences per iteration.
    pub samples: usize,
    /// Updates per plan.
    pub iterations: usize,
    /// Model steps planned ahead.
    pub horizon: usize,
    /// Temperature, relative to the spread of one iteration's energies: weights are
    /// `exp(-(E - E_min) / (temperature · (E_max - E_min)))`.
    pub temperature: f32,
    /// Sampling noise, as a fraction of each action component's half-range.
    pub noise: f32,
}

impl Default for MppiConfig {
    fn default() -> Self {
        MppiConfig {
            samples: 300,
            iterations: 30,
            horizon: 5,
            temperature: 0.02,
            noise: 0.5,
        }
    }
}

/// Gradient descent (Adam) on action sequences through the differentiable predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientConfig {
    /// Sequences optimised in parallel (one batch); the best is kept.
    pub samples: usize,
    /// Adam steps per plan.
    pub iterations: usize,
    /// Model steps planned ahead.
    pub horizon: usize,
    /// Adam's learning rate, in action units.
    pub learning_rate: f32,
    /// Spread of the starting sequences around the warm start, as a fraction of the
    /// half-range (the first starts exactly at the warm start).
    pub initial_std: f32,
}

impl Default for GradientConfig {
    fn default() -> Self {
        GradientConfig {
            samples: 8,
            iterations: 30,
            horizon: 5,
            learning_rate: 0.1,
            initial_std: 0.5,
        }
    }
}

/// What a predicted latent trajectory costs: its distance to the goal latent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Energy {
    /// Per-dimension distance.
    pub distance: Distance,
    /// Which steps of the horizon count.
    pub over: Horizon,
}

/// Distance between a latent and the goal latent, averaged over latent dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Distance {
    /// Mean absolute difference.
    L1,
    /// Mean squared difference.
    #[default]
    L2,
}

/// Which predicted steps enter the energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Horizon {
    /// The last step only.
    #[default]
    Final,
    /// Every step, summed.
    Sum,
}

impl RonConfig for AgentConfig {
    /// Checks values the types allow but planning cannot use; returns the field and why.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = |field: &'static str, value: usize| {
            if value == 0 {
                Err((field, "must be at least 1".to_owned()))
            } else {
                Ok(())
            }
        };
        let positive_real = |field: &'static str, value: f32| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err((field, format!("must be positive and finite, not {value}")))
            }
        };
        positive("replan_every", self.replan_every)?;
        if self.replan_every > self.planner.horizon() {
            return Err((
                "replan_every",
                format!(
                    "{} exceeds the planner's horizon {}: the plan would run out",
                    self.replan_every,
                    self.planner.horizon()
                ),
            ));
        }
        match &self.planner {
            PlannerConfig::Cem(c) => {
                positive("planner.samples", c.samples)?;
                positive("planner.iterations", c.iterations)?;
                positive("planner.horizon", c.horizon)?;
                positive("planner.elites", c.elites)?;
                if c.elites > c.samples {
                    return Err((
                        "planner.elites",
                        format!("{} exceeds samples ({})", c.elites, c.samples),
                    ));
                }
                positive_real("planner.initial_std", c.initial_std)?;
                if !(0.0..1.0).contains(&c.momentum) {
                    return Err((
                        "planner.momentum",
                        format!("must lie in [0, 1), not {}", c.momentum),
                    ));
                }
            }
            PlannerConfig::Mppi(c) => {
                positive("planner.samples", c.samples)?;
                positive("planner.iterations", c.iterations)?;
                positive("planner.horizon", c.horizon)?;
                positive_real("planner.temperature", c.temperature)?;
                positive_real("planner.noise", c.noise)?;
            }
            PlannerConfig::Gradient(c) => {
                positive("planner.samples", c.samples)?;
                positive("planner.iterations", c.iterations)?;
                positive("planner.horizon", c.horizon)?;
                positive_real("planner.learning_rate", c.learning_rate)?;
                if !(c.initial_std.is_finite() && c.initial_std >= 0.0) {
                    return Err((
                        "planner.initial_std",
                        format!("must be finite and not negative, not {}", c.initial_std),
                    ));
                }
            }
        }
        Ok(())
    }
}
