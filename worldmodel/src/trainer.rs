//! A training run in parts: its setup (new run or resume), its data, the step (a
//! [`Learner`]), validation, and one writer of the run folder, TensorBoard events and
//! checkpoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use prefrontal_board::Board;
use prefrontal_ronfile::RonConfig;

use crate::WorldModelError;
use crate::checkpoint::{self, CHECKPOINT_VERSION, Checkpoint, TrainingState};
use crate::config::{AntiCollapse, WorldModelConfig};
use crate::data::{Batch, DataFingerprint, DataSpec, EpisodeSet, EpisodeStep, WindowSampler};
use crate::evaluate::{EvalReport, evaluate};
use crate::train::{Learner, StepLosses, TrainEvent, TrainOptions, TrainSummary, learning_rate};

/// A run ready to train: [`Trainer::new`] sets it up, [`Trainer::run`] trains it.
pub struct Trainer<B: AutodiffBackend> {
    config: WorldModelConfig,
    data: TrainingData,
    learner: Learner<B>,
    writer: RunWriter,
    device: B::Device,
    /// Steps done.
    step: u64,
    /// Wall-clock seconds of training in earlier sessions.
    earlier_s: f64,
    stop_after: Option<u64>,
    interrupt: Option<Arc<AtomicBool>>,
}

impl<B: AutodiffBackend> std::fmt::Debug for Trainer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("step", &self.step)
            .field("learner", &self.learner)
            .finish_non_exhaustive()
    }
}

impl<B: AutodiffBackend> Trainer<B> {
    /// Resolves the config, loads the data, builds (or restores) the learner and opens the
    /// run folder; `observe` sees a notice about the data, then `Started`.
    pub fn new(
        options: &TrainOptions,
        device: &B::Device,
        observe: &mut dyn FnMut(&TrainEvent),
    ) -> Result<Self, WorldModelError> {
        let (config, resume) = resolve_run(options)?;
        let data = TrainingData::load(&options.data, &config, resume.as_ref(), observe)?;
        let mut learner = Learner::<B>::new(&config, data.episodes.spec(), device)?;
        let (mut step, mut earlier_s) = (0, 0.0);
        if let Some(checkpoint) = &resume {
            learner = learner.load(&checkpoint.dir, device)?;
            (step, earlier_s) = (checkpoint.state.step, checkpoint.state.elapsed_s);
        }
        let writer = RunWriter::create(&options.out, &config, &data.episodes, step)?;
        observe(&TrainEvent::Started {
            step,
            total: config.training.steps,
            train_windows: data.train_windows,
            validation_windows: data.validation_windows,
        });
        Ok(Trainer {
            config,
            data,
            learner,
            writer,
            device: device.clone(),
            step,
            earlier_s,
            stop_after: options.stop_after,
            interrupt: options.interrupt.clone(),
        })
    }

    /// Trains to the end of the schedule, or until interrupted or `stop_after`, then writes
    /// a checkpoint (unless one exists for the last step) and a final validation report.
    pub fn run(
        mut self,
        observe: &mut dyn FnMut(&TrainEvent),
    ) -> Result<TrainSummary, WorldModelError> {
        let t = self.config.training.clone();
        let total = t.steps;
        let (session_start, earlier_s, started) = (self.step, self.earlier_s, Instant::now());
        let elapsed_s = || earlier_s + started.elapsed().as_secs_f64();
        let mut history = Vec::new();
        let mut last_checkpoint: Option<(u64, PathBuf)> = None;
        let mut stopped_early = false;
        while self.step < total {
            if self.stop_requested() {
                stopped_early = true;
                break;
            }
            let (starts, losses, lr) = self.optimise()?;
            let step = self.step;
            let seconds = started.elapsed().as_secs_f64();
            let samples_per_s =
                ((step - session_start) * t.batch_size as u64) as f64 / seconds.max(1e-9);
            history.push((step, losses, starts));
            observe(&TrainEvent::Step {
                step,
                losses,
                learning_rate: lr,
                samples_per_s,
            });
            if step.is_multiple_of(t.log_every) || step == total {
                self.writer.log_step(step, &losses, lr, samples_per_s)?;
            }
            if step.is_multiple_of(t.eval_every) && step < total {
                let report = self.validate();
                self.writer.log_evaluation(&report)?;
                observe(&TrainEvent::Evaluated(Box::new(report)));
            }
            if step.is_multiple_of(t.checkpoint_every) && step < total {
                let dir = self.writer.checkpoint(&self.learner, step, elapsed_s())?;
                observe(&TrainEvent::Checkpointed(dir.clone()));
                last_checkpoint = Some((step, dir));
            }
        }
        // The last checkpoint lands before anything else can fail (a TensorBoard write).
        let checkpoint = match last_checkpoint {
            Some((saved, dir)) if saved == self.step => dir,
            _ => {
                let dir = self
                    .writer
                    .checkpoint(&self.learner, self.step, elapsed_s())?;
                observe(&TrainEvent::Checkpointed(dir.clone()));
                dir
            }
        };
        let evaluation = self.validate();
        self.writer.log_evaluation(&evaluation)?;
        observe(&TrainEvent::Evaluated(Box::new(evaluation.clone())));
        self.writer.finish()?;
        Ok(TrainSummary {
            step: self.step,
            history,
            evaluation,
            checkpoint,
            stopped_early,
        })
    }

