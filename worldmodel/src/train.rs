//! Training: AdamW with warm-up and cosine decay, the [`Learner`] that takes one step at a
//! time, and [`train`], which runs a [`Trainer`] (seeded data order, periodic validation and
//! probes, TensorBoard scalars, checkpoints and exact resume).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::WorldModelError;
use crate::checkpoint;
use crate::config::{AntiCollapse, WorldModelConfig};
use crate::data::{Batch, EpisodeStep};
use crate::evaluate::EvalReport;
use crate::model::WorldModel;
use crate::objective::{distance, random_directions, sigreg, vicreg};
use crate::parallel::{self, worker_devices};
use crate::trainer::Trainer;

/// What `train` is asked to do.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Dataset folder.
    pub data: PathBuf,
    /// Run folder: resolved config, checkpoints, TensorBoard events.
    pub out: PathBuf,
    /// Config of a new run; with `resume`, optional and must match the checkpoint's.
    pub config: Option<WorldModelConfig>,
    /// Overrides `training.steps`.
    pub steps: Option<u64>,
    /// Continue from the run's latest checkpoint.
    pub resume: bool,
    /// Stop (with a checkpoint) once this many steps are done, keeping the schedule of the full run.
    pub stop_after: Option<u64>,
    /// Set from outside (e.g. on Ctrl-C) to stop at the next step with a checkpoint.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Overrides `training.workers` (data-parallel workers).
    pub workers: Option<usize>,
}

/// The loss terms of one batch (scalars on the CPU).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLosses {
    /// Weighted sum that is minimised.
    pub total: f32,
    /// Teacher-forced one-step prediction loss.
    pub prediction: f32,
    /// The same loss for predicting "no change", for comparison (no gradient).
    pub no_change: f32,
    /// Open-loop rollout loss (0 when disabled).
    pub rollout: f32,
    /// SIGReg statistic (unweighted; 0 unless SIGReg is on).
    pub sigreg: f32,
    /// VICReg variance hinge (unweighted; 0 unless VICReg is on).
    pub variance: f32,
    /// VICReg covariance term (unweighted; 0 unless VICReg is on).
    pub covariance: f32,
}

/// Something the loop reports while it runs.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Training (re)starts at `step` of `total`.
    Started {
        /// First step to run.
        step: u64,
        /// Steps of the whole run.
        total: u64,
        /// Training windows available.
        train_windows: usize,
        /// Validation windows available.
        validation_windows: usize,
    },
    /// One optimiser step finished.
    Step {
        /// Steps done.
        step: u64,
        /// The batch's losses.
        losses: StepLosses,
        /// Learning rate used.
        learning_rate: f64,
        /// Training windows per second over this session.
        samples_per_s: f64,
    },
    /// A validation pass finished.
    Evaluated(Box<EvalReport>),
    /// A checkpoint landed.
    Checkpointed(PathBuf),
    /// Something about the run the user should know (episodes appended since it started).
    Notice(String),
}

/// The end of a training run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Steps done.
    pub step: u64,
    /// Losses of each step run in this call, with the windows of its batch.
    pub history: Vec<(u64, StepLosses, Vec<EpisodeStep>)>,
    /// The last validation report.
    pub evaluation: EvalReport,
    /// The last checkpoint written.
    pub checkpoint: PathBuf,
    /// Whether the run stopped early (interrupt or `stop_after`).
    pub stopped_early: bool,
}

/// Learning rate at `step`: linear warm-up to the peak, then cosine decay to `final_lr_fraction`.
pub fn learning_rate(config: &WorldModelConfig, step: u64) -> f64 {
    let t = &config.training;
    if step < t.warmup_steps {
        return t.learning_rate * (step + 1) as f64 / t.warmup_steps as f64;
    }
    let decay_steps = t.steps.saturating_sub(t.warmup_steps).max(1);
    let progress = ((step - t.warmup_steps) as f64 / decay_steps as f64).min(1.0);
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    t.learning_rate * (t.final_lr_fraction + (1.0 - t.final_lr_fraction) * cosine)
}

type AdamW<B> = burn::optim::adaptor::OptimizerAdaptor<burn::optim::AdamW, WorldModel<B>, B>;

/// A model with its optimiser and (for EMA) its target encoder: one training step at a time.
pub struct Learner<B: AutodiffBackend> {
    /// The online model.
    pub model: WorldModel<B>,
    optimizer: AdamW<B>,
    /// EMA copy of the model, without gradient, run in training mode like the model.
    target: Option<WorldModel<B>>,
    config: WorldModelConfig,
    /// One device per data-parallel worker (`training.workers`), rank 0's first.
    devices: Vec<B::Device>,
}

