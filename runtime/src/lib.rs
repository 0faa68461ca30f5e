//! Prefrontal's runtime: the library under every front end. The `prefrontal` CLI and the
//! windowed viewer (and the Python module to come) call the same functions here to collect data, train
//! and probe a world model, evaluate an agent against its baselines, run an experiment file's
//! stages and compare runs. Long work reports progress as [`Event`]s to a callback, so each
//! front end draws its own progress; [`on_device`] picks the Burn backend a [`Device`] names.
//!
//! What is `pub` here is the front ends' API; the crates below (`sim`, `worldmodel`,
//! `agent`, `dataset`, `board`) stay usable on their own.

pub mod backend;
pub mod collect;
pub mod compare;
pub mod error;
pub mod evaluate;
pub mod events;
pub mod experiment;
pub mod runner;
pub mod source;
pub mod sweep;
pub mod train;

pub use backend::{BackendTask, UnavailableBackend, check_device, on_device};
pub use collect::{CollectRequest, collect, collect_in};
pub use compare::{compare_runs, find_runs};
pub use error::{ResultExt, RuntimeError};
pub use evaluate::{EvalRequest, evaluate, run_suite};
pub use events::{Event, Observer};
pub use experiment::{Experiment, ExperimentError, RunSummary, Stage};
pub use prefrontal_worldmodel::{Device, DeviceKind};
pub use runner::{PreparedExperiment, RunOptions};
pub use source::{AgentSource, load_run};
pub use sweep::{Axis, Sweep, SweepRun};
pub use train::{probe, train};
