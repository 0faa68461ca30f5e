//! Experiment files: one RON file describes a reproducible run — the scene, the data, the
//! world model and its training, the agent, the evaluation protocol and the seeds that
//! repeat it. This module reads such files (configs by path or inline, `--set` overrides),
//! fingerprints each stage's inputs so that finished stages are skipped, and writes and
//! compares what runs found; [`crate::runner`] executes the stages.

pub mod overrides;
pub mod report;
pub mod spec;
pub mod stages;

use std::path::{Path, PathBuf};

pub use report::{DataFacts, ProbeFacts, ProtocolFacts, RunSummary, compare, hparams};
pub use spec::{
    DataConfig, EvaluationConfig, Experiment, ExperimentFile, Exploration, Seeded, Source, Spec,
    TrainingStage,
};
pub use stages::{Fingerprints, RunLayout, Stage, StageLog, StageRecord, StageState};

/// Why an experiment could not be loaded, run or summarised.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The experiment file or a config it references cannot be read or used.
    #[error(transparent)]
    Config(#[from] prefrontal_ronfile::ConfigError),
    /// A config the experiment references cannot be read or used.
    #[error("{}: {field}: {source}", file.display())]
    Referenced {
        /// The experiment file.
        file: PathBuf,
        /// The field that references it (`world_model`, `agent`).
        field: String,
        /// What is wrong with the config.
        source: prefrontal_ronfile::ConfigError,
    },
    /// A `--set` assignment does not apply.
    #[error("{}: --set {assignment}: {message}", file.display())]
    Override {
        /// The experiment file.
        file: PathBuf,
        /// The assignment as given.
        assignment: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file the run wrote earlier cannot be read.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a kill never
/// leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExperimentError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ExperimentError::Io { path, source }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).map_err(io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io(path))
}

/// Reads a JSON file the run wrote earlier.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|source| ExperimentError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ExperimentError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })
}