    /// Whether the interrupt flag is set or `stop_after` steps are done.
    fn stop_requested(&self) -> bool {
        let interrupted = self
            .interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst));
        interrupted || self.stop_after.is_some_and(|stop| self.step >= stop)
    }

    /// One optimiser step on the batch of the current step; returns the batch's windows,
    /// its losses and the learning rate used.
    fn optimise(&mut self) -> Result<(Vec<EpisodeStep>, StepLosses, f64), WorldModelError> {
        let lr = learning_rate(&self.config, self.step);
        let (starts, batch) = self.data.batch_for::<B>(self.step, &self.device);
        let losses = self.learner.step(&batch, self.step, lr)?;
        self.step += 1;
        Ok((starts, losses, lr))
    }

    /// Validation metrics of the current model.
    fn validate(&self) -> EvalReport {
        evaluate(
            &self.learner.model.valid(),
            &self.data.episodes,
            &self.config,
            self.step,
            &self.device,
        )
    }
}

/// The resolved config of a run and, when it resumes, its latest checkpoint: a new run must
/// not overwrite one, a resumed run may only change `training.steps` and `training.workers`,
/// which `steps` and `workers` override.
fn resolve_run(
    options: &TrainOptions,
) -> Result<(WorldModelConfig, Option<Checkpoint>), WorldModelError> {
    let out = &options.out;
    let resume = if options.resume {
        Some(Checkpoint::open(out)?)
    } else {
        if let Some((_, dir)) = checkpoint::list(out)?.pop() {
            return Err(WorldModelError::RunExists {
                out: out.clone(),
                checkpoint: dir,
            });
        }
        None
    };
    let mut config = match (&resume, &options.config) {
        (Some(checkpoint), Some(given)) => {
            let mut given = given.clone();
            given.training.steps = checkpoint.config.training.steps;
            let workers = given.training.workers;
            given.training.workers = checkpoint.config.training.workers;
            if given != checkpoint.config {
                return Err(WorldModelError::ConfigMismatch {
                    checkpoint: checkpoint.dir.clone(),
                });
            }
            given.training.workers = workers;
            given
        }
        (Some(checkpoint), None) => checkpoint.config.clone(),
        (None, Some(given)) => given.clone(),
        (None, None) => return Err(WorldModelError::NoConfig),
    };
    if let Some(steps) = options.steps {
        config.training.steps = steps;
    }
    if let Some(workers) = options.workers {
        if let Some(message) = config.training.workers_problem(workers) {
            return Err(WorldModelError::Workers { message });
        }
        config.training.workers = workers;
    }
    Ok((config, resume))
}

/// The episodes of a run and its seeded stream of training windows.
struct TrainingData {
    episodes: EpisodeSet,
    sampler: WindowSampler,
    /// Training windows available.
    train_windows: usize,
    /// Validation windows available.
    validation_windows: usize,
    batch_size: usize,
    frames: usize,
    frameskip: usize,
}

impl TrainingData {
    /// Loads the episodes of `dir` (those the resumed run trained on, with a notice for
    /// `observe` when episodes were appended since) and refuses episodes too short for a window.
    fn load(
        dir: &Path,
        config: &WorldModelConfig,
        resume: Option<&Checkpoint>,
        observe: &mut dyn FnMut(&TrainEvent),
    ) -> Result<Self, WorldModelError> {
        let t = &config.training;
        let episodes = match resume {
            Some(checkpoint) => {
                let (episodes, note) = checkpoint.load_data(dir)?;
                if let Some(note) = note {
                    observe(&TrainEvent::Notice(note));
                }
                episodes
            }
            None => EpisodeSet::load(dir, t.validation_fraction, t.seed)?,
        };
        let frames = config.window_frames();
        let frameskip = config.model.frameskip;
        let train = episodes.windows(episodes.train_episodes(), frames, frameskip);
        let validation = episodes.windows(episodes.validation_episodes(), frames, frameskip);
        if train.is_empty() || validation.is_empty() {
            return Err(WorldModelError::Data {
                path: dir.to_owned(),
                message: format!(
                    "episodes are too short: a training window spans {} simulator steps (history {} + rollout {}, frameskip {})",
                    (frames - 1) * frameskip,
                    config.model.history,
                    config.objective.rollout_steps,
                    frameskip
                ),
            });
        }
        Ok(TrainingData {
            train_windows: train.len(),
            validation_windows: validation.len(),
            sampler: WindowSampler::new(train, t.seed),
            episodes,
            batch_size: t.batch_size,
            frames,
            frameskip,
        })
    }

