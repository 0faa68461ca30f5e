//! Episodes: seeded start and goal sampling, success and dense reward.

use bevy::math::Vec3;
use bevy::transform::components::Transform;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::kinematics::{Configuration, Kinematics, Placement, wrap_angle, yaw_of};
use crate::scene::{ConfigurationSampler, Scene, Target};

/// Draws tried before sampling gives up on a scene's separation and distance constraints.
const MAX_DRAWS: usize = 1000;

/// Where a target point must end up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetPose {
    /// Goal position of the target point.
    pub position: Vec3,
    /// Goal yaw of the target body, when the target constrains it.
    pub yaw: Option<f32>,
}

/// The goal of an episode: the configuration a goal image shows, and the target poses
/// that decide success.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// The world at its goal.
    pub configuration: Configuration,
    /// One pose per `task.targets` entry.
    pub targets: Vec<TargetPose>,
}

impl Goal {
    /// The goal of bringing the world into `configuration`.
    pub fn at(scene: &Scene, kinematics: &Kinematics, configuration: Configuration) -> Goal {
        let targets = target_poses(scene, &kinematics.poses(&configuration));
        Goal {
            configuration,
            targets,
        }
    }
}

/// A sampled episode.
#[derive(Debug, Clone, PartialEq)]
pub struct StartGoal {
    /// The seed it was sampled from.
    pub seed: u64,
    /// The start configuration.
    pub start: Configuration,
    /// The goal.
    pub goal: Goal,
}

/// How far a world is from its goal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Every target is within its tolerances.
    pub success: bool,
    /// Summed distance of target points from their goal positions (m).
    pub distance: f32,
    /// Dense reward: minus the summed target errors, yaw converted to metres.
    pub reward: f32,
}

/// Seed of the `episode`-th episode after a reset with `seed` (the reset itself is episode 0
/// and uses `seed` unchanged). Used by auto-reset.
pub fn episode_seed(seed: u64, episode: u64) -> u64 {
    if episode == 0 {
        return seed;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(episode);
    rng.next_u64()
}

/// The scene could not produce an episode satisfying its own constraints.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "scene \"{scene}\": no {what} satisfying the task's constraints in {MAX_DRAWS} draws (seed {seed}); widen the sampling ranges or lower min_goal_distance / min_body_separation"
)]
pub struct SamplingError {
    /// The scene's name.
    pub scene: String,
    /// `"start"` or `"goal"`.
    pub what: &'static str,
    /// The episode seed.
    pub seed: u64,
}

fn draw(rng: &mut ChaCha8Rng, (lo, hi): (f32, f32)) -> f32 {
    if lo == hi {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

fn draw_into(
    scene: &Scene,
    sampler: &ConfigurationSampler,
    rng: &mut ChaCha8Rng,
    configuration: &mut Configuration,
) {
    for placement in &sampler.bodies {
        let body = scene.body_index(&placement.body).expect("validated");
        let sampled = Placement {
            body,
            x: draw(rng, placement.x),
            z: draw(rng, placement.z),
            yaw: placement.yaw.map_or(0.0, |range| draw(rng, range)),
        };
        configuration.bodies.retain(|p| p.body != body);
        configuration.bodies.push(sampled);
    }
    for sample in &sampler.joints {
        let joint = scene.joint_index(&sample.joint).expect("validated");
        let angle = draw(rng, sample.angle);
        configuration.joints.retain(|(j, _)| *j != joint);
        configuration.joints.push((joint, angle));
    }
}

fn separated(configuration: &Configuration, min: f32) -> bool {
    let placed = &configuration.bodies;
    placed.iter().enumerate().all(|(i, a)| {
        placed[i + 1..]
            .iter()
            .all(|b| (a.x - b.x).hypot(a.z - b.z) >= min)
    })
}

/// Samples the start and goal of the episode with this seed.
pub fn sample_episode(
    scene: &Scene,
    kinematics: &Kinematics,
    seed: u64,
) -> Result<StartGoal, SamplingError> {
    let task = &scene.task;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let failure = |what| SamplingError {
        scene: scene.name.clone(),
        what,
        seed,
    };
    let start = (0..MAX_DRAWS)
        .map(|_| {
            let mut start = Configuration::default();
            draw_into(scene, &task.start, &mut rng, &mut start);
            start
        })
        .find(|c| separated(c, task.min_body_separation))
        .ok_or_else(|| failure("start"))?;
    let start_poses = kinematics.poses(&start);
    for _ in 0..MAX_DRAWS {
        let mut configuration = start.clone();
        draw_into(scene, &task.goal, &mut rng, &mut configuration);
        if !separated(&configuration, task.min_body_separation) {
            continue;
        }
        let goal = Goal::at(scene, kinematics, configuration);
        if progress(scene, &goal, &start_poses).distance >= task.min_goal_distance {
            return Ok(StartGoal { seed, start, goal });
        }
    }
    Err(failure("goal"))
}

fn target_point(target: &Target, pose: &Transform) -> Vec3 {
    pose.translation + pose.rotation * Vec3::from(target.offset)
}

/// Target poses of the task's targets with all bodies at `poses`.
pub fn target_poses(scene: &Scene, poses: &[Transform]) -> Vec<TargetPose> {
    scene
        .task
        .targets
        .iter()
        .map(|target| {
            let pose = &poses[scene.body_index(&target.body).expect("validated")];
            TargetPose {
                position: target_point(target, pose),
                yaw: target.yaw_tolerance.map(|_| yaw_of(pose.rotation)),
            }
        })
        .collect()
}

/// How far bodies at `poses` are from the goal.
pub fn progress(scene: &Scene, goal: &Goal, poses: &[Transform]) -> Progress {
    let mut result = Progress {
        success: true,
        distance: 0.0,
        reward: 0.0,
    };
    for (target, goal_pose) in scene.task.targets.iter().zip(&goal.targets) {
        let pose = &poses[scene.body_index(&target.body).expect("validated")];
        let error = target_point(target, pose).distance(goal_pose.position);
        result.distance += error;
        result.reward -= error;
        result.success &= error <= target.position_tolerance;
        if let (Some(goal_yaw), Some(tolerance)) = (goal_pose.yaw, target.yaw_tolerance) {
            let yaw_error = wrap_angle(yaw_of(pose.rotation) - goal_yaw).abs();
            result.reward -= yaw_error * target.position_tolerance / tolerance;
            result.success &= yaw_error <= tolerance;
        }
    }
    result
}
