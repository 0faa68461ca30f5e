//! The runtime's one error type: each lower crate's errors, plus what the runtime itself
//! refuses, with the context the user needs (which file, which field, which stage).

use std::fmt::Display;

use crate::backend::UnavailableBackend;
use crate::experiment::ExperimentError;

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An experiment file, its references or a file a run wrote.
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    /// A RON config cannot be read or used.
    #[error(transparent)]
    Config(#[from] prefrontal_ronfile::ConfigError),
    /// A scene file cannot be read or used.
    #[error(transparent)]
    Scene(#[from] prefrontal_sim::SceneError),
    /// The simulation refused a call.
    #[error(transparent)]
    Sim(#[from] prefrontal_sim::SimError),
    /// Recording episodes failed.
    #[error(transparent)]
    Collect(#[from] prefrontal_sim::collect::CollectError),
    /// A dataset cannot be read.
    #[error(transparent)]
    Dataset(#[from] prefrontal_dataset::DatasetError),
    /// Training, a checkpoint or a probe failed.
    #[error(transparent)]
    WorldModel(#[from] prefrontal_worldmodel::WorldModelError),
    /// Planning or evaluation failed.
    #[error(transparent)]
    Agent(#[from] prefrontal_agent::AgentError),
    /// A TensorBoard event could not be written.
    #[error(transparent)]
    Board(#[from] prefrontal_board::BoardError),
    /// This build lacks the backend a device names.
    #[error(transparent)]
    Backend(#[from] UnavailableBackend),
    /// A file-system call failed (the context names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An input the runtime cannot use, said in a full sentence.
    #[error("{0}")]
    Invalid(String),
    /// Another error, with what was being done when it happened.
    #[error("{context}")]
    Context {
        /// What was being done (e.g. `reading runs/x/summary.json`).
        context: String,
        /// What went wrong.
        #[source]
        source: Box<RuntimeError>,
    },
}

impl RuntimeError {
    /// An input the runtime cannot use.
    pub fn invalid(message: impl Display) -> Self {
        RuntimeError::Invalid(message.to_string())
    }
}

/// Adds context to a failed result, as `anyhow::Context` does at the CLI.
pub trait ResultExt<T> {
    /// Wraps an error with what was being done.
    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T, RuntimeError>;
}

impl<T, E: Into<RuntimeError>> ResultExt<T> for Result<T, E> {
    fn with_context<C: Display>(self, context: impl FnOnce() -> C) -> Result<T, RuntimeError> {
        self.map_err(|error| RuntimeError::Context {
            context: context().to_string(),
            source: Box::new(error.into()),
        })
    }
}