    /// The windows of optimiser step `step` and their batch on `device`.
    fn batch_for<B: Backend>(
        &mut self,
        step: u64,
        device: &B::Device,
    ) -> (Vec<EpisodeStep>, Batch<B>) {
        let starts = self.sampler.batch(step, self.batch_size);
        let batch = self
            .episodes
            .batch::<B>(&starts, self.frames, self.frameskip, device);
        (starts, batch)
    }
}

/// The one writer of a run: its folder with the resolved config, its TensorBoard events
/// and its checkpoints.
struct RunWriter {
    out: PathBuf,
    config: WorldModelConfig,
    spec: DataSpec,
    fingerprint: DataFingerprint,
    board: Board,
}

impl RunWriter {
    /// Creates the run folder, writes its `config.ron` and opens a TensorBoard event file
    /// that continues at `step`.
    fn create(
        out: &Path,
        config: &WorldModelConfig,
        episodes: &EpisodeSet,
        step: u64,
    ) -> Result<Self, WorldModelError> {
        std::fs::create_dir_all(out).map_err(|source| WorldModelError::Io {
            path: out.to_owned(),
            source,
        })?;
        let config_path = out.join("config.ron");
        std::fs::write(&config_path, config.to_ron()).map_err(|source| WorldModelError::Io {
            path: config_path,
            source,
        })?;
        let mut board = Board::create(out)?;
        if step > 0 {
            board.restart(step)?;
        }
        Ok(RunWriter {
            out: out.to_owned(),
            config: config.clone(),
            spec: episodes.spec().clone(),
            fingerprint: episodes.fingerprint().clone(),
            board,
        })
    }

    /// Writes the checkpoint of `step` after `elapsed_s` seconds of training.
    fn checkpoint<B: AutodiffBackend>(
        &self,
        learner: &Learner<B>,
        step: u64,
        elapsed_s: f64,
    ) -> Result<PathBuf, WorldModelError> {
        let state = TrainingState {
            format_version: CHECKPOINT_VERSION,
            step,
            spec: self.spec.clone(),
            elapsed_s,
            data: Some(self.fingerprint.clone()),
        };
        checkpoint::write(&self.out, &self.config, &state, |dir| learner.save(dir))
    }

    /// One step's training scalars.
    fn log_step(
        &mut self,
        step: u64,
        losses: &StepLosses,
        lr: f64,
        samples_per_s: f64,
    ) -> Result<(), WorldModelError> {
        let mut scalars = vec![
            ("train/loss", losses.total),
            ("train/loss_pred", losses.prediction),
            ("train/loss_no_change", losses.no_change),
            ("train/loss_rollout", losses.rollout),
        ];
        match self.config.objective.anti_collapse {
            AntiCollapse::Sigreg { .. } => scalars.push(("train/sigreg", losses.sigreg)),
            AntiCollapse::Vicreg { .. } => {
                scalars.push(("train/vicreg_variance", losses.variance));
                scalars.push(("train/vicreg_covariance", losses.covariance));
            }
            AntiCollapse::Ema { .. } | AntiCollapse::None => {}
        }
        let board = &mut self.board;
        for (tag, value) in scalars {
            board.scalar(tag, f64::from(value), step)?;
        }
        let frames_per_s = samples_per_s * self.config.window_frames() as f64;
        board.scalar("train/lr", lr, step)?;
        board.scalar("perf/samples_per_s", samples_per_s, step)?;
        board.scalar("perf/frames_per_s", frames_per_s, step)?;
        Ok(())
    }

    /// A validation report's scalars, flushed so that they survive a kill.
    fn log_evaluation(&mut self, report: &EvalReport) -> Result<(), WorldModelError> {
        let (board, s) = (&mut self.board, report.step);
        board.scalar("val/loss_pred", report.loss_pred, s)?;
        board.scalar("val/loss_no_change", report.loss_no_change, s)?;
        for (horizon, error) in &report.rollout_error {
            board.scalar(&format!("val/rollout_error_h{horizon}"), *error, s)?;
        }
        board.scalar("repr/latent_std", report.latent_std, s)?;
        board.scalar("repr/effective_rank", report.effective_rank, s)?;
        board.scalar("repr/probe_r2", report.probe.mean(), s)?;
        board.flush()?;
        Ok(())
    }

    /// Flushes the event file.
    fn finish(mut self) -> Result<(), WorldModelError> {
        self.board.flush()?;
        Ok(())
    }
}