impl<B: AutodiffBackend> std::fmt::Debug for Learner<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learner")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl<B: AutodiffBackend> Learner<B> {
    /// A freshly initialised learner, seeded by `training.seed`, with `training.workers`
    /// data-parallel workers; an error when they cannot share a batch or lack a device.
    pub fn new(
        config: &WorldModelConfig,
        spec: &crate::DataSpec,
        device: &B::Device,
    ) -> Result<Self, WorldModelError> {
        let devices = worker_devices::<B>(device, &config.training)?;
        let model = WorldModel::<B>::seeded(&config.model, spec, config.training.seed, device);
        let optimizer = AdamWConfig::new()
            .with_weight_decay(config.training.weight_decay)
            .with_grad_clipping(config.training.grad_clip.map(GradientClippingConfig::Norm))
            .init();
        let target = matches!(config.objective.anti_collapse, AntiCollapse::Ema { .. })
            .then(|| model.clone().no_grad());
        Ok(Learner {
            model,
            optimizer,
            target,
            config: config.clone(),
            devices,
        })
    }

    /// The EMA target, when the objective keeps one.
    pub fn target(&self) -> Option<&WorldModel<B>> {
        self.target.as_ref()
    }

    /// Restores weights, optimiser state and EMA target from a checkpoint folder.
    pub fn load(mut self, dir: &Path, device: &B::Device) -> Result<Self, WorldModelError> {
        self.model = self
            .model
            .load_record(checkpoint::load_record(&dir.join("model"), device)?);
        self.optimizer = self
            .optimizer
            .load_record(checkpoint::load_record(&dir.join("optimizer"), device)?);
        if let Some(target) = self.target.take() {
            self.target =
                Some(target.load_record(checkpoint::load_record(&dir.join("target"), device)?));
        }
        Ok(self)
    }

    /// Writes weights, optimiser state and EMA target into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), WorldModelError> {
        checkpoint::save_record::<B, _>(self.model.clone().into_record(), &dir.join("model"))?;
        checkpoint::save_record::<B, _>(self.optimizer.to_record(), &dir.join("optimizer"))?;
        if let Some(target) = &self.target {
            checkpoint::save_record::<B, _>(target.clone().into_record(), &dir.join("target"))?;
        }
        Ok(())
    }

    /// Losses of a batch (with the autodiff graph); `step` seeds the SIGReg directions.
    pub fn losses(&self, batch: &Batch<B>, step: u64) -> (Tensor<B, 1>, StepLosses) {
        let features = self.model.features(batch.observed.frames.clone()); // [N, D]
        self.losses_from(features, batch, step)
    }

    /// Losses of a batch whose frames are already through the encoder: `features` `[N, D]`.
    /// Everything that couples the frames of the batch happens here.
    pub(crate) fn losses_from(
        &self,
        features: Tensor<B, 2>,
        batch: &Batch<B>,
        step: u64,
    ) -> (Tensor<B, 1>, StepLosses) {
        let objective = &self.config.objective;
        let history = self.config.model.history;
        let (windows, frames) = (batch.windows, batch.frames_per_window);
        let rollout_steps = frames - history;
        let observed = &batch.observed;
        let z = self.model.embed(features, observed.proprio.clone()); // [N, D]
        let dim = z.dims()[1];
        let latents = z.clone().reshape([windows, frames, dim]); // [B, F, D]
        let targets = match &self.target {
            Some(target) => target
                .encode(observed.frames.clone(), observed.proprio.clone())
                .detach()
                .reshape([windows, frames, dim]),
            None => latents.clone(),
        };
        let context = latents.clone().narrow(1, 0, history); // [B, H, D]
        let predicted = self
            .model
            .predict(context.clone(), batch.actions.clone().narrow(1, 0, history));
        let prediction = distance(
            objective.distance,
            predicted,
            targets.clone().narrow(1, 1, history),
        );
        let mut total = prediction.clone();
        let device = z.device();
        let zero = || Tensor::<B, 1>::zeros([1], &device);
        let mut rollout = zero();
        if objective.rollout_steps > 0 && objective.rollout_weight > 0.0 {
            let imagined = self.model.rollout(context, batch.actions.clone()); // [B, K, D]
            rollout = distance(
                objective.distance,
                imagined,
                targets.narrow(1, history, rollout_steps),
            );
            total = total + rollout.clone().mul_scalar(objective.rollout_weight);
        }
        let (mut sigreg_value, mut variance, mut covariance) = (zero(), zero(), zero());
        match &objective.anti_collapse {
            AntiCollapse::Sigreg {
                weight,
                projections,
                knots,
            } => {
                let seed = self
                    .config
                    .training
                    .seed
                    .wrapping_mul(0x2545_f491_4f6c_dd1d)
                    ^ step;
                let directions = random_directions::<B>(dim, *projections, seed, &device);
                sigreg_value = sigreg(z, directions, *knots);
                total = total + sigreg_value.clone().mul_scalar(*weight);
            }
            AntiCollapse::Vicreg {
                variance: variance_weight,
                covariance: covariance_weight,
            } => {
                (variance, covariance) = vicreg(z);
                total = total
                    + variance.clone().mul_scalar(*variance_weight)
                    + covariance.clone().mul_scalar(*covariance_weight);
            }
            AntiCollapse::Ema { .. } | AntiCollapse::None => {}
        }
        let no_change = distance(
            objective.distance,
            latents.clone().narrow(1, 0, history).detach(),
            latents.narrow(1, 1, history).detach(),
        );
        // One read-back for all scalars (one device synchronisation on a GPU).
        let terms = [
            total.clone(),
            prediction,
            no_change,
            rollout,
            sigreg_value,
            variance,
            covariance,
        ];
        let values = Tensor::cat(terms.map(|t| t.detach()).to_vec(), 0)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .expect("loss terms are floats");
        let report = StepLosses {
            total: values[0],
            prediction: values[1],
            no_change: values[2],
            rollout: values[3],
            sigreg: values[4],
            variance: values[5],
            covariance: values[6],
        };
        (total, report)
    }

    /// The gradient of every parameter for `batch`, with its losses, computed by the
    /// learner's workers (see [`crate::parallel`]); an error when the loss is not finite.
    pub fn gradients(
        &self,
        batch: &Batch<B>,
        step: u64,
    ) -> Result<(GradientsParams, StepLosses), WorldModelError> {
        if self.devices.len() > 1 {
            return parallel::gradients(self, batch, step, &self.devices);
        }
        let (total, losses) = self.losses(batch, step);
        if !losses.total.is_finite() {
            return Err(WorldModelError::Diverged {
                step,
                loss: losses.total,
            });
        }
        Ok((
            GradientsParams::from_grads(total.backward(), &self.model),
            losses,
        ))
    }

    /// One optimiser step on `batch` at learning rate `lr`.
    pub fn step(
        &mut self,
        batch: &Batch<B>,
        step: u64,
        lr: f64,
    ) -> Result<StepLosses, WorldModelError> {
        let (gradients, losses) = self.gradients(batch, step)?;
        self.model = self.optimizer.step(lr, self.model.clone(), gradients);
        if let (Some(target), AntiCollapse::Ema { momentum }) =
            (self.target.take(), &self.config.objective.anti_collapse)
        {
            self.target = Some(ema_update(target, &self.model, *momentum));
        }
        Ok(losses)
    }
}

