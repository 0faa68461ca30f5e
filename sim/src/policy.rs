//! Action sources that need no world model: baselines and data collection.

use bevy::math::Vec2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::env::{Action, BoxSpace, SimError, VecEnv};
use crate::kinematics::wrap_angle;
use crate::scene::Actuator;
use crate::task::{Goal, StartGoal};
use crate::world::SimWorlds;

/// Independent uniform actions within the action space's bounds, seeded.
#[derive(Debug, Clone)]
pub struct RandomPolicy {
    rng: ChaCha8Rng,
    low: Vec<f32>,
    high: Vec<f32>,
}

impl RandomPolicy {
    /// A policy over `space` whose action sequence is fixed by `seed`.
    pub fn new(space: &BoxSpace, seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            low: space.low.clone(),
            high: space.high.clone(),
        }
    }

    /// The next action.
    pub fn act(&mut self) -> Action {
        Action(
            self.low
                .iter()
                .zip(&self.high)
                .map(|(&lo, &hi)| self.rng.random_range(lo..=hi))
                .collect(),
        )
    }
}

/// Ornstein–Uhlenbeck noise in normalised action units (`[-1, 1]` spans the bounds):
/// `x ← x − θ·x + σ·ε`, ε ~ N(0, 1), so consecutive actions are correlated.
#[derive(Debug, Clone)]
struct OrnsteinUhlenbeck {
    rng: ChaCha8Rng,
    state: Vec<f32>,
    theta: f32,
    sigma: f32,
}

impl OrnsteinUhlenbeck {
    fn new(dim: usize, seed: u64, theta: f32, sigma: f32) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            state: vec![0.0; dim],
            theta,
            sigma,
        }
    }

    fn next(&mut self) -> &[f32] {
        for x in &mut self.state {
            let noise: f32 = self.rng.sample(StandardNormal);
            *x += -self.theta * *x + self.sigma * noise;
        }
        &self.state
    }
}

/// The collection-policy registry: every action source that needs no model, the one list
/// from which the CLI's `--policy` values and the experiment files' `data.policy` names are
/// derived. A new policy is a variant here, its name and description below, and its
/// actions in [`Policy::act`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PolicyKind {
    /// Independent uniform actions.
    Random,
    /// Temporally correlated exploration: Ornstein–Uhlenbeck noise (θ 0.15, σ 0.3).
    Smooth,
    /// A privileged-state controller that drives toward the goal (through the task's
    /// waypoints, or pushing the target body), with a little correlated noise.
    Scripted,
}

impl PolicyKind {
    /// Every policy.
    pub const ALL: [PolicyKind; 3] = [PolicyKind::Random, PolicyKind::Smooth, PolicyKind::Scripted];

    /// One line on how it acts.
    pub fn about(self) -> &'static str {
        match self {
            PolicyKind::Random => "Independent uniform actions within the bounds",
            PolicyKind::Smooth => "Temporally correlated (Ornstein–Uhlenbeck) exploration",
            PolicyKind::Scripted => {
                "A privileged controller that drives toward goals, with a little noise"
            }
        }
    }

    /// Lower-case name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Random => "random",
            PolicyKind::Smooth => "smooth",
            PolicyKind::Scripted => "scripted",
        }
    }
}

/// The episode that starts as episode `seed` of world 0 of `env` and whose goal is where
/// the scripted controller has taken that world `offset` steps later (the papers'
/// trajectory-offset goals), with the actions it took: replaying them from the start
/// reaches the goal. Leaves world 0 at the goal, its episodes ending as usual.
pub fn offset_episode(
    env: &mut VecEnv,
    seed: u64,
    offset: u32,
) -> Result<(StartGoal, Vec<Action>), SimError> {
    env.reset_env(0, seed)?;
    let start = env.sim().slot(0).expect("reset").episode.start.clone();
    let mut policy = Policy::new(PolicyKind::Scripted, &env.action_space(), seed);
    let mut actions = Vec::with_capacity(offset as usize);
    env.set_endless(true);
    let stepped = (0..offset).try_for_each(|_| -> Result<(), SimError> {
        let action = policy.act(env.sim(), 0);
        env.step(std::slice::from_ref(&action))?;
        actions.push(action);
        Ok(())
    });
    env.set_endless(false);
    stepped?;
    let sim = env.sim();
    let configuration = env.configuration(0)?;
    let goal = Goal::at(sim.scene(), sim.kinematics(), configuration);
    Ok((StartGoal { seed, start, goal }, actions))
}

/// Distance (m) behind the pushed body where a scripted pusher lines up.
const PUSH_STANDOFF: f32 = 0.28;
/// How close (m) counts as having reached a waypoint or a line-up point.
const NEAR: f32 = 0.08;

/// A seeded action source for one world; reseed it for every episode.
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    low: Vec<f32>,
    high: Vec<f32>,
    uniform: RandomPolicy,
    noise: OrnsteinUhlenbeck,
    /// Next waypoint of the scripted controller.
    waypoint: usize,
}

