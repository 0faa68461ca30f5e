//! Typed, RON-readable configuration of a world model and its training run.

use serde::{Deserialize, Serialize};

use prefrontal_ronfile::RonConfig;

/// Everything that defines a training run: model, objective and optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WorldModelConfig {
    /// Architecture of the encoder and predictor.
    pub model: ModelConfig,
    /// Losses: prediction distance, rollout and anti-collapse.
    pub objective: ObjectiveConfig,
    /// Optimiser, schedule, batching, checkpoints.
    pub training: TrainingConfig,
}

/// Architecture of the world model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Frame encoder.
    pub encoder: EncoderConfig,
    /// Width of a latent.
    pub latent_dim: usize,
    /// Hidden width of the MLP projector (with batch norm) after the encoder; `None` keeps the encoder output.
    pub projector: Option<usize>,
    /// Action-conditioned predictor.
    pub predictor: PredictorConfig,
    /// Latents (and actions) the predictor sees before predicting the next latent.
    pub history: usize,
    /// Simulator steps per model step: frames are subsampled and actions concatenated.
    pub frameskip: usize,
    /// Fuse proprioception into each latent at encoding time.
    pub use_proprio: bool,
    /// With `use_proprio`, fuse the velocity components too (`*.vx`, `*.vz`, `*.rate`).
    /// `false` fuses positions and angles only: the history of latents still shows how fast
    /// things move, and a goal at rest does not charge a plan for moving fast on its way.
    pub fuse_velocities: bool,
}

impl ModelConfig {
    /// What the model reads besides actions, for reports: `pixels`, `pixels + proprioception`
    /// or `pixels + proprioception (positions)`.
    pub fn inputs(&self) -> &'static str {
        match (self.use_proprio, self.fuse_velocities) {
            (false, _) => "pixels",
            (true, true) => "pixels + proprioception",
            (true, false) => "pixels + proprioception (positions)",
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            encoder: EncoderConfig::default(),
            latent_dim: 128,
            projector: Some(512),
            predictor: PredictorConfig::default(),
            history: 3,
            frameskip: 5,
            use_proprio: false,
            fuse_velocities: true,
        }
    }
}

/// Frame encoder architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum EncoderConfig {
    /// Stride-2 3×3 convolutions (one per entry, its output channels), then a linear head.
    Cnn {
        /// Output channels of each stride-2 convolution.
        channels: Vec<usize>,
    },
    /// Vision transformer over non-overlapping patches, mean-pooled.
    Vit {
        /// Patch side in pixels.
        patch: usize,
        /// Token width.
        width: usize,
        /// Transformer layers.
        depth: usize,
        /// Attention heads.
        heads: usize,
    },
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig::Cnn {
            channels: vec![16, 32, 64, 64],
        }
    }
}

/// Predictor architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PredictorConfig {
    /// Causal transformer over the last `history` (latent, action) tokens.
    Transformer {
        /// Token width.
        width: usize,
        /// Transformer layers.
        depth: usize,
        /// Attention heads.
        heads: usize,
    },
    /// Markov MLP on the current latent and action (ignores `history`).
    Mlp {
        /// Hidden width.
        hidden: usize,
        /// Hidden layers.
        layers: usize,
    },
}

impl Default for PredictorConfig {
    fn default() -> Self {
        PredictorConfig::Transformer {
            width: 128,
            depth: 2,
            heads: 4,
        }
    }
}

/// Distance between predicted and target latents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Distance {
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    L1,
}

/// What keeps the latents from collapsing to a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AntiCollapse {
    /// LeJEPA's sketched isotropic Gaussian regulariser (Epps–Pulley statistic of random 1-D projections).
    Sigreg {
        /// Weight λ of the regulariser.
        weight: f32,
        /// Random directions per step.
        projections: usize,
        /// Trapezoid knots on [0, 3] for the characteristic-function integral.
        knots: usize,
    },
    /// VICReg's variance and covariance terms.
    Vicreg {
        /// Weight of the hinge on each dimension's standard deviation.
        variance: f32,
        /// Weight of the squared off-diagonal covariances.
        covariance: f32,
    },
    /// Targets from an exponential moving average of the encoder, without gradient.
    Ema {
        /// EMA momentum per step.
        momentum: f32,
    },
    /// Nothing: the latents are free to collapse (for ablations).
    None,
}