/// Moves every parameter of `target` toward the same parameter of `online`:
/// `target ← m·target + (1 − m)·online`, without gradient. (Batch-norm running statistics are
/// not blended: the target runs in training mode, on batch statistics.)
fn ema_update<B: Backend>(
    target: WorldModel<B>,
    online: &WorldModel<B>,
    momentum: f32,
) -> WorldModel<B> {
    struct Collect<B: Backend>(HashMap<ParamId, Tensor<B, 1>>);
    impl<B: Backend> ModuleVisitor<B> for Collect<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0
                .insert(param.id, param.val().detach().flatten(0, D - 1));
        }
    }
    struct Blend<B: Backend> {
        online: HashMap<ParamId, Tensor<B, 1>>,
        momentum: f32,
    }
    impl<B: Backend> ModuleMapper<B> for Blend<B> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let blended = match self.online.remove(&id) {
                Some(online) => {
                    let shape = tensor.shape();
                    (tensor.mul_scalar(self.momentum)
                        + online.reshape(shape).mul_scalar(1.0 - self.momentum))
                    .detach()
                }
                None => tensor,
            };
            Param::from_mapped_value(id, blended, mapper)
        }
    }
    let mut collect = Collect(HashMap::new());
    online.visit(&mut collect);
    target.map(&mut Blend {
        online: collect.0,
        momentum,
    })
}

/// Trains (or resumes) a world model; `observe` sees progress as it happens.
pub fn train<B: AutodiffBackend>(
    options: &TrainOptions,
    device: &B::Device,
    observe: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary, WorldModelError> {
    Trainer::<B>::new(options, device, observe)?.run(observe)
}
