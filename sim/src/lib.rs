//! Prefrontal's simulation: scenes written in RON become Rapier worlds inside a Bevy ECS,
//! stepped through a Gymnasium-shaped `Env` / `VecEnv` API.
//!
//! This crate never depends on Burn: tensors live in the world-model and agent crates.

pub mod collect;
pub mod env;
pub mod frame;
pub mod kinematics;
pub mod load;
pub mod observation;
pub mod policy;
pub mod render;
pub mod scene;
pub mod task;
pub mod world;

pub use env::{Action, BoxSpace, Env, Info, ObservationSpace, SimError, Step, VecEnv};
pub use frame::Frame;
pub use load::{Location, SceneError};
pub use observation::Observation;
pub use render::RenderOptions;
pub use scene::Scene;
pub use task::{Goal, Progress, StartGoal};
pub use world::{SimPlugin, SimSystems, SimWorlds};