impl Default for AntiCollapse {
    fn default() -> Self {
        AntiCollapse::Sigreg {
            weight: 0.1,
            projections: 256,
            knots: 17,
        }
    }
}

/// The training objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectiveConfig {
    /// Distance in latent space.
    pub distance: Distance,
    /// Open-loop steps predicted from the model's own outputs (0 disables the rollout loss).
    pub rollout_steps: usize,
    /// Weight of the rollout loss.
    pub rollout_weight: f32,
    /// Anti-collapse method.
    pub anti_collapse: AntiCollapse,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            distance: Distance::Mse,
            rollout_steps: 2,
            rollout_weight: 1.0,
            anti_collapse: AntiCollapse::default(),
        }
    }
}

/// Optimisation and bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Optimiser steps in the run.
    pub steps: u64,
    /// Windows per batch.
    pub batch_size: usize,
    /// Peak learning rate of AdamW.
    pub learning_rate: f64,
    /// Linear warm-up steps before the cosine decay.
    pub warmup_steps: u64,
    /// Learning rate at the end of the cosine, as a fraction of the peak.
    pub final_lr_fraction: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Clip each parameter's gradient to this L2 norm (Burn's per-parameter clipping).
    pub grad_clip: Option<f32>,
    /// Fraction of episodes held out for validation (at least one episode).
    pub validation_fraction: f64,
    /// Seed of initialisation, data order, split and SIGReg directions.
    pub seed: u64,
    /// Steps between checkpoints (one is also written at exit).
    pub checkpoint_every: u64,
    /// Steps between validation, representation metrics and the probe.
    pub eval_every: u64,
    /// Steps between training-scalar logs.
    pub log_every: u64,
    /// Data-parallel workers: each encodes its share of every batch on its own thread (on
    /// the CPU) or device (GPU `i + rank` for a run on GPU `i`), and the losses see the whole
    /// batch, so N workers compute the one-worker gradient up to float rounding. A resumed
    /// run may change it.
    pub workers: usize,
}

impl TrainingConfig {
    /// Why `workers` data-parallel workers cannot share this config's batches, if they cannot.
    pub fn workers_problem(&self, workers: usize) -> Option<String> {
        (workers == 0 || workers > self.batch_size).then(|| {
            format!(
                "{workers} workers: must be between 1 and training.batch_size ({}), since every worker needs a window",
                self.batch_size
            )
        })
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            steps: 2000,
            batch_size: 32,
            learning_rate: 1e-3,
            warmup_steps: 100,
            final_lr_fraction: 0.05,
            weight_decay: 1e-3,
            grad_clip: Some(1.0),
            validation_fraction: 0.1,
            seed: 0,
            checkpoint_every: 250,
            eval_every: 250,
            log_every: 10,
            workers: 1,
        }
    }
}