impl Policy {
    /// A policy of `kind` over `space`, seeded.
    pub fn new(kind: PolicyKind, space: &BoxSpace, seed: u64) -> Self {
        let sigma = if kind == PolicyKind::Scripted {
            0.1
        } else {
            0.3
        };
        Self {
            kind,
            low: space.low.clone(),
            high: space.high.clone(),
            uniform: RandomPolicy::new(space, seed),
            noise: OrnsteinUhlenbeck::new(space.dim(), seed ^ 0x5eed, 0.15, sigma),
            waypoint: 0,
        }
    }

    /// Starts a new episode: the scripted controller heads for its first waypoint again and
    /// the exploration noise starts at rest; the random streams go on.
    pub fn restart(&mut self) {
        self.waypoint = 0;
        self.noise.state.fill(0.0);
    }

    /// The action for world `world` of `sim` in its current state.
    pub fn act(&mut self, sim: &SimWorlds, world: usize) -> Action {
        if self.kind == PolicyKind::Random {
            return self.uniform.act();
        }
        let noise = self.noise.next().to_vec();
        let mut action = match self.kind {
            PolicyKind::Scripted => self.scripted(sim, world),
            // Smooth exploration wanders around the middle of the bounds.
            _ => (0..noise.len())
                .map(|i| (self.high[i] + self.low[i]) / 2.0)
                .collect(),
        };
        for (i, a) in action.iter_mut().enumerate() {
            let half_range = (self.high[i] - self.low[i]) / 2.0;
            *a = (*a + half_range * noise[i]).clamp(self.low[i], self.high[i]);
        }
        Action(action)
    }

    /// The controller's action, before noise and clipping.
    fn scripted(&mut self, sim: &SimWorlds, world: usize) -> Vec<f32> {
        let scene = sim.scene();
        let Some(slot) = sim.slot(world) else {
            return vec![0.0; self.low.len()];
        };
        let goal = &slot.episode.goal;
        let planar = |body: usize| {
            let (p, v) = (slot.poses[body].translation, slot.velocities[body].linear);
            (Vec2::new(p.x, p.z), Vec2::new(v.x, v.z))
        };
        let body_index = |name: &str| scene.body_index(name).expect("validated");
        let mut action = Vec::with_capacity(self.low.len());
        for actuator in &scene.embodiment.actuators {
            match actuator {
                Actuator::PlanarForce { body, scale }
                | Actuator::PlanarVelocity { body, scale } => {
                    let (position, velocity) = planar(body_index(body));
                    let desired = match scene.task.targets.iter().position(|t| &t.body == body) {
                        Some(target) => {
                            let goal = goal.targets[target].position;
                            self.via_waypoints(
                                position,
                                Vec2::new(goal.x, goal.z),
                                &scene.task.waypoints,
                            )
                        }
                        None => {
                            // Line up behind the first target's body, then push it goalward.
                            let target = &scene.task.targets[0];
                            let (object, _) = planar(body_index(&target.body));
                            let goal = goal.targets[0].position;
                            let direction =
                                (Vec2::new(goal.x, goal.z) - object).normalize_or_zero();
                            let behind = object - direction * PUSH_STANDOFF;
                            if position.distance(behind) > NEAR {
                                behind
                            } else {
                                object + direction * PUSH_STANDOFF
                            }
                        }
                    };
                    let command = match actuator {
                        Actuator::PlanarForce { .. } => (desired - position) * 4.0 - velocity,
                        _ => (desired - position) * 4.0 / *scale,
                    };
                    action.extend([command.x, command.y]);
                }
                Actuator::JointVelocity { joint, scale }
                | Actuator::JointTorque { joint, scale } => {
                    let index = scene.joint_index(joint).expect("validated");
                    let spec = &scene.joints[index];
                    let (parent, child) = (body_index(&spec.parent), body_index(&spec.child));
                    let angle = sim.kinematics().joint_angle(
                        index,
                        slot.poses[parent].rotation,
                        slot.poses[child].rotation,
                    );
                    let target = goal
                        .configuration
                        .joints
                        .iter()
                        .find(|(j, _)| *j == index)
                        .map_or(0.0, |(_, a)| *a);
                    action.push(3.0 * wrap_angle(target - angle) / *scale);
                }
            }
        }
        action
    }

    /// The next point on the way to `goal`: the first waypoint not yet reached, then the goal.
    fn via_waypoints(&mut self, position: Vec2, goal: Vec2, waypoints: &[(f32, f32)]) -> Vec2 {
        while let Some(&(x, z)) = waypoints.get(self.waypoint) {
            let waypoint = Vec2::new(x, z);
            if position.distance(waypoint) > NEAR {
                return waypoint;
            }
            self.waypoint += 1;
        }
        goal
    }
}
