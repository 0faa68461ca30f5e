//! What the window shows, as plain data: the driver writes it after every step, the
//! stage, the overlays and the HUD read it.

use bevy::math::Vec3;
use bevy::prelude::Resource;
use bevy::transform::components::Transform;
use prefrontal_agent::PlannerKind;
use prefrontal_sim::Frame;

/// Who chooses the actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pilot {
    /// The planning agent.
    #[default]
    Agent,
    /// The keyboard.
    Manual,
}

/// Everything on screen that comes from the simulation and the agent.
#[derive(Resource, Debug, Default)]
pub struct ViewState {
    /// Scene name, for the title.
    pub scene: String,
    /// Checkpoint folder, for the title.
    pub checkpoint: Option<String>,
    /// How goals are chosen and the step budget.
    pub protocol: String,
    /// Pose of every scene body.
    pub poses: Vec<Transform>,
    /// Pose of every scene body in the goal configuration.
    pub goal_poses: Vec<Transform>,
    /// Goal position of every task target with its position tolerance (m).
    pub goal_targets: Vec<(Vec3, f32)>,
    /// Control step of the episode.
    pub step: u32,
    /// Episodes started.
    pub episodes: u64,
    /// The episode's seed.
    pub seed: u64,
    /// Every target within tolerance.
    pub success: bool,
    /// Summed distance of the targets from their goals (m).
    pub distance: f32,
    /// How the last episode ended, while it stays on screen.
    pub outcome: Option<String>,
    /// Who acts.
    pub pilot: Pilot,
    /// The simulation clock stands still.
    pub paused: bool,
    /// Simulation speed as a multiple of real time.
    pub speed: f32,
    /// The planner in use, when there is an agent.
    pub planner: Option<PlannerKind>,
    /// Energy of the current plan.
    pub energy: Option<f32>,
    /// Wall-clock milliseconds the current plan took.
    pub plan_ms: Option<f64>,
    /// Plans installed per second, over the last two seconds.
    pub plans_per_second: f32,
    /// Plans installed since the start.
    pub plans: u64,
    /// Lowest energy of each iteration of the current plan's search.
    pub trace: Vec<f32>,
    /// Per drawn body, its path through the current plan's imagined latents (decoded by
    /// the probe), one point per model step from where the plan started.
    pub imagined: Vec<Vec<Vec3>>,
    /// The same bodies' paths when the simulator replays the plan's actions.
    pub simulated: Vec<Vec<Vec3>>,
    /// Per plan, the mean distance between where its imagined and simulated paths end (m):
    /// the model's error over the plan's horizon.
    pub path_gaps: Vec<f32>,
    /// The agent's latest camera frame, as the model sees it.
    pub frame: Option<Frame>,
    /// Bumped whenever `frame` changes.
    pub frame_version: u64,
    /// The goal's camera frame.
    pub goal_frame: Option<Frame>,
    /// The keyboard's action (the middle of the bounds when no key is held), set every frame
    /// before the simulation steps.
    pub manual: Vec<f32>,
    /// A message for the user (a refused request, a missing probe).
    pub note: Option<String>,
    /// Frames drawn.
    pub frames: u64,
    /// Fewest frames drawn while one background plan was pending.
    pub fewest_frames_per_plan: Option<u32>,
}

impl ViewState {
    /// Forgets the current plan (a new episode, goal or planner).
    pub fn clear_plan(&mut self) {
        self.energy = None;
        self.plan_ms = None;
        self.trace.clear();
        self.imagined.clear();
        self.simulated.clear();
    }
}
