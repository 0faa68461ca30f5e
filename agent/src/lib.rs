//! Prefrontal's agent: it imagines with a world model and acts in the simulator.
//!
//! Each control decision encodes the current frame and the goal frame, searches action
//! sequences whose imagined latent trajectory ends near the goal latent (CEM, MPPI or
//! gradient descent), applies the first action(s) and replans (MPC). [`AgentPlugin`] runs
//! this inside the simulation's Bevy `FixedUpdate` schedule, in lockstep (deterministic,
//! for evaluation) or in real time (planning on a plain thread per plan).
//!
//! Tensors exist only inside [`JobPlanner::plan`] and the models: no ECS component or
//! resource state the simulation reads holds one.

pub mod config;
pub mod control;
pub mod eval;
pub mod model;
pub mod oracle;
pub mod planner;
pub mod plugin;
pub mod suite;

use std::path::PathBuf;

pub use config::{AgentConfig, Energy, PlannerConfig, PlannerKind};
pub use control::{Controller, JobPlanner, PlanJob};
pub use model::{JepaModel, LatentModel, LatentSpec, LinearModel};
pub use oracle::SimulatorModel;
pub use planner::{Bounds, Plan, PlanRequest, Planner, build_planner, sampling_planner};
pub use plugin::{AgentMode, AgentPlugin, AgentSystems, Agents, PlanRecord};
pub use prefrontal_ronfile::RonConfig;
pub use suite::{Baseline, Suite, SuiteEvent};

/// Why the agent could not plan or act.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
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
    /// An agent config cannot be read or used.
    #[error(transparent)]
    Config(#[from] prefrontal_ronfile::ConfigError),
    /// The checkpoint cannot be loaded.
    #[error(transparent)]
    WorldModel(#[from] prefrontal_worldmodel::WorldModelError),
    /// The simulation refused a call.
    #[error(transparent)]
    Sim(#[from] prefrontal_sim::SimError),
    /// The checkpoint's model does not fit the scene or its observations.
    #[error("{} cannot plan here: {message}", checkpoint.display())]
    Incompatible {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// What differs.
        message: String,
    },
    /// A world model needs frames but the environment renders none.
    #[error("the observation has no camera frame: a world model needs a rendered environment")]
    NoFrame,
    /// A state-based model reads a component the observation lacks.
    #[error("the model reads state component {component}, the observation has {len}")]
    NoState {
        /// The component index.
        component: usize,
        /// The observation's state length.
        len: usize,
    },
    /// The model produced NaN or infinity.
    #[error(
        "the model's predictions are not finite (an energy or gradient of {value}): its weights or inputs hold NaN or infinity"
    )]
    NonFinite {
        /// The offending value.
        value: f32,
    },
    /// The gradient planner got no gradient through the model.
    #[error(
        "the gradient planner needs a differentiable model; this one (e.g. the simulator oracle) gives no gradient"
    )]
    NotDifferentiable,
    /// Too few episodes satisfy the requested difficulty.
    #[error(
        "scene \"{scene}\": only {found} of {wanted} episodes have a start-to-goal distance in [{low}, {high}] and a start short of their goal; widen the range"
    )]
    Episodes {
        /// The scene.
        scene: String,
        /// Episodes asked for.
        wanted: usize,
        /// Episodes found within the tries.
        found: usize,
        /// Lowest distance.
        low: f32,
        /// Highest distance.
        high: f32,
    },
}
