//! Prefrontal's world model: an action-conditioned JEPA in Burn.
//!
//! Frames are encoded to latents, a predictor maps (latent history, action) to the next
//! latent, and training minimises prediction error in latent space (teacher forcing plus
//! an open-loop rollout loss) while SIGReg, VICReg or an EMA target keeps the latents from
//! collapsing. Nothing here depends on Bevy: data arrive as recorded datasets.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod evaluate;
pub mod imagine;
pub mod metrics;
pub mod model;
pub mod objective;
pub mod parallel;
pub mod train;
pub mod trainer;

use std::path::PathBuf;

pub use checkpoint::Checkpoint;
pub use config::WorldModelConfig;
pub use data::{DataSpec, EpisodeSet};
pub use device::{Device, DeviceKind};
pub use evaluate::{EvalReport, evaluate};
pub use metrics::LinearProbe;
pub use model::WorldModel;
pub use prefrontal_ronfile::{ConfigError, RonConfig};
pub use train::{Learner, TrainEvent, TrainOptions, TrainSummary, train};
pub use trainer::Trainer;

/// Why a world-model operation failed; every variant names the file or folder concerned.
#[derive(Debug, thiserror::Error)]
pub enum WorldModelError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A TensorBoard event could not be written.
    #[error(transparent)]
    Board(#[from] prefrontal_board::BoardError),
    /// A config file cannot be read or used.
    #[error(transparent)]
    Config(#[from] prefrontal_ronfile::ConfigError),
    /// The dataset cannot be read.
    #[error(transparent)]
    Dataset(#[from] prefrontal_dataset::DatasetError),
    /// The dataset can be read but cannot be trained on.
    #[error("{}: {message}", path.display())]
    Data {
        /// The dataset folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint is missing, corrupt or of another format.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint's model was built for data of another shape.
    #[error("{} does not fit the data in {}: {message}", checkpoint.display(), data.display())]
    Incompatible {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// The dataset folder.
        data: PathBuf,
        /// The differences.
        message: String,
    },
    /// A resumed run was given a config that differs from its checkpoint's.
    #[error(
        "the given config differs from the one in {} (only training.steps and training.workers may change on resume; omit --config to use the checkpoint's)",
        checkpoint.display()
    )]
    ConfigMismatch {
        /// The checkpoint folder.
        checkpoint: PathBuf,
    },
    /// A new run would overwrite an existing one.
    #[error(
        "{} already holds a run (latest checkpoint {}); pass --resume to continue it or choose another --out",
        out.display(),
        checkpoint.display()
    )]
    RunExists {
        /// The run folder.
        out: PathBuf,
        /// Its latest checkpoint.
        checkpoint: PathBuf,
    },
    /// A new run needs a config.
    #[error("a new run needs a config (--config FILE)")]
    NoConfig,
    /// The data-parallel workers asked for cannot share a batch or lack a device.
    #[error("training.workers: {message}")]
    Workers {
        /// What is wrong.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error(
        "training diverged at step {step}: loss is {loss}; lower the learning rate or enable gradient clipping"
    )]
    Diverged {
        /// The step.
        step: u64,
        /// The loss.
        loss: f32,
    },
}