impl RonConfig for WorldModelConfig {
    /// Checks values that the types allow but training cannot use; returns the field and the problem.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let m = &self.model;
        let t = &self.training;
        let positive = |field: &'static str, value: usize| {
            if value == 0 {
                Err((field, "must be at least 1".to_owned()))
            } else {
                Ok(())
            }
        };
        // A transformer needs layers and heads, and a width that the heads divide.
        let attention = |[width_field, depth_field, heads_field]: [&'static str; 3],
                         [width, depth, heads]: [usize; 3]| {
            positive(depth_field, depth)?;
            positive(heads_field, heads)?;
            if width == 0 || width % heads != 0 {
                return Err((
                    width_field,
                    format!("must be a positive multiple of heads ({heads}), got {width}"),
                ));
            }
            Ok(())
        };
        positive("model.latent_dim", m.latent_dim)?;
        positive("model.history", m.history)?;
        positive("model.frameskip", m.frameskip)?;
        if !m.fuse_velocities && !m.use_proprio {
            return Err((
                "model.fuse_velocities",
                "false chooses which proprioception to fuse; it needs use_proprio: true".to_owned(),
            ));
        }
        positive("training.batch_size", t.batch_size)?;
        if let Some(problem) = t.workers_problem(t.workers) {
            return Err(("training.workers", problem));
        }
        match &m.encoder {
            EncoderConfig::Cnn { channels } => {
                if channels.is_empty() || channels.contains(&0) {
                    return Err((
                        "model.encoder.channels",
                        "needs at least one convolution, each with at least one channel".into(),
                    ));
                }
            }
            EncoderConfig::Vit {
                patch,
                width,
                depth,
                heads,
            } => {
                positive("model.encoder.patch", *patch)?;
                attention(
                    [
                        "model.encoder.width",
                        "model.encoder.depth",
                        "model.encoder.heads",
                    ],
                    [*width, *depth, *heads],
                )?;
            }
        }
        match &m.predictor {
            PredictorConfig::Transformer {
                width,
                depth,
                heads,
            } => attention(
                [
                    "model.predictor.width",
                    "model.predictor.depth",
                    "model.predictor.heads",
                ],
                [*width, *depth, *heads],
            )?,
            PredictorConfig::Mlp { hidden, layers } => {
                positive("model.predictor.hidden", *hidden)?;
                positive("model.predictor.layers", *layers)?;
            }
        }
        match &self.objective.anti_collapse {
            AntiCollapse::Sigreg {
                weight,
                projections,
                knots,
            } => {
                if !(weight.is_finite() && *weight >= 0.0) {
                    return Err((
                        "objective.anti_collapse.weight",
                        format!("must be ≥ 0, got {weight}"),
                    ));
                }
                positive("objective.anti_collapse.projections", *projections)?;
                if *knots < 2 {
                    return Err((
                        "objective.anti_collapse.knots",
                        format!("must be at least 2, got {knots}"),
                    ));
                }
            }
            AntiCollapse::Vicreg {
                variance,
                covariance,
            } => {
                if !(variance.is_finite()
                    && covariance.is_finite()
                    && *variance >= 0.0
                    && *covariance >= 0.0)
                {
                    return Err((
                        "objective.anti_collapse",
                        "weights must be finite and ≥ 0".into(),
                    ));
                }
            }
            AntiCollapse::Ema { momentum } => {
                if !(0.0..1.0).contains(momentum) {
                    return Err((
                        "objective.anti_collapse.momentum",
                        format!("must be in [0, 1), got {momentum}"),
                    ));
                }
            }
            AntiCollapse::None => {}
        }
        if !(self.objective.rollout_weight.is_finite() && self.objective.rollout_weight >= 0.0) {
            return Err(("objective.rollout_weight", "must be finite and ≥ 0".into()));
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return Err((
                "training.learning_rate",
                format!("must be positive, got {}", t.learning_rate),
            ));
        }
        if !(0.0..=1.0).contains(&t.final_lr_fraction) {
            return Err(("training.final_lr_fraction", "must be in [0, 1]".into()));
        }
        if !(t.validation_fraction > 0.0 && t.validation_fraction < 1.0) {
            return Err(("training.validation_fraction", "must be in (0, 1)".into()));
        }
        if let Some(clip) = t.grad_clip
            && !(clip.is_finite() && clip > 0.0)
        {
            return Err((
                "training.grad_clip",
                format!("must be positive, got {clip}"),
            ));
        }
        for (field, value) in [
            ("training.checkpoint_every", t.checkpoint_every),
            ("training.eval_every", t.eval_every),
            ("training.log_every", t.log_every),
        ] {
            if value == 0 {
                return Err((field, "must be at least 1".into()));
            }
        }
        Ok(())
    }
}

impl WorldModelConfig {
    /// Frames one training window spans: the history plus the rollout targets.
    pub fn window_frames(&self) -> usize {
        self.model.history + self.objective.rollout_steps.max(1)
    }
}
