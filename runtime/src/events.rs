//! Progress of long work as events: the runtime reports, each front end draws (the CLI as
//! progress bars and lines; another front end its own way).

use std::path::Path;

use prefrontal_agent::SuiteEvent;
use prefrontal_agent::eval::EvalSummary;
use prefrontal_worldmodel::TrainEvent;

use crate::experiment::{ProbeFacts, RunSummary, Stage};

/// Something the runtime reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    /// A collection of `total` episodes starts.
    CollectStarted {
        /// Episodes to record.
        total: usize,
    },
    /// Episodes were written (`done` of the collection's total so far).
    Collected {
        /// Episodes written so far.
        done: usize,
        /// The policy recording them.
        policy: &'static str,
    },
    /// The collection finished.
    CollectFinished,
    /// Training progress.
    Train(&'a TrainEvent),
    /// Training returned (finished, or stopped early with a checkpoint).
    TrainFinished,
    /// Evaluation progress: a contender started, finished an episode, finished or was skipped.
    Suite(SuiteEvent<'a>),
    /// Every contender of an evaluation finished.
    Evaluated(&'a [EvalSummary]),
    /// A run seed of an experiment starts, in `dir`.
    RunStarted {
        /// The experiment's name.
        experiment: &'a str,
        /// The run seed.
        seed: u64,
        /// The run's folder.
        dir: &'a Path,
    },
    /// An experiment stage is up to date and skipped.
    StageSkipped(Stage),
    /// An experiment stage starts.
    StageStarted(Stage),
    /// An experiment stage finished after `seconds`.
    StageFinished {
        /// The stage.
        stage: Stage,
        /// Its wall time.
        seconds: f64,
    },
    /// The probe stage measured the world model.
    Probed(&'a ProbeFacts),
    /// A run seed finished all its stages.
    RunFinished(&'a RunSummary),
    /// Something the user should know, as one line.
    Notice(String),
}

/// Where events go: any `FnMut(Event)`.
pub type Observer<'o> = &'o mut dyn FnMut(Event<'_>);
